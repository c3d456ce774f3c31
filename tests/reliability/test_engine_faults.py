"""Engine faults: no engine, no image, OOM, a full disk. One line naming cause and fix, FAULT, no traceback.

The real shared engine is never stopped: an unreachable engine is DOCKER_HOST pointing at a
socket that does not exist. A full disk is a 4 MiB tmpfs mounted over the workspace.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.store import Store
from runner.store.builds import get_build, list_builds
from tests.ci import missing
from tests.reliability.helpers import run_cli

pytestmark = pytest.mark.docker

NO_ENGINE = "unix:///nonexistent.sock"
ALLOCATE = "python3 -c 'x = bytearray(200 * 1024 * 1024)'"


def write_buildspec(root: Path, *commands: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    lines = "".join(f"      - {json.dumps(c)}\n" for c in commands)
    (root / "buildspec.yml").write_text(f"version: 0.2\nphases:\n  build:\n    commands:\n{lines}")
    return root


def stored(home: Path) -> list[dict[str, Any]]:
    store = Store(home / "state.db")
    try:
        return [b.summary() for b in list_builds(store)]
    finally:
        store.close()


def lines_with(text: str, needle: str) -> list[str]:
    return [line for line in text.splitlines() if needle in line]


def failed_phase(result: dict[str, Any]) -> dict[str, Any]:
    return next(p for p in result["phases"] if p["status"] not in ("SUCCEEDED",))


def test_engine_unreachable_is_a_fault_with_the_fix(tmp_path: Path) -> None:
    src, home = write_buildspec(tmp_path / "src", "echo hi"), tmp_path / "home"
    result = run_cli("build", cwd=src, home=home, DOCKER_HOST=NO_ENGINE)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    [line] = lines_with(result.stderr, "cannot reach the Docker engine")
    assert (
        "PROVISIONING" in line and "DOCKER_HOST=unix:///nonexistent.sock" in line and "fix or unset" in line
    )
    assert [b["status"] for b in stored(home)] == ["FAULT"]


def test_engine_unreachable_outside_a_build_is_one_line(tmp_path: Path) -> None:
    result = run_cli("gc", "--dry-run", cwd=tmp_path, home=tmp_path / "home", DOCKER_HOST=NO_ENGINE)
    assert result.returncode == 1
    assert result.stdout == "" and result.stderr.count("\n") == 1
    assert result.stderr.startswith("runner: error: cannot reach the Docker engine")
    assert "fix or unset DOCKER_HOST" in result.stderr


def test_missing_build_image_is_a_fault_with_the_fix(tmp_path: Path) -> None:
    src, home = write_buildspec(tmp_path / "src", "echo hi"), tmp_path / "home"
    result = run_cli("build", "--json", "-i", "runner-test/missing:never", cwd=src, home=home)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    build = json.loads(result.stdout)
    phase = failed_phase(build)
    assert build["status"] == "FAULT" and phase["name"] == "PROVISIONING"
    assert phase["context"] == (
        "build image runner-test/missing:never not found: run `runner images bootstrap` or pull/build it"
    )
    assert [b["status"] for b in stored(home)] == ["FAULT"]


def test_oom_killed_build_container_is_a_fault(tmp_path: Path) -> None:
    """The whole container (its shell) killed by the memory limit."""
    src, home = write_buildspec(tmp_path / "src", f"exec {ALLOCATE}"), tmp_path / "home"
    result = run_cli("build", "--json", "--memory", "32m", cwd=src, home=home)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    build = json.loads(result.stdout)
    phase = failed_phase(build)
    assert (build["status"], phase["name"], phase["status"]) == ("FAULT", "BUILD", "FAULT")
    message = phase["context"]
    assert "out of memory" in message and "raise the memory limit" in message


def test_oom_killed_command_is_a_fault_naming_memory(tmp_path: Path) -> None:
    """The usual case: the kernel kills the biggest process (the command), the shell lives on."""
    src, home = write_buildspec(tmp_path / "src", ALLOCATE), tmp_path / "home"
    result = run_cli("build", "--json", "--memory", "32m", cwd=src, home=home)
    assert result.returncode == 1 and "Traceback" not in result.stderr
    build = json.loads(result.stdout)
    context = failed_phase(build)["context"]
    assert build["status"] == "FAULT" and "memory" in context, context


# ---------------------------------------------------------------- a full disk


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs; where it cannot be mounted (not root), skipped with the reason, or
    failed under CI (which runs as root)."""
    mount_point = tmp_path / "small"
    mount_point.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
    )
    if mounted.returncode != 0:
        missing(f"cannot mount a tmpfs here ({mounted.stderr.strip()}): disk-full not testable; run as root")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=True)


def big_source(root: Path) -> Path:
    write_buildspec(root, "ls")
    with (root / "big.bin").open("wb") as f:
        f.write(b"\x5a" * (6 * 1024 * 1024))  # more than the 4 MiB disk
    return root


def test_full_workspace_disk_is_a_fault(tmp_path: Path, small_disk: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "work").symlink_to(small_disk)  # the workspace lives on the small disk, the store not
    result = run_cli("build", cwd=big_source(tmp_path / "src"), home=home)
    assert result.returncode == 1 and "Traceback" not in result.stdout + result.stderr
    [line] = lines_with(result.stderr, "No space left on device")
    assert "DOWNLOAD_SOURCE" in line
    assert [b["status"] for b in stored(home)] == ["FAULT"]


def test_full_workspace_disk_names_the_fix_and_frees_the_space(tmp_path: Path, small_disk: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "work").symlink_to(small_disk)
    result = run_cli("build", "--json", cwd=big_source(tmp_path / "src"), home=home)
    message = failed_phase(json.loads(result.stdout))["context"]
    assert "no space left" in message.lower() and "RUNNER_HOME" in message and "[(" not in message
    assert sum(f.stat().st_size for f in small_disk.rglob("*") if f.is_file()) == 0


def test_full_store_disk_is_one_line_and_repaired_when_space_returns(
    tmp_path: Path, small_disk: Path
) -> None:
    """RUNNER_HOME itself on the full disk: the store cannot record the end of the build."""
    src = big_source(tmp_path / "src")
    result = run_cli("build", cwd=src, home=small_disk)
    assert result.returncode == 2 and "Traceback" not in result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, result.stderr
    assert result.stderr.startswith(f"runner: error: state store {small_disk}/state.db: the disk is full")
    assert "free space" in result.stderr
    for workspace in (small_disk / "work").iterdir():  # the user frees space
        subprocess.run(["rm", "-rf", str(workspace)], check=True)
    (src / "big.bin").unlink()
    again = run_cli("build", cwd=src, home=small_disk)
    assert again.returncode == 0, again.stderr
    assert "recorded as FAULT" in again.stderr
    store = Store(small_disk / "state.db")
    try:
        first = get_build(store, "src:1")
        assert first is not None and first.status == "FAULT" and store.integrity_ok()
    finally:
        store.close()
