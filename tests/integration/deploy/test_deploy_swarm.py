"""A swarm environment on a 2-node swarm (the main engine its manager, the second engine a worker):
replicas spread over both nodes, blue/green and canary deployments with the same semantics as
compose, a worker's engine stopped under load. The swarm is formed for this module and ALWAYS
taken down after it (every other test runs on the main engine outside any swarm)."""

from __future__ import annotations

import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runner import cli
from runner.codedeploy import DeploymentResult, ImageRef, deploy, down, stack, status
from runner.store import Store, open_store
from runner.store.deployments import env_state
from tests.integration.deploy.conftest import Images
from tests.integration.deploy.helpers import Load, free_ports, get, write_project
from tests.integration.second_engine import SCRIPT, SecondEngine, second_engine

pytestmark = [pytest.mark.docker, pytest.mark.slow]
__all__ = ["second_engine"]  # the session fixture, used here

PIPELINE = """\
app: {app}
time_scale: 600
hook_timeout: 60s
engines:
  node2: {node2}
services:
  web:
    path: web
    health_timeout: 30s
    replicas: 2
    hooks:
      check-new: >-
        curl -fsS -o /dev/null http://cache:9000/ &&
        curl -fsS "$RUNNER_TEST_URL/version" | grep -F "$RUNNER_NEW_IMAGE"
environments:
  - name: prod
    platform: swarm
    port: {port}
    test_port: {test_port}
    termination_wait: 20m
    compose: backing.yml
    alarms:
      - name: errors
        metric: error_rate
        threshold: "0.2"
        window: 3s
        min_requests: 10
"""
BACKING = """\
version: "3.8"
services:
  cache:
    image: runner/python:bookworm
    command: ["python3", "-m", "http.server", "9000"]
    deploy:
      placement:
        constraints: ["node.role == manager"]
"""
HOOKED_APPSPEC = "version: 0.0\nHooks:\n  - AfterAllowTestTraffic: check-new\n"


def script(verb: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), verb], capture_output=True, text=True, timeout=180)


def worker_up() -> None:
    """node-up; the second engine is shared, and another user may have started it meanwhile."""
    if script("status").returncode == 0:
        return
    up = script("node-up")
    assert up.returncode == 0 or script("status").returncode == 0, up.stderr


@pytest.fixture(scope="module")
def swarm(second_engine: SecondEngine) -> Iterator[SecondEngine]:
    """The 2-node swarm of scripts/second-engine.sh swarm-up, always taken down (and the second
    engine running again) when the module ends."""
    up = script("swarm-up")
    try:
        assert up.returncode == 0, f"swarm-up failed:\n{up.stderr[-2000:]}"
        yield second_engine
    finally:
        worker_up()  # a test that stopped the worker's engine may have failed before restarting it
        result = script("swarm-down")
        assert result.returncode == 0, f"swarm-down failed:\n{result.stderr[-2000:]}"


@dataclass
class Stage:
    config: Any
    store: Store
    port: int
    test_port: int
    source: Path
    plain: Path  # a source dir without appspec: no hooks
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)
        print(line)

    def deploy(self, image: ImageRef, **options: Any) -> DeploymentResult:
        options.setdefault("source_dir", self.source)
        return deploy(self.config, self.store, "prod", "web", image, say=self.say, **options)

    def live(self) -> str:
        code, body = get(self.port, "/web/version")
        assert code == 200, body
        return str(body["version"])

    def web(self) -> dict[str, Any]:
        data = status(self.config, self.store, "prod")
        return dict(data["environments"][0]["services"][0])


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory, swarm: SecondEngine, images: Images) -> Iterator[Stage]:
    root = tmp_path_factory.mktemp("swarm")
    port, test_port = free_ports(2)
    app = f"t{uuid.uuid4().hex[:6]}"
    config = write_project(
        root / "repo",
        PIPELINE.format(app=app, port=port, test_port=test_port, node2=swarm.url),
        {"web/appspec.yml": HOOKED_APPSPEC, "backing.yml": BACKING},
    )
    store = open_store(root / "home")
    (root / "plain/web").mkdir(parents=True)
    stage = Stage(config, store, port, test_port, root / "repo", root / "plain")
    try:
        yield stage
    finally:
        down(config, store, "prod", say=stage.say)
        for image in (images.v1, images.v2, images.v3, images.failing):  # what the platform copied there
            swarm.docker("rmi", "-f", image.id, check=False)


def wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.2)


def test_replicas_spread_over_both_nodes_and_blue_green_under_load(stage: Stage, images: Images) -> None:
    first = stage.deploy(images.v1)
    assert first.status == "Succeeded", first.reason
    web = stage.web()
    assert web["replicas"] == "2/2" and sorted(web["nodes"]) == ["rnode2", _manager_hostname()], web
    assert stage.live() == "1"
    # the backing service of the environment's compose file runs in the stack (the hook reached it)
    units = stack.platform_for(stage.config, stage.store, stage.config.environments[0]).units()
    assert units["cache"].running and units["cache"].replicas == (1, 1), units

    load = Load(stage.port, "/web/version", rate=100, connections=3).start()
    flip = stage.deploy(images.v2, strategy="AllAtOnce")
    load.stop()
    assert flip.status == "Succeeded", flip.reason
    assert (flip.from_slot, flip.to_slot) == ("blue", "green")
    assert {e["name"]: e["status"] for e in flip.lifecycle}["AfterAllowTestTraffic"] == "Succeeded"
    assert stage.live() == "2"
    assert load.count > 100 and load.failures() == [], load.failures()[:5]
    assert {r[2] for r in load.results} == {"1", "2"}
    # the termination wait ended: the original slot's service is scaled to 0, the new one runs 2/2
    web = stage.web()
    assert web["slots"]["blue"]["replicas"] == "0/0" and web["replicas"] == "2/2", web
    assert env_state(stage.store, "prod", "web").warm_until is None


