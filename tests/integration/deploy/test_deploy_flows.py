"""Deployments against real compose and nginx: flips, canary/linear splits, failures, alarms, rollbacks."""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runner import cli
from runner.codedeploy import (
    DeploymentResult,
    EnvironmentBusy,
    ImageRef,
    deploy,
    down,
    ensure_up,
    rollback,
    status,
)
from runner.core.config import Alarm, PipelineConfig
from runner.store import Store, open_store
from runner.store.deployments import env_state, get_deployment, list_deployments
from tests.integration.deploy.conftest import Images
from tests.integration.deploy.helpers import Load, free_ports, get, sample, write_project

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PIPELINE = """\
app: {app}
time_scale: 600
hook_timeout: 60s
services:
  web:
    path: web
    health_timeout: 4s
    hooks:
      check-old: >-
        [ -z "$RUNNER_OLD_IMAGE" ] || curl -fsS "$RUNNER_TEST_URL/version" | grep -F "$RUNNER_OLD_IMAGE"
      check-new: 'curl -fsS "$RUNNER_TEST_URL/version" | grep -F "$RUNNER_NEW_IMAGE"'
      fail: 'echo "smoke test failed on purpose" >&2; exit 3'
      on-host:
        command: curl -fsS --noproxy '*' "$RUNNER_TEST_URL/version" | grep -F "$RUNNER_NEW_IMAGE"
        on: host
environments:
  - name: staging
    port: {port}
    test_port: {test_port}
    termination_wait: 20m
"""

HOOKED_APPSPEC = """\
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "<TASK_DEFINITION>"
        LoadBalancerInfo:
          ContainerName: web
          ContainerPort: 8000
Hooks:
  - BeforeInstall: check-old
  - AfterAllowTestTraffic: check-new
  - BeforeAllowTraffic: on-host
  - AfterAllowTraffic: after
"""
AFTER_HOOK = """\
#!/bin/sh
# A hook file: the live listener serves the new image after AllowTraffic.
curl -fsS "$RUNNER_LIVE_URL/version" | grep -F "$RUNNER_NEW_IMAGE"
"""
FAILING_APPSPEC = "version: 0.0\nHooks:\n  - AfterAllowTestTraffic: fail\n"


@dataclass
class Stage:
    config: PipelineConfig
    store: Store
    port: int
    test_port: int
    root: Path
    home: Path
    plain: Path  # a source dir without appspec: no hooks
    failing: Path  # an appspec whose AfterAllowTestTraffic hook fails
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)
        print(line)

    def live(self) -> str:
        code, body = get(self.port, "/web/version")
        assert code == 200, body
        return str(body["version"])

    def with_env(self, **changes: Any) -> PipelineConfig:
        env = dataclasses.replace(self.config.environments[0], **changes)
        return dataclasses.replace(self.config, environments=(env,))

    def deploy(self, image: ImageRef, **options: Any) -> DeploymentResult:
        config = options.pop("config", self.config)
        options.setdefault("source_dir", self.plain)
        return deploy(config, self.store, "staging", "web", image, say=self.say, **options)


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory, images: Images) -> Iterator[Stage]:
    root = tmp_path_factory.mktemp("flows")
    port, test_port = free_ports(2)
    app = f"t{uuid.uuid4().hex[:6]}"
    config = write_project(
        root / "repo",
        PIPELINE.format(app=app, port=port, test_port=test_port),
        {"web/appspec.yml": HOOKED_APPSPEC, "web/hooks/after": AFTER_HOOK},
    )
    (root / "repo/web/hooks/after").chmod(0o755)
    plain = root / "plain"
    (plain / "web").mkdir(parents=True)
    failing = root / "failing"
    (failing / "web").mkdir(parents=True)
    (failing / "web/appspec.yml").write_text(FAILING_APPSPEC)
    home = root / "home"
    store = open_store(home)
    stage = Stage(config, store, port, test_port, root / "repo", home, plain, failing)
    try:
        yield stage
    finally:
        down(config, store, "staging", say=stage.say)


@pytest.fixture(autouse=True)
def something_live(stage: Stage, images: Images, request: pytest.FixtureRequest) -> None:
    """Each test starts with a live image (tests also run alone, with -k)."""
    if "first_deploy" not in request.node.name and not env_state(stage.store, "staging", "web").live_slot:
        assert stage.deploy(images.v1).status == "Succeeded"


def next_image(stage: Stage, images: Images) -> ImageRef:
    live = stage.live()
    return images.v2 if live == "1" else images.v3 if live == "2" else images.v1


