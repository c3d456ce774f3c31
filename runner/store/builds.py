"""Build records: builds, their phases and log lines."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runner.store import outbox
from runner.store.db import Store


@dataclass(frozen=True, slots=True)
class BuildRecord:
    id: str
    project: str
    number: int
    service: str | None
    status: str
    initiator: str
    source_dir: str
    source_version: str | None
    resolved_source_version: str | None
    build_image: str
    buildspec: str
    started: float
    ended: float | None
    pid: int | None
    result: dict[str, Any] | None
    request: dict[str, Any] | None = None  # BuildRequest.as_json() (runner/codebuild/build_control.py)

    def summary(self) -> dict[str, Any]:
        """The object `runner history --json` prints for one build."""
        return {
            "id": self.id,
            "number": self.number,
            "project": self.project,
            "service": self.service,
            "status": self.status,
            "initiator": self.initiator,
            "source_version": self.source_version,
            "resolved_source_version": self.resolved_source_version,
            "started": self.started,
            "ended": self.ended,
            "duration_s": round(self.ended - self.started, 3) if self.ended else None,
            "engine": (self.result or {}).get("engine"),  # -H's or a build fleet's; None: the default one
        }

    def started_text(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(self.started))

    def duration_text(self) -> str:
        return f"{self.ended - self.started:.1f}s" if self.ended else "running"


def _record(row: Any) -> BuildRecord:
    values = dict(row)
    values["result"] = json.loads(values["result"]) if values["result"] else None
    values["request"] = json.loads(values["request"]) if values.get("request") else None
    return BuildRecord(**values)


def next_number(store: Store, project: str) -> int:
    rows = store.query("SELECT COALESCE(MAX(number), 0) + 1 FROM builds WHERE project=?", (project,))
    return int(rows[0][0])


def create_build(store: Store, record: BuildRecord, batch: tuple[str, str] | None = None) -> BuildRecord:
    """Insert a build with the next number of its project (atomic against other runners);
    a batch task's build is linked to its task (batch id, identifier) in the same step."""
    with store.transaction() as db:
        number = db.execute(
            "SELECT COALESCE(MAX(number), 0) + 1 FROM builds WHERE project=?", (record.project,)
        ).fetchone()[0]
        db.execute(
            "INSERT INTO builds (id, project, number, service, status, initiator, source_dir, "
            "source_version, resolved_source_version, build_image, buildspec, started, pid, request) "
            "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                record.id,
                record.project,
                number,
                record.service,
                record.status,
                record.initiator,
                record.source_dir,
                record.source_version,
                record.resolved_source_version,
                record.build_image,
                record.buildspec,
                record.started,
                record.pid,
                json.dumps(record.request) if record.request is not None else None,
            ),
        )
        if batch is not None:
            db.execute(
                "UPDATE batch_builds SET build_id=?, status='IN_PROGRESS' WHERE batch_id=? AND identifier=?",
                (record.id, *batch),
            )
        outbox.build_changed(store, db, record.id)
    return get_build(store, record.id) or record


def finish_build(store: Store, build_id: str, status: str, result: dict[str, Any]) -> None:
    with store.transaction() as db:
        db.execute(
            "UPDATE builds SET status=?, ended=?, result=? WHERE id=?",
            (status, time.time(), json.dumps(result), build_id),
        )
        outbox.build_changed(store, db, build_id)


def note_result(store: Store, build_id: str, **fields: Any) -> None:
    """Add fields to a finished build's result (where a fleet ran it) without announcing a change."""
    with store.transaction() as db:
        rows = db.execute("SELECT result FROM builds WHERE id=?", (build_id,)).fetchall()
        if rows:
            result = json.loads(rows[0][0]) if rows[0][0] else {}
            db.execute("UPDATE builds SET result=? WHERE id=?", (json.dumps(result | fields), build_id))


def reopen_build(store: Store, build_id: str, pid: int) -> None:
    """A service build's image step runs after its phases: the build is in progress again
    until the image exists, so a crash there is found by recovery like any other."""
    with store.transaction() as db:
        db.execute("UPDATE builds SET status='IN_PROGRESS', ended=NULL, pid=? WHERE id=?", (pid, build_id))
        outbox.build_changed(store, db, build_id)


