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
from runner.codedeploy import DeploymentResult, ImageRef, deploy, down, status
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
      check-new: 'curl -fsS "$RUNNER_TEST_URL/version" | grep -F "$RUNNER_NEW_IMAGE"'
environments:
  - name: prod
    platform: swarm
    port: {port}
    test_port: {test_port}
    termination_wait: 20m
    alarms:
      - name: errors
        metric: error_rate
        threshold: "0.2"
        window: 3s
        min_requests: 10
"""
HOOKED_APPSPEC = "version: 0.0\nHooks:\n  - AfterAllowTestTraffic: check-new\n"


def script(verb: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), verb], capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="module")
def swarm(second_engine: SecondEngine) -> Iterator[SecondEngine]:
    """The 2-node swarm of scripts/second-engine.sh swarm-up, always taken down (and the second
    engine running again) when the module ends."""
    up = script("swarm-up")
    try:
        assert up.returncode == 0, f"swarm-up failed:\n{up.stderr[-2000:]}"
        yield second_engine
    finally:
        script("node-up")  # a test that stopped the worker's engine may have failed before restarting it
        result = script("swarm-down")
        assert result.returncode == 0, f"swarm-down failed:\n{result.stderr[-2000:]}"


@dataclass
class Stage:
    config: Any
    store: Store
    port: int
    test_port: int
    source: Path
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
        {"web/appspec.yml": HOOKED_APPSPEC},
    )
    store = open_store(root / "home")
    stage = Stage(config, store, port, test_port, root / "repo")
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