def wait_for(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def in_thread(fn: Any) -> tuple[threading.Thread, list[Any]]:
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(fn()), daemon=True)
    thread.start()
    return thread, box


def test_first_deploy_then_all_at_once_flip_runs_hooks(stage: Stage, images: Images) -> None:
    first = stage.deploy(images.v1, source_dir=stage.root)
    assert first.status == "Succeeded", first.reason
    assert (first.from_slot, first.to_slot) == (None, "blue") and stage.live() == "1"
    load = Load(stage.port, "/web/version", rate=100, connections=3).start()
    flip = stage.deploy(images.v2, strategy="AllAtOnce", source_dir=stage.root)
    load.stop()
    assert flip.status == "Succeeded", flip.reason
    assert (flip.from_slot, flip.to_slot) == ("blue", "green")
    assert {e["name"]: e["status"] for e in flip.lifecycle} == {
        "BeforeInstall": "Succeeded",
        "Install": "Succeeded",
        "AfterInstall": "Skipped",
        "AllowTestTraffic": "Succeeded",
        "AfterAllowTestTraffic": "Succeeded",
        "BeforeAllowTraffic": "Succeeded",
        "AllowTraffic": "Succeeded",
        "AfterAllowTraffic": "Succeeded",
    }
    assert stage.live() == "2"
    assert load.failures() == [] and {r[2] for r in load.results} == {"1", "2"}
    hooks = stage.store.query("SELECT data FROM events WHERE subject=? AND kind='deploy.hook'", (flip.id,))
    assert [json.loads(h["data"])["status"] for h in hooks] == ["Succeeded"] * 4
    # the termination wait ended: the original slot was stopped
    assert env_state(stage.store, "staging", "web").warm_until is None


@pytest.mark.parametrize(("strategy", "percent"), [("canary:20:60m", 20), ("linear:50:60m", 50)])
def test_traffic_shift_splits_as_configured(
    stage: Stage, images: Images, strategy: str, percent: int
) -> None:
    image = next_image(stage, images)
    thread, box = in_thread(lambda: stage.deploy(image, strategy=strategy, wait_termination=False))

    def shifted() -> bool:
        state = env_state(stage.store, "staging", "web")
        return state.live_slot != state.test_slot and len(state.weights) == 2

    wait_for(shifted)
    counts = sample(stage.port, "/web/version", 1000)
    weights = env_state(stage.store, "staging", "web").weights
    assert len(weights) == 2, "the shift moved on while sampling; the sample is not valid"
    share = 100.0 * counts[images.version(image)] / sum(counts.values())
    print(f"{strategy}: configured {percent}%, observed {share:.1f}% over {sum(counts.values())} requests")
    assert abs(share - percent) <= 5.0, counts
    thread.join(60)
    assert box and box[0].status == "Succeeded", box
    assert stage.live() == images.version(image)


def test_failing_health_check_keeps_the_live_slot(stage: Stage, images: Images) -> None:
    before = stage.live()
    load = Load(stage.port, "/web/version", rate=50, connections=2).start()
    result = stage.deploy(images.sick)
    load.stop()
    assert result.status == "Failed"
    assert "failed to become healthy" in result.reason
    assert "health check failing on purpose" in result.reason  # the container's own log lines
    assert [e["status"] for e in result.lifecycle][:2] == ["Skipped", "Failed"]
    assert stage.live() == before and load.failures() == []
    assert any("last 20 log lines" in line for line in stage.lines)


def test_failing_hook_fails_and_rolls_back(stage: Stage, images: Images) -> None:
    before = stage.live()
    image = next_image(stage, images)
    load = Load(stage.port, "/web/version", rate=50, connections=2).start()
    result = stage.deploy(image, source_dir=stage.failing)
    load.stop()
    assert load.failures() == [] and {v for _, _, v in load.results} == {before}
    assert result.status == "Failed" and result.rolled_back
    assert "exited with code 3" in result.reason and "smoke test failed on purpose" in result.reason
    rollback_record = get_deployment(stage.store, str(result.rollback_deployment))
    assert rollback_record is not None and rollback_record.kind == "ROLLBACK"
    assert rollback_record.rollback_of == result.id and rollback_record.status == "Succeeded"
    assert stage.live() == before
    code, body = get(stage.test_port, "/web/version")  # the test listener is back on the original too
    assert code == 200 and body["version"] == before


