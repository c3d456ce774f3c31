"""The deploy engine also drives a standalone Compose v2 binary (`docker-compose`), not only the plugin."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.adapters import compose
from runner.codedeploy import deploy, down
from runner.store import open_store
from tests.integration.deploy.conftest import Images
from tests.integration.deploy.helpers import free_ports, get, write_project

pytestmark = pytest.mark.docker

PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
)


def standalone() -> str:
    """The Compose v2 binary: the docker CLI plugin runs standalone as well."""
    config = os.environ.get("DOCKER_CONFIG", str(Path.home() / ".docker"))
    for directory in (f"{config}/cli-plugins", *PLUGIN_DIRS):
        if os.access(f"{directory}/docker-compose", os.X_OK):
            return f"{directory}/docker-compose"
    pytest.fail("no docker-compose v2 binary found (make setup installs the plugin)")


@pytest.fixture
def standalone_compose(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("RUNNER_COMPOSE", standalone())
    compose.command.cache_clear()
    yield standalone()
    compose.command.cache_clear()


def test_deploy_with_a_standalone_docker_compose(
    tmp_path: Path, images: Images, standalone_compose: str
) -> None:
    port, test_port = free_ports(2)
    text = (
        f"app: t{uuid.uuid4().hex[:6]}\ntime_scale: 600\nservices:\n  web: {{path: web}}\n"
        f"environments:\n  - {{name: qa, port: {port}, test_port: {test_port}}}\n"
    )
    config = write_project(tmp_path / "repo", text)
    store = open_store(tmp_path / "home")
    try:
        assert compose.command() == (standalone_compose,)
        result = deploy(config, store, "qa", "web", images.v2, say=print)
        assert result.status == "Succeeded", result.reason
        assert get(port, "/web/version")[1]["version"] == "2"
    finally:
        down(config, store, "qa", say=print)
