"""The trigger queue: commits waiting for a pipeline execution, services waiting for a build.

Rows are written before anything acts on them, so a crash loses nothing: the next worker
finds QUEUED rows (and RUNNING rows whose worker died) and carries on.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.store.db import Store
from runner.store.queue_fast import INSERT_COMMIT, SPOOL_DIR, commit_params, parse_spooled

PIPELINE, BUILD = "pipeline", "build"
QUEUED, RUNNING = "QUEUED", "RUNNING"
SUCCEEDED, FAILED, STOPPED, SUPERSEDED, SKIPPED = "SUCCEEDED", "FAILED", "STOPPED", "SUPERSEDED", "SKIPPED"
ACTIVE = (QUEUED, RUNNING)


@dataclass(frozen=True, slots=True)
class QueueEntry:
    id: int
    kind: str  # pipeline: a commit for a pipeline execution; build: a working-tree service build
    service: str | None
    commit_sha: str | None
    ref: str | None
    source: str  # post-commit | watch | …
    status: str
    enqueued: float
    started: float | None
    ended: float | None
    result_id: str | None  # the execution id or the build id
    reason: str | None

    def label(self) -> str:
        what = self.service if self.kind == BUILD else (self.commit_sha or "")[:12]
        return f"#{self.id} {self.kind} {what}"

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "service": self.service,
            "commit": self.commit_sha,
            "ref": self.ref,
            "source": self.source,
            "status": self.status,
            "enqueued": self.enqueued,
            "started": self.started,
            "ended": self.ended,
            "result_id": self.result_id,
            "reason": self.reason,
        }


_COLUMNS = "id, kind, service, commit_sha, ref, source, status, enqueued, started, ended, result_id, reason"


def _entries(rows: Any) -> list[QueueEntry]:
    return [QueueEntry(**dict(row)) for row in rows]


def enqueue_commit(store: Store, commit: str, ref: str | None, source: str) -> int | None:
    """Queue a pipeline run of a commit; None if the same commit and ref were just queued."""
    with store.transaction() as db:
        cursor = db.execute(INSERT_COMMIT, commit_params(commit, ref, source, time.time()))
        return cursor.lastrowid if cursor.rowcount else None


def enqueue_build(store: Store, service: str, source: str) -> tuple[int, list[int]]:
    """Queue a working-tree build of a service; older waiting builds of it are SUPERSEDED.

    Only the newest waits: it builds the working tree as it is when it starts, which
    holds every change the superseded entries were queued for.
    """
    now = time.time()
    with store.transaction() as db:
        new_id = db.execute(
            "INSERT INTO queue (kind, service, source, status, enqueued) VALUES (?,?,?,?,?)",
            (BUILD, service, source, QUEUED, now),
        ).lastrowid
        assert new_id is not None
        older = [
            int(r[0])
            for r in db.execute(
                "SELECT id FROM queue WHERE kind=? AND service=? AND status=? AND id<>?",
                (BUILD, service, QUEUED, new_id),
            )
        ]
        db.executemany(
            "UPDATE queue SET status=?, ended=?, reason=? WHERE id=?",
            [(SUPERSEDED, now, f"superseded by #{new_id}", old) for old in older],
        )
    return new_id, older


def get(store: Store, entry_id: int) -> QueueEntry | None:
    found = _entries(store.query(f"SELECT {_COLUMNS} FROM queue WHERE id=?", (entry_id,)))
    return found[0] if found else None


def with_status(store: Store, *statuses: str) -> list[QueueEntry]:
    marks = ",".join("?" * len(statuses))
    sql = f"SELECT {_COLUMNS} FROM queue WHERE status IN ({marks}) ORDER BY id"
    return _entries(store.query(sql, statuses))


def active(store: Store) -> list[QueueEntry]:
    """QUEUED and RUNNING rows, oldest first (what `runner status` shows).

    Entries the hook spooled (the store was busy or not created yet) are moved in first:
    they are queued as far as the user is concerned.
    """
    ingest_spool(store, store.path.parent)
    return with_status(store, *ACTIVE)


def recent(store: Store, limit: int = 50) -> list[QueueEntry]:
    return _entries(store.query(f"SELECT {_COLUMNS} FROM queue ORDER BY id DESC LIMIT ?", (limit,)))


def claim(store: Store, entry_id: int) -> bool:
    """QUEUED → RUNNING; False if the row was superseded or claimed meanwhile."""
    with store.transaction() as db:
        return (
            db.execute(
                "UPDATE queue SET status=?, started=? WHERE id=? AND status=?",
                (RUNNING, time.time(), entry_id, QUEUED),
            ).rowcount
            > 0
        )


def set_result(store: Store, entry_id: int, result_id: str) -> None:
    store.execute("UPDATE queue SET result_id=? WHERE id=?", (result_id, entry_id))


def requeue(store: Store, entry_id: int) -> None:
    store.execute("UPDATE queue SET status=?, started=NULL WHERE id=?", (QUEUED, entry_id))


def finish(store: Store, entry_id: int, status: str, reason: str | None = None) -> None:
    store.execute(
        "UPDATE queue SET status=?, ended=?, reason=COALESCE(?, reason) WHERE id=?",
        (status, time.time(), reason, entry_id),
    )


def ingest_spool(store: Store, home: Path) -> list[int]:
    """Move entries the hook spooled (store busy or not created yet) into the queue, in order.

    Each file is deleted after its row is committed; a crash in between only repeats an
    insert, which the duplicate check absorbs.
    """
    directory = home / SPOOL_DIR
    if not directory.is_dir():
        return []
    added = []
    for path in sorted(directory.glob("*.entry")):
        try:
            parsed = parse_spooled(path.read_text(encoding="utf-8"))
        except OSError:
            continue
        if parsed is not None:
            commit, ref, source, enqueued = parsed
            with store.transaction() as db:
                cursor = db.execute(INSERT_COMMIT, commit_params(commit, ref, source, enqueued))
                if cursor.rowcount and cursor.lastrowid is not None:
                    added.append(cursor.lastrowid)
        os.unlink(path)
    return added


def pending_spool(home: Path) -> bool:
    directory = home / SPOOL_DIR
    return directory.is_dir() and any(directory.glob("*.entry"))