def _manager_hostname() -> str:
    result = subprocess.run(
        ["docker", "-H", "unix:///var/run/docker.sock", "info", "--format", "{{.Name}}"],
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.strip()


def test_status_command_shows_replicas_and_nodes(
    stage: Stage, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(stage.source)
    monkeypatch.setenv("RUNNER_HOME", str(stage.store.path.parent))
    assert cli.main(["status", "prod"]) == 0
    out = capsys.readouterr().out
    assert "REPLICAS" in out and "2/2 on " in out and "rnode2" in out, out
    assert cli.main(["up", "prod"]) == 0
    out = capsys.readouterr().out
    assert "started: nothing to start" in out, out
    assert f"Swarm publishes ports {stage.port} and {stage.test_port} on ALL interfaces of the manager" in out


def test_canary_alarm_rolls_back(stage: Stage, images: Images) -> None:
    """The replacement fails every request: the alarm (read from the router's log through the
    engine API) sends traffic back; with the router's retry the clients see no failure."""
    before = stage.live()
    load = Load(stage.port, "/web/version", rate=150, connections=3).start()
    time.sleep(0.5)
    result = stage.deploy(images.failing, strategy="canary:50:600m", source_dir=stage.plain)
    time.sleep(0.5)
    load.stop()
    assert result.status == "Stopped" and result.rolled_back, result.reason
    assert result.rollback_event == "DEPLOYMENT_STOP_ON_ALARM"
    assert result.reason.startswith("alarm errors: error rate") and result.alarm is not None
    assert result.alarm["failures"] > 0
    assert load.failures() == [], load.failures()[:5]
    assert stage.live() == before
    later = {version for t, _, version in load.results if t > result.alarm["at"] + 1.0}
    assert later == {before}
    web = stage.web()
    assert web["replicas"] == "2/2", web


def test_not_a_manager_is_one_line(
    stage: Stage, swarm: SecondEngine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The second engine is a worker of the swarm: runner says so and changes nothing."""
    text = (stage.source / "pipeline.yml").read_text()
    (stage.source / "pipeline.yml").write_text(
        text.replace("    platform: swarm\n", "    platform: swarm\n    engine: node2\n")
    )
    monkeypatch.chdir(stage.source)
    monkeypatch.setenv("RUNNER_HOME", str(stage.store.path.parent / "other"))
    try:
        code = cli.main(["up", "prod"])
        err = capsys.readouterr().err.strip()
        assert cli.main(["status", "prod"]) == 0  # status still shows the environment, and why
        shown = capsys.readouterr().out
    finally:
        (stage.source / "pipeline.yml").write_text(text)
    assert code != 0
    assert (
        len(err.splitlines()) == 1 and "engine node2 (tcp://10.231.0.2:2375) is not a swarm manager" in err
    ), err
    assert "runner never creates, joins or leaves a swarm" in err
    assert "prod (" in shown and "is not a swarm manager" in shown, shown
    assert swarm.docker("info", "--format", "{{.Swarm.LocalNodeState}}").stdout.strip() == "active"


def test_worker_engine_stops_under_load(stage: Stage, images: Images) -> None:
    """The worker's dockerd stops: Swarm reschedules its task on the manager; requests through
    the live port keep being answered; status shows the change; the next deployment works."""
    before = stage.live()
    assert sorted(stage.web()["nodes"]) == ["rnode2", _manager_hostname()]
    load = Load(stage.port, "/web/version", rate=100, connections=3).start()
    time.sleep(1.0)
    stopped = time.monotonic()
    down = script("node-down")
    assert down.returncode == 0, down.stderr
    try:
        seen: list[dict[str, Any]] = []

        def changed() -> bool:  # Swarm noticed: a task fewer, or none left on the worker
            seen.append(stage.web())
            return seen[-1]["replicas"] != "2/2" or "rnode2" not in seen[-1]["nodes"]

        wait_for(changed, timeout=90)
        wait_for(lambda: stage.web()["replicas"] == "2/2", timeout=120)
        recovered_s = time.monotonic() - stopped
        time.sleep(2.0)
        load.stop()
        failures = load.failures()
        slow = sorted(r for r in load.results if r[1] == 200)
        print(
            f"node loss: {load.count} requests, {len(failures)} failed; running == desired again "
            f"after {recovered_s:.1f}s"
        )
        assert failures == [], failures[:5]
        assert {r[2] for r in slow} == {before}
        following = stage.deploy(images.v3 if before != "3" else images.v1, source_dir=stage.plain)
        assert following.status == "Succeeded", following.reason
        assert stage.web()["replicas"] == "2/2"
    finally:
        worker_up()