def get_build(store: Store, ref: str) -> BuildRecord | None:
    """A build by id, by `project:number`, or by number (the newest project with it)."""
    rows = store.query("SELECT * FROM builds WHERE id=?", (ref,))
    if not rows and ref.isdigit():
        rows = store.query("SELECT * FROM builds WHERE number=? ORDER BY started DESC", (int(ref),))
    if not rows and ":" in ref:
        project, _, number = ref.rpartition(":")
        if number.isdigit():
            rows = store.query("SELECT * FROM builds WHERE project=? AND number=?", (project, int(number)))
    return _record(rows[0]) if rows else None


def list_builds(
    store: Store, service: str | None = None, status: str | None = None, limit: int = 50
) -> list[BuildRecord]:
    sql, params = "SELECT * FROM builds WHERE 1=1", []
    if service:
        sql += " AND service=?"
        params.append(service)
    if status:
        sql += " AND status=?"
        params.append(status.upper())
    sql += " ORDER BY started DESC"
    if limit > 0:
        sql += f" LIMIT {int(limit)}"
    return [_record(r) for r in store.query(sql, tuple(params))]


def record_phase(
    store: Store,
    build_id: str,
    idx: int,
    name: str,
    status: str,
    started: float,
    ended: float | None,
    context: list[dict[str, str]],
    snapshot: str | None = None,
) -> None:
    with store.transaction() as db:
        db.execute(
            "INSERT OR REPLACE INTO phases (build_id, idx, name, status, started, ended, context, "
            "snapshot) VALUES (?,?,?,?,?,?,?,?)",
            (build_id, idx, name, status, started, ended, json.dumps(context), snapshot),
        )
        outbox.phase_completed(store, db, build_id, idx)


def phases_of(store: Store, build_id: str) -> list[dict[str, Any]]:
    rows = store.query("SELECT * FROM phases WHERE build_id=? ORDER BY idx", (build_id,))
    return [dict(r) | {"context": json.loads(r["context"])} for r in rows]


def append_logs(store: Store, build_id: str, first_seq: int, lines: Iterable[tuple[float, str]]) -> None:
    rows = [(build_id, first_seq + i, ts, text) for i, (ts, text) in enumerate(lines)]
    if rows:
        with store.transaction() as db:
            db.executemany("INSERT INTO log_lines (build_id, seq, ts, text) VALUES (?,?,?,?)", rows)


def log_lines(store: Store, build_id: str, after_seq: int = 0) -> list[tuple[int, str]]:
    rows = store.query(
        "SELECT seq, text FROM log_lines WHERE build_id=? AND seq>? ORDER BY seq",
        (build_id, after_seq),
    )
    return [(int(r[0]), str(r[1])) for r in rows]


def running_builds(store: Store) -> list[BuildRecord]:
    return [_record(r) for r in store.query("SELECT * FROM builds WHERE ended IS NULL")]


def request_stop(store: Store, build_id: str) -> None:
    store.event("build.stop-requested", build_id)


def stop_requested(store: Store, build_id: str) -> bool:
    rows = store.query(
        "SELECT 1 FROM events WHERE kind='build.stop-requested' AND subject=? LIMIT 1", (build_id,)
    )
    return bool(rows)


@dataclass(frozen=True, slots=True)
class BuildOutline:
    """What `runner gc` needs of every build: who it is, whether it runs, its commit."""

    id: str
    project: str
    number: int
    running: bool
    commit: str | None


def outlines(store: Store) -> list[BuildOutline]:
    rows = store.query("SELECT id, project, number, ended, resolved_source_version FROM builds")
    return [
        BuildOutline(r["id"], r["project"], r["number"], r["ended"] is None, r["resolved_source_version"])
        for r in rows
    ]


def event_data(store: Store, kind: str, build_id: str) -> list[dict[str, Any]]:
    """The data of a build's events of one kind, oldest first (e.g. where its artifacts go)."""
    rows = store.query("SELECT data FROM events WHERE kind=? AND subject=? ORDER BY id", (kind, build_id))
    return [json.loads(r[0]) for r in rows]
