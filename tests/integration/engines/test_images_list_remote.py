"""`runner images list -H`: which of the store's service images another engine has."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.adapters.docker.remote import Endpoint
from runner.adapters.docker.transfer import copy_image
from runner.images.base import BASE
from runner.images.tags import KIND
from runner.store import images as records
from runner.store import open_store
from tests.conftest import SESSION_LABEL
from tests.integration.second_engine import SecondEngine

pytestmark = pytest.mark.docker


@pytest.fixture
def two_images(second_engine: SecondEngine) -> Iterator[list[str]]:
    """Two new service images' tags on this machine's engine; gone from both engines afterwards."""
    repository = f"runner-test-list-{uuid.uuid4().hex[:10]}"
    tags = [f"{repository}:{n}" for n in (1, 2)]
    key, _, value = SESSION_LABEL.partition("=")
    for tag in tags:
        subprocess.run(
            [
                "docker",
                "build",
                "-q",
                "--label",
                f"{key}={value}",
                "--label",
                f"runner.kind={KIND}",
                "-t",
                tag,
                "-",
            ],
            input=f"FROM {BASE}\nLABEL runner.test.nonce={uuid.uuid4().hex}\n",
            text=True,
            check=True,
            capture_output=True,
        )
    yield tags
    for engine in (["docker"], ["docker", "-H", second_engine.url]):
        listed = subprocess.run([*engine, "images", "-q", repository], capture_output=True, text=True).stdout
        for image in set(listed.split()):
            subprocess.run([*engine, "rmi", "-f", image], capture_output=True)


def _id(tag: str) -> str:
    return subprocess.run(
        ["docker", "image", "inspect", "-f", "{{.Id}}", tag], capture_output=True, text=True, check=True
    ).stdout.strip()


def test_images_list_says_which_images_another_engine_has(
    tmp_path: Path, runner_home: Path, two_images: list[str], second_engine: SecondEngine
) -> None:
    store = open_store(runner_home)
    for tag in two_images:
        records.put_tag(store, records.ImageRecord(tag, _id(tag), "web", None, None, None, None, time.time()))
    copy_image(Endpoint(), two_images[0], Endpoint(second_engine.url))

    def listed(*args: str) -> list[tuple[str, bool]]:
        result = subprocess.run(
            [sys.executable, "-m", "runner", "images", "list", "--json", *args],
            capture_output=True,
            text=True,
            cwd=tmp_path,
            env={**os.environ, "RUNNER_HOME": str(runner_home)},
        )
        assert result.returncode == 0, result.stderr
        rows = json.loads(result.stdout)
        assert all(r.get("engine") == (second_engine.url if args else None) for r in rows)
        return sorted((r["tag"], r["present"]) for r in rows)

    assert listed() == [(two_images[0], True), (two_images[1], True)]
    assert listed("-H", second_engine.url) == [(two_images[0], True), (two_images[1], False)]
