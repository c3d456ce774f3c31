"""The outbox: each state change's event, appended inside the transaction that records it.

So a crash never loses an event (it commits with its state) and never announces what did
not happen (it rolls back with it). The events are built from the rows just written by
runner/events/shapes.py; delivery (runner/events/delivery.py) reads them later.
"""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

from runner.events import shapes
from runner.events.shapes import Where
from runner.store.db import Store

_WHERE: dict[Path, Where] = {}  # per store: pipeline.yml's account and region (set by the CLI)


def configure(store: Store, where: Where) -> None:
    _WHERE[store.path] = where


def where_of(store: Store) -> Where:
    return _WHERE.get(store.path, Where())


def append(db: sqlite3.Connection, event: dict[str, Any]) -> None:
    db.execute(
        "INSERT INTO outbox (id, ts, detail_type, body) VALUES (?,?,?,?)",
        (event["id"], time.time(), event["detail-type"], json.dumps(event, sort_keys=True)),
    )


# ---------------------------------------------------------------- CodeBuild


def build_changed(store: Store, db: sqlite3.Connection, build_id: str) -> None:
    """The build's status just changed (created, finished, reopened)."""
    facts = _build_facts(db, build_id)
    if facts is not None:
        append(db, shapes.build_state(where_of(store), facts, time.time()))


def phase_completed(store: Store, db: sqlite3.Connection, build_id: str, idx: int) -> None:
    facts = _build_facts(db, build_id)
    phase = next((p for p in facts.phases if p["idx"] == idx), None) if facts else None
    if facts is not None and phase is not None and phase["ended"] is not None:
        append(db, shapes.build_phase(where_of(store), facts, phase, time.time()))


def _build_facts(db: sqlite3.Connection, build_id: str) -> shapes.BuildFacts | None:
    build = db.execute("SELECT * FROM builds WHERE id=?", (build_id,)).fetchone()
    if build is None:
        return None
    phases = db.execute("SELECT * FROM phases WHERE build_id=? ORDER BY idx", (build_id,)).fetchall()
    link = db.execute(
        "SELECT batch_id, identifier FROM batch_builds WHERE build_id=?", (build_id,)
    ).fetchone()
    return shapes.BuildFacts(dict(build), [dict(p) for p in phases], (link[0], link[1]) if link else None)


# ---------------------------------------------------------------- CodePipeline


def execution_changed(store: Store, db: sqlite3.Connection, execution_id: str, before: str | None) -> None:
    """An execution's status changed from `before` (None: it was just created)."""
    row = db.execute("SELECT * FROM executions WHERE id=?", (execution_id,)).fetchone()
    if row is None or row["status"] == before:
        return
    resumed = before is not None and row["status"] == "InProgress"
    state = "RESUMED" if resumed else shapes.PIPELINE_STATES.get(row["status"])
    if state:
        append(db, shapes.pipeline_state(where_of(store), dict(row), state, time.time()))


def stage_changed(
    store: Store, db: sqlite3.Connection, execution_id: str, stage: str, before: str | None, summary: str
) -> None:
    """A stage's status changed from `before`: the stage's event and its action's, in order
    (the action starts after its stage and ends before it)."""
    row = db.execute("SELECT * FROM executions WHERE id=?", (execution_id,)).fetchone()
    now_row = db.execute(
        "SELECT status FROM stage_executions WHERE execution_id=? AND stage=?", (execution_id, stage)
    ).fetchone()
    if row is None or now_row is None or now_row["status"] == before:
        return
    status, where, now = now_row["status"], where_of(store), time.time()
    stage_state = (
        "RESUMED" if before is not None and status == "InProgress" else shapes.PIPELINE_STATES.get(status)
    )
    action_state = shapes.ACTION_STATES.get(status)
    if status == "InProgress":
        append(db, shapes.stage_state(where, dict(row), stage, stage_state or "STARTED", now))
    if action_state:
        append(db, shapes.action_state(where, dict(row), stage, action_state, summary, now))
    if status != "InProgress" and stage_state:
        append(db, shapes.stage_state(where, dict(row), stage, stage_state, now))


# ---------------------------------------------------------------- CodeDeploy


def deployment_changed(store: Store, db: sqlite3.Connection, deployment_id: str, before: str | None) -> None:
    """A deployment's status changed from `before` (None: just created). A deployment
    recorded already finished (a rollback to a warm slot) starts and ends at once."""
    row = db.execute("SELECT * FROM deployments WHERE id=?", (deployment_id,)).fetchone()
    if row is None or row["status"] == before:
        return
    state = shapes.DEPLOYMENT_STATES.get(row["status"])
    if state is None:
        return  # Created, Baking: no documented state
    where, now = where_of(store), time.time()
    if before is None and state != "START":
        append(db, shapes.deployment_state(where, dict(row), "START", now))
    append(db, shapes.deployment_state(where, dict(row), state, now))
