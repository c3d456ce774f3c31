"""Zero failed requests: keep-alive clients without retries across 10 blue-green flips and a canary shift."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from runner.codedeploy import deploy, down, ensure_up
from runner.store import open_store
from tests.integration.deploy.conftest import Images
from tests.integration.deploy.helpers import Load, free_ports, write_project

pytestmark = [pytest.mark.docker, pytest.mark.slow]

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
"""


def test_flips_and_a_canary_shift_lose_no_request(tmp_path: Path, images: Images) -> None:
    port, test_port = free_ports(2)
    config = write_project(
        tmp_path / "repo", PIPELINE.format(app=f"t{uuid.uuid4().hex[:6]}", port=port, test_port=test_port)
    )
    store = open_store(tmp_path / "home")
    lines: list[str] = []
    try:
        ensure_up(config, store, "prod", say=lines.append)
        assert deploy(config, store, "prod", "web", images.v1, say=lines.append).status == "Succeeded"
        load = Load(port, "/web/version", rate=250, connections=5).start()
        time.sleep(1.0)
        started, counts = time.monotonic(), []
        for flip in range(10):
            image = images.v2 if flip % 2 == 0 else images.v1
            before = load.count
            result = deploy(config, store, "prod", "web", image, strategy="AllAtOnce", say=lines.append)
            assert result.status == "Succeeded", result.reason
            counts.append(load.count - before)
        canary = deploy(config, store, "prod", "web", images.v3, strategy="canary:20:30m", say=lines.append)
        assert canary.status == "Succeeded", canary.reason
        time.sleep(1.0)
        elapsed = time.monotonic() - started
        load.stop()
        failures = load.failures()
        rate = load.count / (load.results[-1][0] - load.results[0][0])
        print(
            f"load: {load.count} requests at {rate:.0f} req/s over 10 flips and a canary shift "
            f"({elapsed:.1f}s); failed: {len(failures)}; requests per flip: {counts}"
        )
        assert failures == []
        assert all(count > 0 for count in counts)  # every flip happened under load
        assert {version for _, _, version in load.results} == {"1", "2", "3"}
        assert load.results[-1][2] == "3"
    finally:
        down(config, store, "prod", say=lines.append)
