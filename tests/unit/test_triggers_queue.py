"""The trigger queue and its worker on a real store and real git; stage actions are fakes here
(the real Source/Build path runs in tests/integration/test_triggers_e2e.py)."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.codepipeline.execution import Context, Stage
from runner.core import config_loader
from runner.core.config import PipelineConfig
from runner.store import Store, open_store
from runner.store import pipelines as records
from runner.store import queue as q
from runner.triggers import hook, post_commit
from runner.triggers.dispatch import Dispatcher
from tests.unit.triggers_project import commit_change, make_project, rows, wait_until


class FakeStages:
    """Build/Deploy actions that record calls; the first Build can be held (a long build)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.first_build_entered = threading.Event()
        self.release = threading.Event()

    def action(self, ctx: Context, stage: Stage) -> None:
        self.calls.append((ctx.commit, stage.name))
        if stage.name == "Build" and not self.first_build_entered.is_set():
            self.first_build_entered.set()
            self.release.wait(30)

    def builds(self) -> list[str]:
        return [commit for commit, stage in self.calls if stage == "Build"]


def always_changed(config: PipelineConfig, _store: Store, commit: str) -> dict[str, tuple[bool, str]]:
    return {s.name: (True, f"{s.name}: changed at {commit[:7]}") for s in config.services}


@pytest.fixture
def store(runner_home: Path) -> Iterator[Store]:
    fd = post_commit.acquire(str(runner_home), "test")  # the test drains: the hook starts no worker
    assert fd is not None
    yield open_store(runner_home)
    os.close(fd)


def run_in_thread(dispatcher: Dispatcher) -> threading.Thread:
    thread = threading.Thread(target=dispatcher.run, kwargs={"idle_exit": 0.5}, daemon=True)
    thread.start()
    return thread


def test_a_burst_of_20_commits_builds_the_first_and_the_last_only(tmp_path: Path, store: Store) -> None:
    root = make_project(tmp_path)
    hook.install(root)
    fake, lines = FakeStages(), []
    dispatcher = Dispatcher(
        root / "pipeline.yml", store, lines.append, actions={"Build": fake.action, "Deploy": fake.action},
        decide=always_changed,
    )  # fmt: skip
    worker = run_in_thread(dispatcher)
    commits = [commit_change(root, "services/api/app.py", f"print({i})\n") for i in range(20)]
    fake.first_build_entered.wait(30)
    superseded = lambda: [e for e in records.list_executions(store, 50) if e.status == "Superseded"]  # noqa: E731
    wait_until(lambda: len(superseded()) == 18, what="18 executions superseded while the first builds")
    fake.release.set()
    worker.join(60)
    assert not worker.is_alive()
    assert fake.builds() == [commits[0], commits[-1]]
    by_commit = {e.commit_sha: e for e in rows(store)}
    assert [by_commit[c].status for c in commits] == ["SUCCEEDED"] + ["SUPERSEDED"] * 18 + ["SUCCEEDED"]
    assert all(by_commit[c].source == "post-commit" and by_commit[c].result_id for c in commits)
    assert any("SUPERSEDED" in line for line in lines)


def test_a_commit_changing_no_service_input_starts_no_execution(tmp_path: Path, store: Store) -> None:
    root = make_project(tmp_path)
    sha = commit_change(root, "README.md", "docs only\n")
    q.enqueue_commit(store, sha, "refs/heads/main", "test")
    unchanged = lambda c, s, sha: {x.name: (False, f"{x.name}: no input changed") for x in c.services}  # noqa: E731
    lines: list[str] = []
    Dispatcher(root / "pipeline.yml", store, lines.append, decide=unchanged).run(idle_exit=0)
    [entry] = rows(store)
    assert (entry.status, entry.reason, entry.result_id) == ("SKIPPED", "no service input changed", None)
    assert records.list_executions(store) == []
    assert "queue #1 pipeline " + sha[:12] + ": api: no input changed" in lines
    [event] = store.query("SELECT data FROM events WHERE kind='trigger.decision' AND subject=?", (sha,))
    assert '"rebuild": false' in event["data"]