def test_a_failing_hook_at_before_install_cannot_roll_back(stage: Stage, images: Images) -> None:
    before = stage.live()
    (stage.failing / "web/appspec.yml").write_text("version: 0.0\nHooks:\n  - BeforeInstall: fail\n")
    try:
        result = stage.deploy(next_image(stage, images), source_dir=stage.failing)
    finally:
        (stage.failing / "web/appspec.yml").write_text(FAILING_APPSPEC)
    assert result.status == "Failed" and not result.rolled_back and result.rollback_deployment is None
    assert [e["status"] for e in result.lifecycle] == ["Failed"] + ["Skipped"] * 7  # nothing moved
    assert stage.live() == before


def test_alarm_sends_traffic_back_and_stops_the_deployment(stage: Stage, images: Images) -> None:
    """Without the router's retry (test_deploy_retry.py has it on), the failures reach the clients."""
    before = stage.live()
    config = stage.with_env(
        alarms=(Alarm("errors", "error_rate", 0.05, 5.0, 20),), retry_on_canary_failure=False
    )
    load = Load(stage.port, "/web/version", rate=200, connections=4).start()
    time.sleep(0.5)
    result = stage.deploy(images.failing, config=config, strategy="canary:50:600m")
    time.sleep(0.5)
    load.stop()
    assert result.status == "Stopped" and result.rolled_back
    assert result.rollback_event == "DEPLOYMENT_STOP_ON_ALARM"
    assert result.reason.startswith("alarm errors: error rate") and result.alarm is not None
    assert result.alarm["count"] >= 20 and result.alarm["failures"] > 0
    alarm_events = stage.store.query(
        "SELECT data FROM events WHERE subject=? AND kind='deploy.alarm'", (result.id,)
    )
    assert [json.loads(e["data"])["alarm"] for e in alarm_events] == ["errors"]
    errors = [t for t, code, _ in load.results if code >= 500]
    assert errors, "the failing slot never answered"
    at = result.alarm["at"]
    print(
        f"alarm: first 5xx → alarm {1000 * (at - errors[0]):.0f} ms; alarm → last 5xx answered "
        f"{1000 * (errors[-1] - at):.0f} ms ({len(errors)} errors); alarm → 100% old slot in the "
        f"state file {result.timings.get('alarm_to_old_slot_ms')} ms"
    )
    later = [(code, version) for t, code, version in load.results if t > result.alarm["at"] + 1.0]
    assert later and set(later) == {(200, before)}  # a second after the alarm: all on the old slot
    assert stage.live() == before and sample(stage.port, "/web/version", 200) == {before: 200}


def test_latency_alarm_rolls_back_a_slow_version(stage: Stage, images: Images) -> None:
    """p95_ms, the other request alarm: a replacement that answers in 300 ms trips 150 ms."""
    before = stage.live()
    config = stage.with_env(alarms=(Alarm("latency", "p95_ms", 150, 5.0, 10),))
    load = Load(stage.port, "/web/version", rate=100, connections=6).start()
    time.sleep(0.5)
    result = stage.deploy(images.slow, config=config, strategy="canary:50:600m")
    load.stop()
    assert result.status == "Stopped" and result.rolled_back
    assert result.rollback_event == "DEPLOYMENT_STOP_ON_ALARM"
    assert result.reason.startswith("alarm latency: p95 latency") and result.alarm is not None
    assert result.alarm["value"] > 150 and "of" not in result.reason.rpartition("(")[2]  # no "failed"
    assert [code for _, code, _ in load.results if code != 200] == []  # slow, never failed
    assert stage.live() == before and sample(stage.port, "/web/version", 100) == {before: 100}


def test_health_alarm_rolls_back_a_slot_that_sickens(stage: Stage, images: Images) -> None:
    """The health metric: a replacement healthy at Install that fails its health path later."""
    before = stage.live()
    config = stage.with_env(alarms=(Alarm("health", "health", 0.5, 3.0, 0),))
    result = stage.deploy(images.sickening, config=config, strategy="canary:50:600m")
    assert result.status == "Stopped" and result.rolled_back
    assert result.rollback_event == "DEPLOYMENT_STOP_ON_ALARM"
    assert result.reason.startswith("alarm health: failing health checks") and result.alarm is not None
    assert stage.live() == before and sample(stage.port, "/web/version", 100) == {before: 100}


