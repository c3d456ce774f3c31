"""`make setup` on a fresh Debian: scripts/venv.sh in a container of the build image, which
is Debian 12 as it comes (python3 without its venv module, no pip), against a real engine."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from runner.images.base import BUILD
from tests.conftest import SESSION_LABEL

pytestmark = pytest.mark.docker
SCRIPTS = Path(__file__).resolve().parents[2] / "scripts"


def in_fresh_debian(command: str, user: str = "root") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "run", "--rm", "--label", SESSION_LABEL, "--user", user, "-v", f"{SCRIPTS}:/scripts:ro",
         "-w", "/tmp", BUILD, "sh", "-c", command],
        capture_output=True, text=True, timeout=240,
    )  # fmt: skip


def test_without_root_one_line_names_the_package_that_needs_root() -> None:
    done = in_fresh_debian(
        "python3 -c 'import ensurepip' 2>/dev/null && echo HAS-VENV; /scripts/venv.sh", "nobody"
    )
    assert "HAS-VENV" not in done.stdout  # the image is the fresh machine this test is about
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        "setup: error: python3 has no venv module: 'apt-get install python3.11-venv' needs root "
        "(sudo apt-get install python3.11-venv), then run make again"
    ]


@pytest.mark.slow
def test_as_root_it_installs_the_venv_module_and_remakes_a_half_made_venv() -> None:
    # A failed `python3 -m venv` leaves .venv/bin/python without pip: `test -x` would pass.
    done = in_fresh_debian(
        "python3 -m venv .venv >/dev/null 2>&1; test -x .venv/bin/python && echo half-made; "
        "/scripts/venv.sh python3 .venv && .venv/bin/python -m pip --version && "
        "/scripts/venv.sh && echo again"
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "half-made" and lines[1].startswith("pip ") and lines[2] == "again"
    assert "setup: installing Debian packages: python3.11-venv" in done.stderr
