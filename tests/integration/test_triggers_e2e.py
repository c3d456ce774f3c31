"""Triggers against real Docker and real git: commits and saves become real builds; Ctrl-C cleans up.

Deploy stages are replaced by a no-op here (the deploy path has its own tests); Source
and Build are the pipeline's own.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.codepipeline.execution import Context, Stage
from runner.store import Store, open_store
from runner.store import pipelines as records
from runner.triggers import hook, post_commit
from runner.triggers.dispatch import Dispatcher
from runner.triggers.session import WatchSession
from tests.conftest import SESSION_LABEL
from tests.unit.triggers_project import commit_change, git, head, make_project, rows, wait_until

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def no_deploy(_ctx: Context, _stage: Stage) -> None:
    pass


def builds_of(store: Store, commit: str | None = None) -> list[tuple[str, str, str | None]]:
    sql = "SELECT service, status, resolved_source_version FROM builds"
    params: tuple[str, ...] = ()
    if commit:
        sql, params = sql + " WHERE resolved_source_version=?", (commit,)
    return [(r[0], r[1], r[2]) for r in store.query(sql + " ORDER BY started", params)]


@pytest.fixture
def store(runner_home: Path) -> Iterator[Store]:
    fd = post_commit.acquire(str(runner_home), "test")  # the test drains: the hook starts no worker
    assert fd is not None
    yield open_store(runner_home)
    os.close(fd)


def test_a_commit_builds_exactly_the_changed_service_for_that_commit(tmp_path: Path, store: Store) -> None:
    root = make_project(tmp_path)
    hook.install(root)
    lines: list[str] = []
    dispatcher = Dispatcher(root / "pipeline.yml", store, lines.append, actions={"Deploy": no_deploy})
    first = commit_change(root, "services/api/app.py", "print('api v2')\n")
    dispatcher.run(idle_exit=0)
    assert sorted(s for s, _, _ in builds_of(store, first)) == ["api", "web"], lines  # first builds
    second = commit_change(root, "services/api/app.py", "print('api v3')\n")
    dispatcher.run(idle_exit=0)
    assert builds_of(store, second) == [("api", "SUCCEEDED", second)], lines
    assert [(e.commit_sha, e.status) for e in rows(store)] == [(first, "SUCCEEDED"), (second, "SUCCEEDED")]
    assert any("api: 1 file changed: services/api/app.py" in line for line in lines), lines
    assert any("web: inputs unchanged since build" in line for line in lines), lines


def test_saves_under_a_service_build_it_once_from_the_working_tree(tmp_path: Path, store: Store) -> None:
    root = make_project(tmp_path)
    lines: list[str] = []
    dispatcher = Dispatcher(root / "pipeline.yml", store, lines.append)
    session = WatchSession(root / "pipeline.yml", store, lines.append, dispatcher.wakeup.set, commits=False)
    session.start()
    worker = threading.Thread(target=dispatcher.run, kwargs={"idle_exit": 2.0})
    worker.start()
    try:
        for i in range(4):
            (root / "services/web/app.py").write_text(f"print('web draft {i}')\n")
            time.sleep(0.005)
        worker.join(120)
    finally:
        session.stop()
    assert [(s, status) for s, status, _ in builds_of(store)] == [("web", "SUCCEEDED")], lines
    [entry] = rows(store)
    assert (entry.kind, entry.service, entry.status) == ("build", "web", "SUCCEEDED")
    assert "-dirty-" in (entry.reason or ""), entry  # the image tag of a working-tree build


def test_ctrl_c_stops_runner_watch_its_execution_and_its_build_cleanly(
    tmp_path: Path, runner_home: Path
) -> None:
    root = make_project(tmp_path)
    for name in ("api", "web"):
        (root / f"services/{name}/buildspec.yml").write_text(SLOW_BUILDSPEC)
    commit_change(root, "README.md", "slow builds\n")
    watch = subprocess.Popen(
        [sys.executable, "-m", "runner", "watch"],
        cwd=root,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(watch.stderr or []), daemon=True)
    reader.start()
    try:
        wait_until(lambda: any(line.startswith("watching") for line in output), 30, "runner watch started")
        (root / "services/web/app.py").write_text("print('web draft')\n")  # a save: a working-tree build
        sha = commit_without_touching_the_tree(root, "services/api/app.py", "print('api v2')\n")
        wait_until(lambda: len(build_containers()) >= 2, 60, "the builds' containers run")
        watch.send_signal(signal.SIGINT)
        assert watch.wait(60) == 130, "".join(output)
    finally:
        if watch.poll() is None:  # the test failed: still leave nothing behind
            watch.send_signal(signal.SIGINT)
            try:
                watch.wait(60)
            except subprocess.TimeoutExpired:
                watch.kill()
                watch.wait()
    reader.join(5)
    if watch.stderr is not None:
        watch.stderr.close()
    assert build_containers() == []
    assert "runner: interrupted" in "".join(output)
    store = open_store(runner_home)
    builds = builds_of(store)  # the pipeline builds both services (first builds), the save builds web
    assert {status for _, status, _ in builds} == {"STOPPED"} and {s for s, _, _ in builds} == {"api", "web"}
    assert {(e.kind, e.status) for e in rows(store)} == {("pipeline", "STOPPED"), ("build", "STOPPED")}
    [execution] = records.list_executions(store)
    assert (execution.commit_sha, execution.status) == (sha, "Stopped")
    assert records.stage_rows(store, execution.id)["Build"]["status"] == "Stopped"
    assert records.busy_stages(store, "trig") == {}
    assert post_commit.holder(str(runner_home)) is None


SLOW_BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 60\n"


def commit_without_touching_the_tree(root: Path, path: str, text: str) -> str:
    """A commit whose change never appears in the working tree (no file event for the watcher)."""
    blob = subprocess.run(
        ["git", "hash-object", "-w", "--stdin"],
        cwd=root,
        input=text,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    git(root, "update-index", "--cacheinfo", f"100644,{blob},{path}")
    git(root, "commit", "-q", "-m", f"change {path}")
    return head(root)


def build_containers() -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={SESSION_LABEL}", "--filter", "label=runner.build"],
        capture_output=True,
        text=True,
    ).stdout
    return out.split()
