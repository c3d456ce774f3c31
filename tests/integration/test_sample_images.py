"""Each sample service's image, built from its bundle as the pipeline does, serves /health, stops on SIGTERM.

The bundle (tools/bundle.py, the build's primary artifact) holds the service's Dockerfile and
files plus lib/kit.py; pipeline.yml's `image: {from_artifacts: true}` builds the image from it.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.adapters.docker import client as docker_client
from runner.adapters.docker import images as docker_images
from runner.adapters.docker import runs

pytestmark = pytest.mark.docker

SAMPLE = Path(__file__).resolve().parents[2] / "sample-services"
SERVICES = ("catalog", "offers", "web")


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    tag, root = uuid.uuid4().hex[:12], tmp_path_factory.mktemp("bundles")
    built: dict[str, str] = {}
    try:
        for name in SERVICES:
            bundle = root / name
            tool = [sys.executable, str(SAMPLE / "tools" / "bundle.py"), str(SAMPLE / name), str(bundle)]
            subprocess.run(tool, check=True, capture_output=True)
            ref = f"runner-test-{name}:{tag}"
            docker_images.build_image(bundle, ref, docker_client.labels("image", service=name))
            built[name] = ref
        yield built
    finally:
        for ref in built.values():
            docker_images.remove_image(ref)


def wait_for_json(url: str, deadline_s: float = 10.0) -> dict[str, object]:
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                return dict(json.loads(answer.read()))
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.mark.parametrize("name", SERVICES)
def test_image_serves_health_and_stops_cleanly_on_sigterm(images: dict[str, str], name: str) -> None:
    env = {"RUNNER_SLOT": "blue", "RUNNER_IMAGE_TAG": images[name], "RUNNER_ENVIRONMENT": "test"}
    request = runs.RunRequest(
        image=images[name],
        command=["python3", "app.py"],  # the Dockerfile's CMD
        env=env,
        labels=docker_client.labels("test", service=name),
    )
    running = runs.start(request)
    try:
        running.container.reload()
        address = running.container.attrs["NetworkSettings"]["IPAddress"]
        health = wait_for_json(f"http://{address}:8000/health")
        assert (health["status"], health["service"]) == ("ok", name)
        version = wait_for_json(f"http://{address}:8000/version")
        assert (version["slot"], version["image"]) == ("blue", images[name])
        running.container.stop(timeout=8)  # SIGTERM to python3 as PID 1 (no init): it must exit by itself
        assert running.wait(timeout_s=10) == 0
        assert b"stopped (0 request(s) cut off)" in running.container.logs()
    finally:
        running.remove()
