"""The engine tests' fixtures: the second Docker engine (tests/integration/second_engine.py), the
same engine over ssh:// (tests/integration/ssh_engine.py), and a fresh image to move to it."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator

import pytest

from runner.images.base import BASE
from tests.conftest import SESSION_LABEL
from tests.integration.second_engine import SecondEngine, second_engine
from tests.integration.ssh_engine import ssh_engine, ssh_engine_session

__all__ = ["fresh_image", "image_id", "second_engine", "ssh_engine", "ssh_engine_session"]


@pytest.fixture
def fresh_image(second_engine: SecondEngine) -> Iterator[str]:
    """A tag of a new image on the main engine (the base image plus a unique label), unknown to
    the second engine; both engines are rid of it afterwards."""
    tag = f"runner-test-copy-{uuid.uuid4().hex[:10]}:1"
    dockerfile = f"FROM {BASE}\nLABEL runner.test.nonce={uuid.uuid4().hex}\n"
    key, _, value = SESSION_LABEL.partition("=")
    subprocess.run(
        ["docker", "build", "-q", "--label", f"{key}={value}", "-t", tag, "-"],
        input=dockerfile,
        text=True,
        check=True,
        capture_output=True,
    )
    yield tag
    repository = tag.partition(":")[0]
    for engine in (["docker"], ["docker", "-H", second_engine.url]):
        listed = subprocess.run([*engine, "images", "-q", repository], capture_output=True, text=True).stdout
        for image in set(listed.split()):
            subprocess.run([*engine, "rmi", "-f", image], capture_output=True)


def image_id(ref: str, host: str | None = None) -> str:
    where = ["-H", host] if host else []
    return subprocess.run(
        ["docker", *where, "image", "inspect", "-f", "{{.Id}}", ref],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
