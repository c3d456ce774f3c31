"""The post-commit hook on real git: chaining, exact restore, queueing, never failing a commit."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner import cli
from runner.adapters.processes import pid_alive
from runner.store import open_store
from runner.store import queue as q
from runner.triggers import hook, post_commit
from tests.unit.triggers_project import git, head, make_project, rows, wait_until

ORIGINAL = b'#!/bin/sh\n# the team\'s own hook\necho "original hook ran" >&2\n'


@pytest.fixture
def project(tmp_path: Path, runner_home: Path) -> Path:
    return make_project(tmp_path)


@pytest.fixture
def lock(runner_home: Path) -> Iterator[int]:
    """This test drains the queue (no detached worker is started by the hook)."""
    fd = post_commit.acquire(str(runner_home), "test")
    assert fd is not None
    yield fd
    os.close(fd)


def test_install_chains_an_existing_hook_and_uninstall_restores_it_exactly(project: Path, lock: int) -> None:
    original = project / ".git" / "hooks" / "post-commit"
    original.write_bytes(ORIGINAL)
    original.chmod(0o750)
    before = os.stat(original)
    installed = hook.install(project)
    assert installed.installed and installed.chained is not None
    assert hook.install(project).chained == installed.chained  # again: still one original, kept
    done = git(project, "commit", "-q", "--allow-empty", "-m", "two")
    assert "original hook ran" in done.stderr  # chained, not overwritten
    hook.uninstall(project)
    assert original.read_bytes() == ORIGINAL
    after = os.stat(original)
    assert stat.S_IMODE(after.st_mode) == 0o750 and after.st_ino == before.st_ino
    assert sorted(p.name for p in original.parent.glob("post-commit*")) == ["post-commit"]


def test_uninstall_without_an_original_removes_the_hook(project: Path) -> None:
    path = hook.install(project).path
    assert hook.state(project).installed
    hook.uninstall(project)
    assert not os.path.lexists(path)


def test_the_hook_queues_the_commit_with_its_branch_and_wakes_the_drainer(
    project: Path, runner_home: Path, lock: int
) -> None:
    open_store(runner_home)
    hook.install(project)
    woken = threading.Event()
    listener = post_commit.WakeListener(str(runner_home), woken.set)
    try:
        git(project, "commit", "-q", "--allow-empty", "-m", "two")
        assert woken.wait(5)
    finally:
        listener.close()
    sha = head(project)
    [entry] = rows(open_store(runner_home))
    assert (entry.kind, entry.commit_sha, entry.ref, entry.source, entry.status) == (
        "pipeline",
        sha,
        "refs/heads/main",
        "post-commit",
        "QUEUED",
    )


def test_a_locked_store_spools_the_commit_and_the_commit_succeeds(
    project: Path, runner_home: Path, lock: int
) -> None:
    store = open_store(runner_home)
    hook.install(project)
    blocker = sqlite3.connect(runner_home / "state.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        done = git(project, "commit", "-q", "--allow-empty", "-m", "while locked")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert done.returncode == 0 and "spooled" in done.stderr
    assert rows(store) == [] and q.pending_spool(runner_home)
    q.ingest_spool(store, runner_home)
    assert [e.commit_sha for e in rows(store)] == [head(project)]
    assert not q.pending_spool(runner_home)


def test_an_unusable_runner_home_never_fails_the_commit(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hook.install(project)
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv("RUNNER_HOME", str(tmp_path / "a-file" / "home"))  # mkdir fails, even for root
    done = git(project, "commit", "-q", "--allow-empty", "-m", "two", check=False)
    assert done.returncode == 0
    assert "post-commit hook could not queue" in done.stderr
    assert git(project, "log", "-1", "--format=%s").stdout.strip() == "two"


@pytest.mark.slow
def test_without_a_watch_the_hook_starts_one_detached_worker_that_drains_and_exits(
    tmp_path: Path, runner_home: Path
) -> None:
    project = make_project(tmp_path, extra="branch: release\n")  # commits on main are skipped
    open_store(runner_home)
    hook.install(project)
    git(project, "commit", "-q", "--allow-empty", "-m", "two")
    store = open_store(runner_home)
    wait_until(lambda: [e.status for e in rows(store)] == ["SKIPPED"], what="the worker drained the queue")
    assert "ships branch release" in (rows(store)[0].reason or "")
    log = runner_home / "worker.log"
    wait_until(lambda: "idle: exiting" in log.read_text(), what="the worker exited")
    pid = int(log.read_text().split(" worker ")[1].split()[0])
    wait_until(lambda: not pid_alive(pid), what="the worker process is gone")
    assert post_commit.holder(str(runner_home)) is None
    assert "Traceback" not in log.read_text()


def test_cli_hook_install_status_uninstall(
    project: Path,
    runner_home: Path,
    lock: int,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(project)
    assert cli.main(["hook", "install"]) == 0
    git(project, "commit", "-q", "--allow-empty", "-m", "two")
    capsys.readouterr()
    assert cli.main(["hook", "status", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["installed"] is True and data["chained"] is None
    assert data["drained_by"] == {"pid": os.getpid(), "role": "test"}
    assert [(e["kind"], e["commit"], e["status"]) for e in data["queue"]] == [
        ("pipeline", head(project), "QUEUED")
    ]
    assert cli.main(["hook", "uninstall"]) == 0
    assert not hook.state(project).installed


def test_merges_and_rebases_are_queued_too(project: Path, runner_home: Path, lock: int) -> None:
    """post-merge (merge, pull) and post-rewrite (a rebase finishing) run the same hook."""
    open_store(runner_home)
    hook.install(project)
    assert all(hook.is_ours(hook.hook_path(project, name)) for name in hook.HOOKS)
    for branch in ("topic", "feature"):
        git(project, "checkout", "-q", "-b", branch, "main")
        git(project, "commit", "-q", "--allow-empty", "-m", f"{branch} work")
    git(project, "checkout", "-q", "main")
    git(project, "commit", "-q", "--allow-empty", "-m", "main work")
    git(project, "merge", "-q", "--no-ff", "--no-edit", "topic")
    merged = head(project)
    git(project, "checkout", "-q", "feature")
    git(project, "rebase", "-q", "main")  # new commits, made without post-commit
    rebased = head(project)
    queued = {entry.commit_sha for entry in rows(open_store(runner_home))}
    assert {merged, rebased} <= queued
    hook.uninstall(project)
    assert not any(os.path.lexists(hook.hook_path(project, name)) for name in hook.HOOKS)
