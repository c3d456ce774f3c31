"""Several runners opening one new store at the same moment (a hook and a watcher, two builds)."""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

from runner.store import Store
from runner.store.migrations import MIGRATIONS

PROCESSES = 4
ROUNDS = 20


def _open(path: str, start: Barrier, results: multiprocessing.Queue[str]) -> None:
    start.wait()
    try:
        Store(Path(path)).close()
        results.put("ok")
    except Exception as e:  # reported to the test, which shows it
        results.put(f"{type(e).__name__}: {e}")


def test_concurrent_first_opens_migrate_once(tmp_path: Path) -> None:
    context = multiprocessing.get_context("fork")
    failures = []
    for round_ in range(ROUNDS):
        db = tmp_path / f"round{round_}" / "state.db"
        start, results = context.Barrier(PROCESSES), context.Queue()
        workers = [context.Process(target=_open, args=(str(db), start, results)) for _ in range(PROCESSES)]
        for worker in workers:
            worker.start()
        outcomes = [results.get(timeout=60) for _ in workers]
        for worker in workers:
            worker.join(timeout=60)
        failures += [o for o in outcomes if o != "ok"]
        store = Store(db)
        try:
            assert store.query("PRAGMA user_version")[0][0] == len(MIGRATIONS) and store.integrity_ok()
        finally:
            store.close()
    assert failures == []  # before the fix: "table builds already exists" in most rounds