def test_commits_are_queued_once_per_ref(store: Store) -> None:
    sha = "a" * 40
    first = q.enqueue_commit(store, sha, "refs/heads/main", "post-commit")
    assert first is not None
    assert q.enqueue_commit(store, sha, "refs/heads/main", "watch") is None  # the watcher saw it too
    assert q.enqueue_commit(store, sha, "refs/heads/release", "watch") is not None  # merged elsewhere


def test_only_the_newest_waiting_build_of_a_service_stays_queued(tmp_path: Path, store: Store) -> None:
    root = make_project(tmp_path)
    started, release = threading.Event(), threading.Event()
    built: list[str] = []

    class Result:
        build, image, error, status = None, None, "", "SUCCEEDED"

    def fake_build(config: PipelineConfig, name: str, _store: Store, **_options: object) -> Result:
        built.append(name)
        started.set()
        release.wait(30)
        return Result()

    dispatcher = Dispatcher(root / "pipeline.yml", store, lambda _line: None, build=fake_build)
    first, _ = q.enqueue_build(store, "api", "watch")
    worker = run_in_thread(dispatcher)
    started.wait(30)
    later = [q.enqueue_build(store, "api", "watch") for _ in range(3)]
    web, _ = q.enqueue_build(store, "web", "watch")  # another service builds meanwhile
    wait_until(lambda: built.count("web") == 1, what="web built while api builds")
    assert [superseded for _, superseded in later] == [[], [later[0][0]], [later[1][0]]]
    release.set()
    worker.join(30)
    assert built == ["api", "web", "api"]
    status = {e.id: e.status for e in rows(store)}
    assert status == {
        first: "SUCCEEDED",
        later[0][0]: "SUPERSEDED",
        later[1][0]: "SUPERSEDED",
        later[2][0]: "SUCCEEDED",
        web: "SUCCEEDED",
    }


def test_pipeline_yml_is_read_again_for_every_run(tmp_path: Path, store: Store) -> None:
    root = make_project(tmp_path)
    seen: list[tuple[str, ...]] = []

    def decide(config: PipelineConfig, _store: Store, _commit: str) -> dict[str, tuple[bool, str]]:
        seen.append(tuple(s.name for s in config.services))
        return {}

    dispatcher = Dispatcher(root / "pipeline.yml", store, lambda _line: None, decide=decide)
    q.enqueue_commit(store, commit_change(root, "services/api/app.py", "1\n"), "refs/heads/main", "t")
    dispatcher.run(idle_exit=0)
    text = (root / "pipeline.yml").read_text().replace("  web: {path: services/web}\n", "")
    q.enqueue_commit(store, commit_change(root, "pipeline.yml", text), "refs/heads/main", "t")
    dispatcher.run(idle_exit=0)
    assert seen == [("api", "web"), ("api",)]
    assert config_loader.load(root / "pipeline.yml").services[0].name == "api"


def test_shutdown_stops_running_and_waiting_executions_and_releases_their_stages(
    tmp_path: Path, store: Store
) -> None:
    root = make_project(tmp_path)
    entered, threads_before = threading.Event(), set(threading.enumerate())

    def long_build(ctx: Context, stage: Stage) -> None:
        entered.set()
        while True:  # a Python-level wait, as the pipeline's own polls are
            time.sleep(0.05)

    dispatcher = Dispatcher(
        root / "pipeline.yml", store, lambda _line: None, actions={"Build": long_build}, decide=always_changed
    )
    for i in range(2):
        q.enqueue_commit(store, commit_change(root, "services/api/app.py", f"{i}\n"), "refs/heads/main", "t")
    dispatcher.step()
    entered.wait(10)
    waiting = lambda: any(e.waiting_for == "Build" for e in records.list_executions(store))  # noqa: E731
    wait_until(waiting, what="the second execution waits in front of Build")
    dispatcher.shutdown(timeout=10)
    assert [e.status for e in rows(store)] == ["STOPPED", "STOPPED"]
    assert {e.status for e in records.list_executions(store)} == {"Stopped"}
    assert records.busy_stages(store, "trig") == {}
    assert set(threading.enumerate()) <= threads_before
