"""`kill -9` of `runner build` mid-phase and mid-artifact-copy; the next command repairs.

Repaired means: the orphan container found by label and removed (with a message), the
build recorded as FAULT with the log lines it had written, `PRAGMA integrity_check` ok, and
no half-written artifacts.zip under its real name.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner.store import Store
from runner.store.builds import BuildRecord, get_build, list_builds, log_lines, phases_of, running_builds
from tests.reliability.helpers import run_cli, spawn, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]

TICKING = 'for i in $(seq 600); do echo "tick $i"; sleep 0.2; done'
MANY_FILES = (
    "python3 -c \"import os; os.makedirs('out'); "
    "[open(f'out/f{i:05}.txt', 'w').write(str(i) * 300) for i in range(10000)]\""
)


def write_buildspec(root: Path, commands: list[str], artifacts: bool = False) -> Path:
    root.mkdir(parents=True)
    lines = "".join(f"      - {json.dumps(c)}\n" for c in commands)
    text = f"version: 0.2\nphases:\n  build:\n    commands:\n{lines}"
    if artifacts:
        text += "artifacts:\n  files:\n    - 'out/**/*'\n"
    (root / "buildspec.yml").write_text(text)
    return root


def containers_of(build_id: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=runner.build={build_id}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return out.split()


def open_store(home: Path) -> Store:
    return Store(home / "state.db")


def build_started_by(home: Path, pid: int) -> BuildRecord | None:
    if not (home / "state.db").exists():
        return None
    store = open_store(home)
    try:
        return next((b for b in running_builds(store) if b.pid == pid), None)
    finally:
        store.close()


def logged(home: Path, build_id: str, text: str) -> bool:
    store = open_store(home)
    try:
        return any(text in line for _, line in log_lines(store, build_id))
    finally:
        store.close()


def files_in(directory: Path) -> int:
    try:
        return len(os.listdir(directory))
    except FileNotFoundError:
        return 0


def kill_9(process: subprocess.Popen[bytes]) -> None:
    os.kill(process.pid, signal.SIGKILL)
    assert process.wait(timeout=30) == -signal.SIGKILL


@dataclass(frozen=True)
class Repaired:
    build: BuildRecord
    logs: list[str]
    integrity_ok: bool


def repaired(home: Path, build_id: str) -> Repaired:
    store = open_store(home)
    try:
        build = get_build(store, build_id)
        assert build is not None
        return Repaired(build, [line for _, line in log_lines(store, build_id)], store.integrity_ok())
    finally:
        store.close()


def test_kill_9_mid_phase(tmp_path: Path) -> None:
    src, home = write_buildspec(tmp_path / "src", [TICKING]), tmp_path / "home"
    runner = spawn("build", cwd=src, home=home, log=tmp_path / "runner.log")
    try:
        build = wait_for(lambda: build_started_by(home, runner.pid), what="the build record")
        wait_for(lambda: logged(home, build.id, "tick 3"), what="the phase running")
    finally:
        kill_9(runner)
    orphans = containers_of(build.id)
    assert orphans, "the phase container outlives the runner (what recovery is for)"

    # Any command that writes to the store repairs first; here the user tries to stop it.
    result = run_cli("stop", build.id, cwd=src, home=home)
    assert result.returncode == 0 and "Traceback" not in result.stderr
    assert f"of build {build.id}" in result.stderr and "removed orphan container" in result.stderr
    assert f"build {build.id} was interrupted: recorded as FAULT" in result.stderr
    assert containers_of(build.id) == []
    after = repaired(home, build.id)
    assert after.build.status == "FAULT" and after.build.ended is not None
    assert any("tick 3" in line for line in after.logs)  # the log it had written is kept
    assert after.integrity_ok


def test_read_only_commands_leave_repair_to_the_next_writer(tmp_path: Path) -> None:
    """`runner history` reads; it never touches Docker or the build (no recovery there)."""
    src, home = write_buildspec(tmp_path / "src", [TICKING]), tmp_path / "home"
    runner = spawn("build", cwd=src, home=home, log=tmp_path / "runner.log")
    try:
        build = wait_for(lambda: build_started_by(home, runner.pid), what="the build record")
        wait_for(lambda: containers_of(build.id), what="the phase container")
    finally:
        kill_9(runner)
    listed = run_cli("history", "--json", cwd=src, home=home)
    assert listed.returncode == 0 and listed.stderr == ""
    assert json.loads(listed.stdout)[0]["status"] == "IN_PROGRESS" and containers_of(build.id)
    repaired_by = run_cli("gc", "--dry-run", cwd=src, home=home)
    assert repaired_by.returncode == 0 and "recorded as FAULT" in repaired_by.stderr
    assert containers_of(build.id) == []


@dataclass(frozen=True)
class InterruptedCopy:
    out: Path
    build_id: str
    recovery_stderr: str
    home: Path
    logs_at_kill: list[str]


@pytest.fixture(scope="module")
def interrupted_copy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InterruptedCopy]:
    """A build killed while it writes 10,000 artifact files, then `runner gc --dry-run`."""
    tmp = tmp_path_factory.mktemp("copy")
    src = write_buildspec(tmp / "src", [MANY_FILES], artifacts=True)
    home, out = tmp / "home", tmp / "artifacts-out"
    runner = spawn("build", "-a", str(out), cwd=src, home=home, log=tmp / "runner.log")
    try:
        build = wait_for(lambda: build_started_by(home, runner.pid), what="the build record")
        copying = out / "artifacts.zip.partial"
        wait_for(
            lambda: copying.exists() and files_in(out / "artifacts" / "out") > 100,
            timeout=120,
            what="the artifact copy to be under way",
        )
    finally:
        kill_9(runner)
    assert copying.exists(), "killed after the copy finished: the window was missed"
    at_kill = repaired(home, build.id).logs
    result = run_cli("gc", "--dry-run", cwd=src, home=home)
    assert result.returncode == 0, result.stderr
    yield InterruptedCopy(out, build.id, result.stderr, home, at_kill)


def test_kill_9_mid_artifact_copy(interrupted_copy: InterruptedCopy) -> None:
    copy = interrupted_copy
    assert f"build {copy.build_id} was interrupted: recorded as FAULT" in copy.recovery_stderr
    zip_path = copy.out / "artifacts.zip"
    if zip_path.exists():  # only ever a complete archive under the real name
        with zipfile.ZipFile(zip_path) as archive:
            assert archive.testzip() is None and len(archive.namelist()) == 10000
    after = repaired(copy.home, copy.build_id)
    assert after.build.status == "FAULT"
    assert copy.logs_at_kill and after.logs[: len(copy.logs_at_kill)] == copy.logs_at_kill  # kept
    store = open_store(copy.home)
    try:  # the phases recorded before the crash stay, BUILD among them
        assert ("BUILD", "SUCCEEDED") in [(p["name"], p["status"]) for p in phases_of(store, copy.build_id)]
    finally:
        store.close()
    assert after.integrity_ok
    assert containers_of(copy.build_id) == []


def test_lines_logged_seconds_before_the_kill_are_kept(interrupted_copy: InterruptedCopy) -> None:
    logs = repaired(interrupted_copy.home, interrupted_copy.build_id).logs
    assert any("Phase complete: POST_BUILD State: SUCCEEDED" in line for line in logs)


def test_kill_9_mid_artifact_copy_leaves_no_half_tree(interrupted_copy: InterruptedCopy) -> None:
    leftovers = sorted(p.name for p in interrupted_copy.out.iterdir())
    assert leftovers == [] or (leftovers == ["artifacts", "artifacts.zip"])


# ---------------------------------------------------------------- mid-image-build (runner build SERVICE)

IMAGE_PIPELINE = """\
app: relimg
services:
  web:
    path: web