def test_rollback_flips_back_to_the_warm_slot(stage: Stage, images: Images) -> None:
    before = stage.live()
    config = stage.with_env(termination_wait_s=600 * 600.0)
    result = stage.deploy(next_image(stage, images), config=config, wait_termination=False)
    assert result.status == "Succeeded" and stage.live() != before
    load = Load(stage.port, "/web/version", rate=100, connections=3).start()
    time.sleep(0.3)
    started = time.time()
    back = rollback(config, stage.store, "staging", "web", say=stage.say)
    load.stop()
    assert back.kind == "ROLLBACK" and back.status == "Succeeded" and back.rollback_of == result.id
    print(f"rollback: flip {back.timings['flip_ms']} ms; call {1000 * (time.time() - started):.0f} ms")
    assert stage.live() == before and load.failures() == []
    after_flip = [v for t, _, v in load.results if t > started + 1.0]
    assert after_flip and set(after_flip) == {before}


def test_rollback_after_termination_redeploys_the_previous_image(stage: Stage, images: Images) -> None:
    before = stage.live()
    result = stage.deploy(next_image(stage, images))
    assert result.status == "Succeeded"
    back = rollback(stage.config, stage.store, "staging", say=stage.say)
    assert back.kind == "ROLLBACK" and back.status == "Succeeded" and back.rollback_of == result.id
    assert [e["status"] for e in back.lifecycle if e["name"] == "Install"] == ["Succeeded"]
    assert stage.live() == before


def test_one_deployment_at_a_time_and_rollback_stops_a_running_one(stage: Stage, images: Images) -> None:
    before = stage.live()
    image = next_image(stage, images)
    thread, box = in_thread(lambda: stage.deploy(image, strategy="canary:10:600m", wait_termination=False))
    wait_for(lambda: len(env_state(stage.store, "staging", "web").weights) == 2)
    running = list_deployments(stage.store, "staging", "web", limit=1)[0]
    with pytest.raises(EnvironmentBusy) as refused:
        stage.deploy(images.v1)
    assert (
        str(refused.value)
        == f"The Deployment Group 'staging' already has an active Deployment '{running.id}'"
    )
    back = rollback(stage.config, stage.store, "staging", "web", say=stage.say)
    thread.join(30)
    assert box and box[0].status == "Stopped" and box[0].rollback_event == "DEPLOYMENT_STOP_ON_REQUEST"
    assert back.kind == "ROLLBACK" and back.rollback_of == running.id
    assert stage.live() == before


def test_interrupted_deployment_is_repaired(stage: Stage, images: Images) -> None:
    live = env_state(stage.store, "staging", "web")
    stage.store.execute(
        "INSERT INTO deployments (id, environment, service, image_tag, image_id, strategy, status, created, "
        "to_slot, pid) VALUES ('d-CRASHED01', 'staging', 'web', 'x:1', 'sha256:x', 'AllAtOnce', "
        "'InProgress', ?, ?, 999999999)",
        (time.time(), "blue" if live.live_slot == "green" else "green"),
    )
    stage.store.execute(
        "INSERT INTO locks (name, holder, pid, acquired) "
        "VALUES ('deploy:staging', 'd-CRASHED01', 999999999, ?)",
        (time.time(),),
    )
    ensure_up(stage.config, stage.store, "staging", say=stage.say)
    crashed = get_deployment(stage.store, "d-CRASHED01")
    assert (
        crashed is not None
        and crashed.status == "Failed"
        and "ended during the deployment" in str(crashed.reason)
    )
    assert env_state(stage.store, "staging", "web").weights == {live.live_slot: 100}


def test_cli_status_json_and_deploy(
    stage: Stage, images: Images, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(stage.root)
    monkeypatch.setenv("RUNNER_HOME", str(stage.home))
    stage.store.execute(
        "INSERT INTO queue (kind, service, commit_sha, source, status, enqueued) "
        "VALUES ('build', 'web', 'abc', 'test', 'QUEUED', ?)",
        (time.time(),),
    )
    assert cli.main(["status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [q["status"] for q in data["queue"]] == ["QUEUED"]
    web = data["environments"][0]["services"][0]
    assert (
        web["service"] == "web" and web["health"] == "healthy" and web["weights"] == {web["live_slot"]: 100}
    )
    assert web["image"]["tag"] in {images.v1.tag, images.v2.tag, images.v3.tag}
    assert status(stage.config, stage.store, "staging")["environments"][0]["router"] == "running"
    assert cli.main(["deploy", "staging", "web", images.v1.tag.split(":")[0] + ":latest", "--json"]) == 2
    assert "mutable tags such as latest are refused" in capsys.readouterr().err
    image = next_image(stage, images)
    assert cli.main(["deploy", "staging", "web", image.id, "--json", "--no-wait"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["status"] == "Succeeded" and result["image"]["id"] == image.id
    assert result["image"]["tag"] == image.tag  # an id deploys under its immutable tag
