"""A faulty canary under GET load: the router retries what the replacement fails on the original
slot (0 failed GETs), never a POST and never on the test listener; the alarm still fires."""

from __future__ import annotations

import http.client
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runner.codedeploy import DeploymentResult, ImageRef, deploy, down, ensure_up
from runner.codedeploy.nginx_config import LIVE_PORT
from runner.core.config import PipelineConfig
from runner.store import Store, open_store
from runner.store.deployments import env_state
from tests.integration.deploy.conftest import Images
from tests.integration.deploy.helpers import Load, free_ports, write_project

pytestmark = [pytest.mark.docker, pytest.mark.slow]

# 50 % for 60 s unless the alarm fires; the alarm needs 40 requests on the replacement.
CANARY = "canary:50:600m"
PIPELINE = """\
app: {app}
time_scale: 600
services:
  web:
    path: web
environments:
  - name: prod
    port: {port}
    test_port: {test_port}
    termination_wait: 6m
    alarms:
      - {{name: errors, metric: error_rate, threshold: "0.05", window: 5s, min_requests: 40}}
"""


@dataclass
class Env:
    config: PipelineConfig
    store: Store
    home: Path
    port: int
    test_port: int
    lines: list[str] = field(default_factory=list)

    def deploy(self, image: ImageRef, strategy: str) -> DeploymentResult:
        return deploy(self.config, self.store, "prod", "web", image, strategy=strategy, say=self.lines.append)

    def state(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.home / "envs/prod/router/state.json").read_text())
        return data

    def log(self) -> list[dict[str, Any]]:
        text = (self.home / "envs/prod/logs/access.log").read_text()
        return [json.loads(line) for line in text.splitlines() if line]


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory, images: Images) -> Iterator[Env]:
    root = tmp_path_factory.mktemp("retry")
    port, test_port = free_ports(2)
    text = PIPELINE.format(app=f"t{uuid.uuid4().hex[:6]}", port=port, test_port=test_port)
    config = write_project(root / "repo", text)
    made = Env(config, open_store(root / "home"), root / "home", port, test_port)
    try:
        ensure_up(config, made.store, "prod", say=made.lines.append)
        assert made.deploy(images.v1, "AllAtOnce").status == "Succeeded"
        yield made
    finally:
        down(config, made.store, "prod", say=made.lines.append)


def request(port: int, method: str, path: str = "/web/version") -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=b"{}" if method == "POST" else None)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def in_thread(fn: Any) -> tuple[threading.Thread, list[Any]]:
    box: list[Any] = []
    thread = threading.Thread(target=lambda: box.append(fn()), daemon=True)
    thread.start()
    return thread, box


def wait_for_canary(env: Env, slot: str) -> None:
    deadline = time.monotonic() + 60
    while env_state(env.store, "prod", "web").weights.get(slot, 0) == 0:
        assert time.monotonic() < deadline, f"the canary never reached slot {slot}"
        time.sleep(0.02)


def test_a_faulty_canary_fails_no_get(env: Env, images: Images) -> None:
    live = env_state(env.store, "prod", "web").live_slot
    assert live is not None
    replacement = "green" if live == "blue" else "blue"
    offset = len(env.log())
    thread, box = in_thread(lambda: env.deploy(images.failing, CANARY))
    wait_for_canary(env, replacement)
    assert env.state()["services"]["web"]["retry"] == replacement
    # At most 35 requests, below the alarm's 40: the replacement's answers where it must answer.
    posts = [request(env.port, "POST") for _ in range(16)]
    tests = [request(env.test_port, "GET") for _ in range(3)]
    heads = [request(env.port, "HEAD") for _ in range(16)]
    load = Load(env.port, "/web/version", rate=200, connections=4).start()
    thread.join(60)
    time.sleep(0.5)
    load.stop()
    result: DeploymentResult = box[0]

    assert result.status == "Stopped" and result.rollback_event == "DEPLOYMENT_STOP_ON_ALARM", result.reason
    assert result.alarm is not None and result.alarm["failures"] >= 40
    assert load.failures() == [] and load.count > 100
    assert {version for _, _, version in load.results} == {"1"}
    assert heads == [200] * 16
    assert 500 in posts and set(posts) <= {200, 500}  # a POST is never sent twice
    assert tests == [500] * 3  # the test listener shows the replacement's own answers
    assert "retry" not in env.state()["services"]["web"]  # rolled back: no replacement to retry

    records = [r for r in env.log()[offset:] if r["svc"] == "web" and r["l"] == LIVE_PORT]
    retried = [r for r in records if " : " in r["ua"]]
    assert retried and all(r["us"].startswith("500 : ") and r["s"] == 200 for r in retried)
    # what the alarm counted: the retried GET/HEADs, the failed POSTs, the test listener's 500s
    assert len(retried) + posts.count(500) + len(tests) >= result.alarm["failures"]
    print(
        f"faulty canary under {load.count} GETs: 0 failed, {len(retried)} retried on the original slot; "
        f"POST: {posts.count(500)} of {len(posts)} failed (not retried); alarm: {result.reason}"
    )


def test_a_good_canary_ends_without_retries(env: Env, images: Images) -> None:
    result = env.deploy(images.v2, "canary:50:1m")
    assert result.status == "Succeeded", result.reason
    assert "retry" not in env.state()["services"]["web"]
    assert request(env.port, "GET") == 200