environments:
  - name: staging
    port: 18999
    test_port: 19999
"""
GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@example.com"]


@dataclass(frozen=True)
class InterruptedImage:
    root: Path
    home: Path
    marker: str
    build_id: str


def image_step_containers(marker: str) -> list[str]:
    """The engine's intermediate container of the Dockerfile's RUN step (it has no runner labels)."""
    out = subprocess.run(
        ["docker", "ps", "-a", "--no-trunc", "--format", "{{.ID}} {{.Command}}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return [line.split()[0] for line in out.splitlines() if marker in line]


@pytest.fixture(scope="module")
def interrupted_image(tmp_path_factory: pytest.TempPathFactory) -> InterruptedImage:
    """`runner build web` killed while the engine runs its Dockerfile's slow RUN step."""
    root = tmp_path_factory.mktemp("image") / "repo"
    marker = f"reliability-{os.getpid()}-{id(root)}"
    (root / "web").mkdir(parents=True)
    (root / "pipeline.yml").write_text(IMAGE_PIPELINE)
    (root / "web" / "buildspec.yml").write_text("version: 0.2\nphases:\n  build:\n    commands: [echo ok]\n")
    (root / "web" / "Dockerfile").write_text(
        f'FROM runner/python:bookworm\nRUN sleep 5 && echo {marker} > /marker\nCMD ["python3", "-V"]\n'
    )
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "init"]):
        subprocess.run([*GIT, *args], cwd=root, check=True, capture_output=True)
    home = root.parent / "home"
    runner = spawn("build", "web", cwd=root, home=home, log=root.parent / "build.log")
    try:
        wait_for(lambda: image_step_containers(marker), timeout=120, what="the image step's RUN")
    finally:
        kill_9(runner)
    store = open_store(home)
    try:
        [build] = list_builds(store)  # the buildspec part of `runner build web`
    finally:
        store.close()
    return InterruptedImage(root, home, marker, build.id)


def test_kill_9_mid_image_build_leaves_no_orphan_and_the_next_build_ships(
    interrupted_image: InterruptedImage,
) -> None:
    run = interrupted_image
    # The engine cancels a build whose client went away: nothing of it keeps running.
    wait_for(lambda: not image_step_containers(run.marker), timeout=60, what="the RUN step to be cancelled")
    again = run_cli("build", "web", "--json", cwd=run.root, home=run.home)
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout)
    assert result["status"] == "SUCCEEDED" and not result["image"]["reused"]
    store = open_store(run.home)
    try:
        assert store.integrity_ok()
    finally:
        store.close()


def test_kill_9_mid_image_build_is_recorded_as_fault(interrupted_image: InterruptedImage) -> None:
    store = open_store(interrupted_image.home)
    try:
        build = get_build(store, interrupted_image.build_id)
    finally:
        store.close()
    assert build is not None and build.status == "FAULT"
