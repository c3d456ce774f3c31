"""Recovery's decisions: which builds are interrupted, and that it never touches a live one."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from runner.adapters.processes import started_at, still_running
from runner.codepipeline.recovery import recover
from runner.store import Store
from runner.store.builds import BuildRecord, create_build, get_build

pytestmark = pytest.mark.docker  # recovery asks the engine for the build's containers


def running_build(store: Store, number: int, pid: int | None, started: float) -> str:
    record = BuildRecord(
        id=f"rel:{number:08d}-0000-0000-0000-000000000000",
        project="rel",
        number=0,
        service=None,
        status="IN_PROGRESS",
        initiator="test",
        source_dir="/nonexistent",
        source_version=None,
        resolved_source_version=None,
        build_image="runner/build:bookworm",
        buildspec="buildspec.yml",
        started=started,
        ended=None,
        pid=pid,
        result=None,
    )
    return create_build(store, record).id


def test_only_builds_whose_runner_is_gone_are_repaired(tmp_path: Path) -> None:
    store = Store(tmp_path / "state.db")
    me = os.getpid()
    mine_started = started_at(me)
    assert mine_started is not None
    live = running_build(store, 1, me, time.time())
    gone = running_build(store, 2, None, time.time())
    # A build recorded by an earlier process whose pid this process now has (pids are reused).
    reused = running_build(store, 3, me, mine_started - 3600)
    said: list[str] = []
    repaired = recover(store, said.append)
    assert sorted(repaired) == sorted([gone, reused])
    statuses = {b: getattr(get_build(store, b), "status", None) for b in (live, gone, reused)}
    assert statuses == {live: "IN_PROGRESS", gone: "FAULT", reused: "FAULT"}
    assert f"build {reused} was interrupted: recorded as FAULT (its logs are kept)" in said
    assert recover(store, said.append) == []  # repaired once
    store.close()


def test_still_running_knows_a_reused_pid() -> None:
    me = os.getpid()
    started = started_at(me)
    assert started is not None and started <= time.time()
    assert still_running(me, time.time())
    assert not still_running(me, started - 60)
    assert not still_running(None, time.time())
