"""`runner watch`'s observers on a real working tree and real git: what queues, what does not."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.store import Store, open_store
from runner.triggers import watcher
from runner.triggers.debounce import Debouncer
from runner.triggers.refs import BranchTracker
from runner.triggers.session import WatchSession
from tests.unit.triggers_project import commit_change, git, head, make_project, rows, wait_until


def test_debouncer_flushes_one_batch_per_burst() -> None:
    batches: list[list[str]] = []
    flushed = threading.Event()
    debouncer = Debouncer(0.05, lambda batch: (batches.append(batch), flushed.set()))
    for name in ("a", "b", "a", "c"):
        debouncer.add(name)
        time.sleep(0.01)
    flushed.wait(5)
    flushed.clear()
    debouncer.add("d")
    flushed.wait(5)
    debouncer.close()
    assert batches == [["a", "b", "c"], ["d"]]


@pytest.fixture
def store(runner_home: Path) -> Store:
    return open_store(runner_home)


@pytest.fixture(params=["per-directory", "one-recursive"])
def watching(
    request: pytest.FixtureRequest, tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, WatchSession]]:
    if request.param == "one-recursive":  # many top-level directories: one watch, filtered events
        monkeypatch.setattr(watcher, "MAX_TOP_WATCHES", 0)
    root = make_project(tmp_path, extra="branch: main\n")
    (root / "services/web/NOTES.md").write_text("notes\n")
    (root / ".runnerignore").write_text("**/NOTES.md\n")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "notes")
    (root / ".runner").mkdir()
    session = WatchSession(root / "pipeline.yml", store, lambda _line: None, lambda: None)
    session.start()
    yield root, session
    session.stop()


def test_saves_under_a_service_queue_one_build_and_ignored_files_none(
    watching: tuple[Path, WatchSession], store: Store
) -> None:
    root, _ = watching
    for i in range(5):  # an editor's save burst
        (root / "services/api/app.py").write_text(f"print({i})\n")
    wait_until(lambda: len(rows(store)) == 1, what="api queued")
    (root / "services/api/debug.log").write_text("gitignored\n")
    (root / "build").mkdir()
    (root / "build/out.txt").write_text("gitignored directory\n")
    (root / ".runner/state.txt").write_text("the runner's own\n")
    (root / "services/web/NOTES.md").write_text("tracked, but .runnerignore'd\n")
    (root / "README.md").write_text("no service's input\n")
    time.sleep(0.3)
    (root / "services/web/app.py").write_text("print('web v2')\n")  # a sentinel after them
    wait_until(lambda: len(rows(store)) == 2, what="web queued")
    time.sleep(0.3)
    assert [(e.kind, e.service, e.commit_sha, e.source) for e in rows(store)] == [
        ("build", "api", None, "watch"),
        ("build", "web", None, "watch"),
    ]


def test_declared_inputs_and_new_top_level_directories_are_watched(
    watching: tuple[Path, WatchSession], store: Store
) -> None:
    root, _ = watching
    text = (root / "pipeline.yml").read_text()
    text = text.replace("{path: services/api}", "{path: services/api, inputs: [libs]}")
    (root / "pipeline.yml").write_text(text)
    wait_until(lambda: len(rows(store)) == 2, what="pipeline.yml concerns every service")
    (root / "libs").mkdir()
    (root / "libs/shared.py").write_text("X = 1\n")
    wait_until(lambda: len(rows(store)) == 3, what="libs/ queued api")
    assert rows(store)[-1].service == "api"


def test_every_commit_on_the_watched_branch_queues_exactly_that_commit(
    watching: tuple[Path, WatchSession], store: Store
) -> None:
    root, _ = watching
    shipped = [commit_change(root, "services/api/app.py", f"print({i})\n", f"c{i}") for i in range(3)]
    git(root, "commit", "-q", "--amend", "-m", "c2 amended")
    shipped.append(head(root))
    git(root, "pack-refs", "--all")
    shipped.append(commit_change(root, "services/web/app.py", "print('packed')\n"))
    git(root, "checkout", "-q", "-b", "feature")
    feature = commit_change(root, "services/web/app.py", "print('feature')\n")
    git(root, "checkout", "-q", "main")
    git(root, "merge", "-q", "--ff-only", "feature")  # the same commit, now on main
    shipped.append(feature)
    wait_until(lambda: len([e for e in rows(store) if e.kind == "pipeline"]) == len(shipped), what="commits")
    time.sleep(0.3)
    pipeline_rows = [e for e in rows(store) if e.kind == "pipeline"]
    assert [e.commit_sha for e in pipeline_rows] == shipped
    assert {(e.ref, e.source) for e in pipeline_rows} == {("refs/heads/main", "watch")}


def test_updates_faster_than_a_look_are_all_found_in_the_reflog(tmp_path: Path) -> None:
    root = make_project(tmp_path)
    tracker = BranchTracker(root, None)
    made = [commit_change(root, "services/api/app.py", f"print({i})\n") for i in range(3)]
    git(root, "reset", "-q", "--hard", made[0])  # moving back ships that commit again
    assert tracker.poll() == [*made, made[0]]
    assert tracker.poll() == []
    git(root, "checkout", "-q", "-b", "other")  # a checkout ships nothing; the tracker follows it
    assert tracker.poll() == [] and tracker.branch == "other"
