"""A second Docker engine for tests (scripts/second-engine.sh): another "host" on this machine.

It runs in its own network namespace, sees none of our files and reaches no network. The
session fixture starts it when the first test asks for it and stops it at the end, unless
it was already running (then whoever started it stops it). It needs root; elsewhere the
tests that use it skip, and under CI they fail (tests/ci.py).
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.ci import missing

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "second-engine.sh"
URL = "tcp://10.231.0.2:2375"
SOCKET_URL = "unix:///var/run/docker-rnode2.sock"


@dataclass(frozen=True)
class SecondEngine:
    url: str
    socket_url: str
    start_s: float | None  # how long `start` took in this session; None when it was running

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """The docker CLI against this engine (explicit -H: a DOCKER_HOST cannot redirect it)."""
        result = subprocess.run(
            ["docker", "-H", self.url, *args], capture_output=True, text=True, timeout=300
        )
        if check and result.returncode != 0:
            raise AssertionError(f"docker -H {self.url} {' '.join(args)}: {result.stderr.strip()}")
        return result


def script(verb: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), verb], capture_output=True, text=True, timeout=180)


@pytest.fixture(scope="session")
def second_engine() -> Iterator[SecondEngine]:
    if os.geteuid() != 0:
        missing("the second Docker engine needs root (a network namespace and a dockerd of its own)")
    was_running = script("status").returncode == 0
    started = time.monotonic()
    if not was_running:
        result = script("start")
        assert result.returncode == 0, f"{SCRIPT.name} start failed:\n{result.stderr[-2000:]}"
    took = None if was_running else time.monotonic() - started
    yield SecondEngine(URL, SOCKET_URL, took)
    if not was_running:
        result = script("stop")
        assert result.returncode == 0, f"{SCRIPT.name} stop failed:\n{result.stderr[-2000:]}"
