"""CodeBuild conformance tests run again on the second engine, which sees none of our files.

A module of this folder re-exports an integration test module's tests (and its fixtures) and
uses the `on_the_second_engine` fixture: DOCKER_HOST names the second engine, the build's
executor does not share our filesystem (workspace volumes copied through the API, as
`runner build -H` decides by probing), and after each test nothing of it is left there.
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from runner.adapters.docker import client as docker_client
from runner.adapters.docker import runs
from runner.adapters.docker.executor import DockerExecutor
from runner.adapters.docker.remote import Endpoint
from runner.adapters.docker.transfer import copy_image
from runner.images.base import BUILD
from tests.conftest import SESSION_LABEL
from tests.integration.second_engine import SecondEngine

LOCAL = Endpoint("unix:///var/run/docker.sock")


def rerun(module: ModuleType) -> dict[str, Any]:
    """The module's tests and fixtures, to be collected again where they are imported."""
    return {
        name: value
        for name, value in vars(module).items()
        if name.startswith("test_") or type(value).__name__ == "FixtureFunctionDefinition"
    }


@pytest.fixture(scope="session")
def remote_images(second_engine: SecondEngine) -> Iterator[SecondEngine]:
    """The build image, streamed there once per session; the session's snapshots removed at its end."""
    copy_image(LOCAL, BUILD, Endpoint(second_engine.url))
    yield second_engine
    left = second_engine.docker("images", "-q", "--filter", f"label={SESSION_LABEL}").stdout.split()
    if left:
        second_engine.docker("rmi", "-f", *sorted(set(left)), check=False)


def left_on(engine: SecondEngine) -> dict[str, list[str]]:
    """The session's containers and volumes still on that engine."""
    label = f"label={SESSION_LABEL}"
    return {
        "containers": engine.docker("ps", "-aq", "--filter", label).stdout.split(),
        "volumes": engine.docker("volume", "ls", "-q", "--filter", label).stdout.split(),
    }


def _fresh_clients() -> None:
    docker_client.forget_clients()
    runs._privileged_allowed.cache_clear()


@pytest.fixture
def on_the_second_engine(remote_images: SecondEngine, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DOCKER_HOST", remote_images.url)
    monkeypatch.setattr("runner.codebuild.build.DockerExecutor", lambda: DockerExecutor(shares_files=False))
    _fresh_clients()
    try:
        yield
    finally:
        _fresh_clients()
    assert left_on(remote_images) == {"containers": [], "volumes": []}
