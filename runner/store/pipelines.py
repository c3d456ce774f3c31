"""Pipeline executions, stage executions, stage locks and manual approvals."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from typing import Any

from runner.adapters.processes import pid_alive
from runner.store import outbox
from runner.store.db import Store

IN_PROGRESS, SUCCEEDED, FAILED = "InProgress", "Succeeded", "Failed"
STOPPED, SUPERSEDED = "Stopped", "Superseded"
ENDED = (SUCCEEDED, FAILED, STOPPED, SUPERSEDED)
PENDING, APPROVED, REJECTED, EXPIRED = "Pending", "Approved", "Rejected", "Expired"
WAITING_PREFIX = "waiting:"


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    id: str
    pipeline: str
    commit_sha: str | None
    status: str
    mode: str
    trigger: str
    current_stage: str | None
    created: float
    ended: float | None
    pid: int | None
    detail: dict[str, Any]

    @property
    def waiting_for(self) -> str | None:
        stage = self.current_stage or ""
        return stage[len(WAITING_PREFIX) :] if stage.startswith(WAITING_PREFIX) else None


def _execution(row: Any) -> ExecutionRecord:
    values = dict(row)
    values["detail"] = json.loads(values["detail"] or "{}")
    return ExecutionRecord(**values)


def create_execution(
    store: Store, execution_id: str, pipeline: str, commit: str | None, mode: str, trigger: str
) -> ExecutionRecord:
    with store.transaction() as db:
        db.execute(
            "INSERT INTO executions (id, pipeline, commit_sha, status, mode, trigger, created, pid) "
            "VALUES (?,?,?,?,?,?,?,?)",
            (execution_id, pipeline, commit, IN_PROGRESS, mode, trigger, time.time(), os.getpid()),
        )
        outbox.execution_changed(store, db, execution_id, None)
    found = get_execution(store, execution_id)
    assert found is not None
    return found


def get_execution(store: Store, ref: str) -> ExecutionRecord | None:
    rows = store.query("SELECT * FROM executions WHERE id=?", (ref,))
    if not rows:  # a unique prefix is enough, as with git commits
        rows = store.query("SELECT * FROM executions WHERE id LIKE ? LIMIT 2", (ref + "%",))
        rows = rows if len(rows) == 1 else []
    return _execution(rows[0]) if rows else None


def list_executions(store: Store, limit: int = 20) -> list[ExecutionRecord]:
    rows = store.query("SELECT * FROM executions ORDER BY created DESC LIMIT ?", (limit,))
    return [_execution(r) for r in rows]


def set_execution(store: Store, execution_id: str, **fields: Any) -> None:
    if "detail" in fields:
        fields["detail"] = json.dumps(fields["detail"], sort_keys=True)
    columns = ", ".join(f"{name}=?" for name in fields)
    with store.transaction() as db:
        before = _status(db, execution_id)
        db.execute(f"UPDATE executions SET {columns} WHERE id=?", (*fields.values(), execution_id))
        outbox.execution_changed(store, db, execution_id, before)


def finish_execution(store: Store, execution_id: str, status: str) -> None:
    with store.transaction() as db:
        db.execute(
            "UPDATE executions SET status=?, ended=?, current_stage=NULL WHERE id=? AND status=?",
            (status, time.time(), execution_id, IN_PROGRESS),
        )
        outbox.execution_changed(store, db, execution_id, IN_PROGRESS)


def _status(db: Any, execution_id: str) -> str | None:
    row = db.execute("SELECT status FROM executions WHERE id=?", (execution_id,)).fetchone()
    return str(row[0]) if row else None


# ---------------------------------------------------------------- stages


def stage_rows(store: Store, execution_id: str) -> dict[str, dict[str, Any]]:
    rows = store.query(
        "SELECT * FROM stage_executions WHERE execution_id=? ORDER BY started", (execution_id,)
    )
    return {r["stage"]: dict(r) | {"detail": json.loads(r["detail"] or "{}")} for r in rows}


def record_stage(
    store: Store,
    execution_id: str,
    stage: str,
    status: str,
    detail: dict[str, Any] | None = None,
    ended: bool = False,
) -> None:
    now = time.time()
    with store.transaction() as db:
        existing = db.execute(
            "SELECT started, detail, status FROM stage_executions WHERE execution_id=? AND stage=?",
            (execution_id, stage),
        ).fetchone()
        merged = json.loads(existing["detail"]) if existing else {}
        merged.update(detail or {})
        db.execute(
            "INSERT OR REPLACE INTO stage_executions (execution_id, stage, status, started, ended, "
            "detail) VALUES (?,?,?,?,?,?)",
            (
                execution_id,
                stage,
                status,
                existing["started"] if existing else now,
                now if ended else None,
                json.dumps(merged, sort_keys=True),
            ),
        )
        before = existing["status"] if existing else None
        outbox.stage_changed(store, db, execution_id, stage, before, str(merged.get("error", "")))


# ---------------------------------------------------------------- stage locks


def try_enter_stage(store: Store, execution: ExecutionRecord, stage: str) -> str:
    """Enter a stage if it is free; else wait in front of it, by the execution mode's rules.

    Returns "entered", "waiting" or the execution's end status if it was ended meanwhile
    (e.g. Superseded by a newer execution). CodePipeline's rules: a stage processes one
    execution at a time; in SUPERSEDED mode at most one execution waits in front of a
    busy stage and a newer arrival replaces it; in QUEUED mode waiting executions keep
    their order; PARALLEL executions never wait. Nobody jumps ahead of an older waiting
    execution, except by superseding it.
    """
    lock = f"stage:{execution.pipeline}:{stage}"
    with store.transaction() as db:
        status = db.execute("SELECT status FROM executions WHERE id=?", (execution.id,)).fetchone()[0]
        if status != IN_PROGRESS:
            return str(status)
        if execution.mode == "PARALLEL":
            db.execute("UPDATE executions SET current_stage=? WHERE id=?", (stage, execution.id))
            return "entered"
        holder = db.execute("SELECT holder, pid FROM locks WHERE name=?", (lock,)).fetchone()
        busy = holder is not None and holder["holder"] != execution.id and _holder_alive(db, holder)
        waiting = _waiting(db, execution.pipeline, stage, execution.id)
        ahead = [w for w in waiting if w["created"] < execution.created]
        if not busy and not ahead:
            db.execute(
                "INSERT OR REPLACE INTO locks (name, holder, pid, acquired) VALUES (?,?,?,?)",
                (lock, execution.id, os.getpid(), time.time()),
            )
            db.execute("UPDATE executions SET current_stage=? WHERE id=?", (stage, execution.id))
            return "entered"
        db.execute("UPDATE executions SET current_stage=? WHERE id=?", (WAITING_PREFIX + stage, execution.id))
        if execution.mode == "SUPERSEDED":
            for other in ahead:
                db.execute(
                    "UPDATE executions SET status=?, ended=?, current_stage=NULL WHERE id=?",
                    (SUPERSEDED, time.time(), other["id"]),
                )
                outbox.execution_changed(store, db, other["id"], IN_PROGRESS)
        return "waiting"


def _holder_alive(db: Any, holder: Any) -> bool:
    row = db.execute("SELECT status, pid FROM executions WHERE id=?", (holder["holder"],)).fetchone()
    return row is not None and row["status"] == IN_PROGRESS and pid_alive(row["pid"])


def _waiting(db: Any, pipeline: str, stage: str, me: str) -> list[Any]:
    return list(
        db.execute(
            "SELECT id, created FROM executions WHERE pipeline=? AND status=? AND current_stage=? "
            "AND id<>? ORDER BY created",
            (pipeline, IN_PROGRESS, WAITING_PREFIX + stage, me),
        ).fetchall()
    )


def leave_stage(store: Store, execution: ExecutionRecord, stage: str) -> None:
    store.execute(
        "DELETE FROM locks WHERE name=? AND holder=?",
        (f"stage:{execution.pipeline}:{stage}", execution.id),
    )


def busy_stages(store: Store, pipeline: str) -> dict[str, str]:
    rows = store.query("SELECT name, holder FROM locks WHERE name LIKE ?", (f"stage:{pipeline}:%",))
    return {r["name"].split(":", 2)[2]: r["holder"] for r in rows}


# ---------------------------------------------------------------- approvals


def request_approval(store: Store, execution_id: str, stage: str, token: str, timeout_s: float) -> None:
    now = time.time()
    store.execute(
        "INSERT OR IGNORE INTO approvals (execution_id, stage, token, status, requested, expires) "
        "VALUES (?,?,?,?,?,?)",
        (execution_id, stage, token, PENDING, now, now + timeout_s),
    )


def approval(store: Store, execution_id: str, stage: str | None = None) -> dict[str, Any] | None:
    sql = "SELECT * FROM approvals WHERE execution_id=?"
    params: tuple[Any, ...] = (execution_id,)
    if stage:
        sql += " AND stage=?"
        params += (stage,)
    rows = store.query(sql + " ORDER BY requested DESC LIMIT 1", params)
    return dict(rows[0]) if rows else None


def decide_approval(store: Store, execution_id: str, status: str, summary: str) -> bool:
    """Approve or reject the pending approval of an execution; False if none is pending."""
    with store.transaction() as db:
        changed = db.execute(
            "UPDATE approvals SET status=?, decided=?, summary=? WHERE execution_id=? AND status=?",
            (status, time.time(), summary, execution_id, PENDING),
        ).rowcount
    return changed > 0


def pending_approvals(store: Store) -> list[dict[str, Any]]:
    return [dict(r) for r in store.query("SELECT * FROM approvals WHERE status=?", (PENDING,))]


def unfinished_commits(store: Store) -> set[str]:
    """Commits of executions that have not ended (their snapshots are still needed)."""
    rows = store.query("SELECT commit_sha FROM executions WHERE ended IS NULL")
    return {r["commit_sha"] for r in rows if r["commit_sha"]}
