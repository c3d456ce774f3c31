"""Deployments under faults: `kill -9` mid-canary under keep-alive load, two deploys at once, bindings.

One staging environment (real compose, real nginx router) for the module; every step goes
through the real `runner` command line, as a user (or the pipeline) runs it.
"""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.codedeploy import ImageRef
from runner.store import Store
from runner.store.deployments import env_state, get_deployment, list_deployments
from tests.integration.deploy.helpers import Load, build_app, free_ports, get, write_project
from tests.reliability.helpers import run_cli, spawn, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PIPELINE = """\
app: {app}
time_scale: 600
services:
  web:
    path: web
    health_timeout: 10s
environments:
  - name: staging
    port: {port}
    test_port: {test_port}
    termination_wait: 0s
"""
REFUSED = "runner: error: The Deployment Group 'staging' already has an active Deployment 'd-"


@dataclass(frozen=True)
class Staging:
    root: Path
    home: Path
    port: int
    test_port: int
    app: str
    v1: ImageRef
    v2: ImageRef

    def store(self) -> Store:
        return Store(self.home / "state.db")

    def deploy(self, image: ImageRef, *extra: str) -> subprocess.CompletedProcess[str]:
        return run_cli(
            "deploy", "staging", "web", image.tag, "--no-wait", *extra, cwd=self.root, home=self.home
        )

    def live_version(self) -> str:
        status, body = get(self.port, "/web/version")
        assert status == 200, body
        return str(body["version"])

    def other(self) -> ImageRef:
        return self.v2 if self.live_version() == "1" else self.v1


@pytest.fixture(scope="module")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Staging]:
    root = tmp_path_factory.mktemp("deploy-crash")
    port, test_port = free_ports(2)
    app = f"rel{uuid.uuid4().hex[:6]}"
    write_project(root / "repo", PIPELINE.format(app=app, port=port, test_port=test_port))
    (root / "repo" / "web").mkdir()
    repo = f"{app}-web"
    env = Staging(
        root / "repo",
        root / "home",
        port,
        test_port,
        app,
        build_app(f"{repo}:1a1a1a1a1a1a", "1"),
        build_app(f"{repo}:2b2b2b2b2b2b", "2"),
    )
    first = env.deploy(env.v1)
    assert first.returncode == 0, first.stdout + first.stderr
    try:
        yield env
    finally:
        down = run_cli("down", "staging", cwd=env.root, home=env.home)
        assert down.returncode == 0, down.stderr


def project_containers(app: str) -> dict[str, str]:
    """Service name → state of the staging compose project's containers."""
    out = subprocess.run(
        [
            "docker",
            "ps",
            "-a",
            "--filter",
            f"label=com.docker.compose.project={app}-staging",
            "--format",
            '{{.Label "com.docker.compose.service"}} {{.State}}',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def test_router_ports_bind_to_loopback_only(staging: Staging) -> None:
    out = subprocess.run(
        [
            "docker",
            "ps",
            "--filter",
            f"label=com.docker.compose.project={staging.app}-staging",
            "--format",
            '{{.Label "com.docker.compose.service"}}\t{{.Ports}}',
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    ports = dict(line.split("\t") for line in out.splitlines())
    published = [p.strip() for p in ports.pop("router").split(",")]
    assert sorted(published) == sorted(
        f"127.0.0.1:{p}->{inner}/tcp" for p, inner in ((staging.port, 80), (staging.test_port, 81))
    )
    assert all(not p for p in ports.values()), ports  # slots publish nothing


def test_kill_9_mid_canary_keeps_serving_and_is_repaired(staging: Staging, tmp_path: Path) -> None:
    before, target = staging.live_version(), staging.other()
    load = Load(staging.port, "/web/version", rate=200, connections=5).start()
    try:
        runner = spawn(
            "deploy",
            "staging",
            "web",
            target.tag,
            "--strategy",
            "canary:10:600m",  # 10 % for 60 s (time_scale 600): killed during that wait
            "--no-wait",
            cwd=staging.root,
            home=staging.home,
            log=tmp_path / "deploy.log",
        )
        store = staging.store()
        try:
            wait_for(lambda: len(env_state(store, "staging", "web").weights) == 2, what="the canary")
            deployment = list_deployments(store, "staging", "web", limit=1)[0]
            wait_for(
                lambda: target_version(staging, target) in {r[2] for r in list(load.results)}, what="10 %"
            )
        finally:
            runner.kill()  # SIGKILL
            runner.wait(30)
            store.close()
        killed = time.time()
        time.sleep(3)  # the runner is dead; the router keeps serving at 90/10
        status = run_cli("status", "staging", "--json", cwd=staging.root, home=staging.home)
        [shown] = json.loads(status.stdout)["environments"]
        assert shown["interrupted"] == [deployment.id]  # status is read-only: it shows, not repairs
        repaired_at = time.time()
        # Any command that writes to the store repairs it, not only deploy commands.
        repair = run_cli("gc", "--dry-run", cwd=staging.root, home=staging.home)
        time.sleep(1)
    finally:
        load.stop()
    assert runner.returncode == -9
    dead = [r for r in load.results if killed <= r[0] < repaired_at]
    assert len(dead) > 300 and [r for r in dead if r[1] != 200] == []  # 0 failed while it was dead
    assert load.failures() == []  # nor before, nor during the repair
    assert repair.returncode == 0, repair.stderr
    assert f"deployment {deployment.id} was interrupted: recorded as Failed" in repair.stdout + repair.stderr

    store = staging.store()
    try:
        state = env_state(store, "staging", "web")
        record = get_deployment(store, deployment.id)
        assert state.weights == {state.live_slot: 100} and state.test_slot == state.live_slot
        assert (
            record is not None
            and record.status == "Failed"
            and "ended during the deployment" in str(record.reason)
        )
        assert store.integrity_ok()
    finally:
        store.close()
    assert staging.live_version() == before
    assert {staging.live_version() for _ in range(20)} == {before}
    slots = {name for name, state in project_containers(staging.app).items() if state == "running"}
    assert slots == {"router", f"web-{state.live_slot}"}  # the replacement slot was removed


def target_version(staging: Staging, image: ImageRef) -> str:
    return "1" if image == staging.v1 else "2"


def test_two_deploys_at_once_one_is_refused(staging: Staging, tmp_path: Path) -> None:
    target = staging.other()
    store = staging.store()
    try:
        known = {d.id for d in list_deployments(store, "staging", limit=100)}
    finally:
        store.close()
    runners = [
        spawn(
            *("deploy", "staging", "web", target.tag, "--no-wait", "--json"),
            cwd=staging.root,
            home=staging.home,
            log=tmp_path / f"out-{i}",
            err=tmp_path / f"err-{i}",
        )
        for i in range(2)
    ]
    codes = [r.wait(timeout=180) for r in runners]
    outs = [((tmp_path / f"out-{i}").read_text(), (tmp_path / f"err-{i}").read_text()) for i in range(2)]
    assert sorted(codes) == [0, 1], outs
    (ok_out, _), (refused_out, refused_err) = sorted(outs, key=lambda o: REFUSED in o[1])
    store = staging.store()
    try:
        new = [d for d in list_deployments(store, "staging", limit=100) if d.id not in known]
    finally:
        store.close()
    assert len(new) == 1 and new[0].status == "Succeeded"  # the refused one recorded nothing
    assert json.loads(ok_out)["id"] == new[0].id
    assert refused_out == "" and refused_err == f"{REFUSED}{new[0].id[2:]}'\n"  # one line, its wording
