"""Batch records: a batch build, its tasks, and the build each task became."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from runner.store.db import Store

PENDING = "PENDING"  # a task that has not started (yet): no build, no number
STOP_EVENT = "batch.stop-requested"
_REF = re.compile(r"(?:(?P<project>.+):)?batch-(?P<number>\d+)")


@dataclass(frozen=True, slots=True)
class BatchTask:
    identifier: str
    build_id: str | None  # None: never started
    number: int | None
    status: str  # the build's status once it exists
    depends_on: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        """One entry of `builds` in `runner build --batch --json` (the contract)."""
        return {
            "identifier": self.identifier,
            "number": self.number,
            "status": self.status,
            "depends_on": list(self.depends_on),
        }


@dataclass(frozen=True, slots=True)
class BatchRecord:
    id: str  # <project>:batch-<number>, never a build id
    project: str
    number: int
    kind: str
    status: str
    buildspec: str
    started: float
    ended: float | None
    pid: int | None
    detail: dict[str, Any]


def is_batch_ref(ref: str) -> bool:
    """`batch-3` or `project:batch-3` (a build is a number, project:number or project:uuid)."""
    return _REF.fullmatch(ref) is not None


def create_batch(
    store: Store,
    project: str,
    kind: str,
    buildspec: str,
    tasks: Sequence[tuple[str, tuple[str, ...], dict[str, Any]]],
    pid: int,
    detail: dict[str, Any],
) -> BatchRecord:
    """The batch and every task (PENDING) in one transaction, numbered per project."""
    with store.transaction() as db:
        number = db.execute(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM batches WHERE project=?", (project,)
        ).fetchone()[0]
        batch_id = f"{project}:batch-{number}"
        db.execute(
            "INSERT INTO batches (id, project, number, kind, status, buildspec, started, pid, detail) "
            "VALUES (?,?,?,?,?,?,?,?,?)",
            (batch_id, project, number, kind, "IN_PROGRESS", buildspec, time.time(), pid, json.dumps(detail)),
        )
        db.executemany(
            "INSERT INTO batch_builds (batch_id, idx, identifier, status, depends_on, settings) "
            "VALUES (?,?,?,?,?,?)",
            [
                (batch_id, idx, identifier, PENDING, json.dumps(list(deps)), json.dumps(settings))
                for idx, (identifier, deps, settings) in enumerate(tasks)
            ],
        )
    found = get_batch(store, batch_id)
    assert found is not None
    return found


def link_build(store: Store, batch_id: str, identifier: str, build_id: str) -> None:
    """A task's build exists (recorded as soon as the build is, so a stop finds it)."""
    store.execute(
        "UPDATE batch_builds SET build_id=?, status='IN_PROGRESS' WHERE batch_id=? AND identifier=?",
        (build_id, batch_id, identifier),
    )


def set_task_status(store: Store, batch_id: str, identifier: str, status: str) -> None:
    store.execute(
        "UPDATE batch_builds SET status=? WHERE batch_id=? AND identifier=?", (status, batch_id, identifier)
    )


def finish_batch(store: Store, batch_id: str, status: str) -> None:
    """The batch ends; tasks still PENDING never ran: STOPPED, as CodeBuild lists them."""
    with store.transaction() as db:
        db.execute(
            "UPDATE batch_builds SET status='STOPPED' WHERE batch_id=? AND status=?", (batch_id, PENDING)
        )
        db.execute("UPDATE batches SET status=?, ended=? WHERE id=?", (status, time.time(), batch_id))


def get_batch(store: Store, ref: str) -> BatchRecord | None:
    """By id, or `batch-N` (the newest batch with that number), or `project:batch-N`."""
    rows = store.query("SELECT * FROM batches WHERE id=?", (ref,))
    match = _REF.fullmatch(ref)
    if not rows and match and not match.group("project"):
        rows = store.query(
            "SELECT * FROM batches WHERE number=? ORDER BY started DESC LIMIT 1",
            (int(match.group("number")),),
        )
    return _record(rows[0]) if rows else None


def tasks_of(store: Store, batch_id: str) -> list[BatchTask]:
    rows = store.query(
        "SELECT t.identifier, t.build_id, t.status AS task_status, t.depends_on, b.number, b.status "
        "FROM batch_builds t LEFT JOIN builds b ON b.id = t.build_id WHERE t.batch_id=? ORDER BY t.idx",
        (batch_id,),
    )
    return [
        BatchTask(
            identifier=r["identifier"],
            build_id=r["build_id"],
            number=r["number"],
            status=r["status"] or r["task_status"],
            depends_on=tuple(json.loads(r["depends_on"])),
        )
        for r in rows
    ]


def batch_links(store: Store, build_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
    """build id → (batch id, identifier) for the builds that are batch tasks."""
    ids = list(build_ids)
    found: dict[str, tuple[str, str]] = {}
    for start in range(0, len(ids), 500):  # SQLite's limit on bound parameters
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        rows = store.query(
            f"SELECT build_id, batch_id, identifier FROM batch_builds WHERE build_id IN ({marks})",
            tuple(chunk),
        )
        found.update({r["build_id"]: (r["batch_id"], r["identifier"]) for r in rows})
    return found


def with_batch(summary: dict[str, Any], link: tuple[str, str] | None) -> dict[str, Any]:
    """A build's summary; a batch task's also says which batch, and which task of it, it is."""
    if link is None:
        return summary
    return summary | {"batch": {"id": link[0], "identifier": link[1]}}


def list_batches(store: Store, limit: int = 50) -> list[BatchRecord]:
    sql = "SELECT * FROM batches ORDER BY started DESC" + (f" LIMIT {int(limit)}" if limit > 0 else "")
    return [_record(r) for r in store.query(sql)]


def running_batches(store: Store) -> list[BatchRecord]:
    return [_record(r) for r in store.query("SELECT * FROM batches WHERE ended IS NULL")]


def request_batch_stop(store: Store, batch_id: str) -> None:
    store.event(STOP_EVENT, batch_id)


def batch_stop_requested(store: Store, batch_id: str) -> bool:
    rows = store.query("SELECT 1 FROM events WHERE kind=? AND subject=? LIMIT 1", (STOP_EVENT, batch_id))
    return bool(rows)


def _record(row: Any) -> BatchRecord:
    values = dict(row)
    values["detail"] = json.loads(values["detail"] or "{}")
    return BatchRecord(**values)
