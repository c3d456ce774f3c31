"""Shared fixtures: a per-session label on everything the runner creates, and its cleanup check."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.ci import under_ci

SESSION_LABEL = f"runner.test={uuid.uuid4().hex[:12]}"
os.environ["RUNNER_LABELS"] = SESSION_LABEL  # every container/image/network the runner makes


def docker_available() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


_DOCKER = docker_available()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if _DOCKER:
        return
    if under_ci():
        raise pytest.UsageError(
            f"CI={os.environ['CI']} and no Docker engine answers: docker tests cannot be skipped"
        )
    skip = pytest.mark.skip(reason="no Docker engine (run `make setup`)")
    for item in items:
        if "docker" in item.keywords:
            item.add_marker(skip)


def _labelled(kind: str) -> list[str]:
    args = {
        "containers": ["ps", "-aq"],
        "images": ["images", "-q"],
        "networks": ["network", "ls", "-q"],
        "volumes": ["volume", "ls", "-q"],
    }[kind]
    out = subprocess.run(
        ["docker", *args, "--filter", f"label={SESSION_LABEL}"], capture_output=True, text=True
    ).stdout
    return [line for line in out.split() if line]


def remove_labelled() -> None:
    for container in _labelled("containers"):
        subprocess.run(["docker", "rm", "-f", "-v", container], capture_output=True)
    for network in _labelled("networks"):
        subprocess.run(["docker", "network", "rm", network], capture_output=True)
    for volume in _labelled("volumes"):
        subprocess.run(["docker", "volume", "rm", "-f", volume], capture_output=True)
    for image in _labelled("images"):
        subprocess.run(["docker", "rmi", "-f", image], capture_output=True)


@pytest.fixture(scope="session", autouse=True)
def nothing_left_behind() -> Iterator[None]:
    """Fails the session if a test left a labelled container, network or volume behind."""
    yield
    if not _DOCKER:
        return
    left = {kind: _labelled(kind) for kind in ("containers", "networks", "volumes")}
    remove_labelled()
    leaked = {k: v for k, v in left.items() if v}
    assert not leaked, f"resources left behind by tests: {leaked}"


@pytest.fixture
def runner_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "runner-home"
    monkeypatch.setenv("RUNNER_HOME", str(home))
    return home
