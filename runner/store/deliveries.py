"""Reading the outbox, and the bookkeeping of its deliveries: which rule target gets which
event, who is delivering it now (a lease, so two runner processes rarely both send it), and
every attempt with its outcome."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from runner.adapters.processes import pid_alive
from runner.store.db import Store

PENDING, DELIVERED, FAILED, SKIPPED = "PENDING", "DELIVERED", "FAILED", "SKIPPED"


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    rule: str
    target: dict[str, Any]
    attempt: int  # this attempt's number, from 1
    event: dict[str, Any]


def events(
    store: Store, since: float = 0.0, after_seq: int = 0, limit: int = 1000
) -> list[tuple[int, dict[str, Any]]]:
    rows = store.query(
        "SELECT seq, body FROM outbox WHERE ts>=? AND seq>? ORDER BY seq LIMIT ?", (since, after_seq, limit)
    )
    return [(int(r["seq"]), json.loads(r["body"])) for r in rows]


def last_seq(store: Store) -> int:
    return int(store.query("SELECT COALESCE(MAX(seq), 0) FROM outbox")[0][0])


def has_work(store: Store, now: float) -> bool:
    """Anything to route or deliver now (one cheap query: the indexes answer it)."""
    rows = store.query(
        "SELECT EXISTS(SELECT 1 FROM outbox WHERE routed=0) "
        "OR EXISTS(SELECT 1 FROM deliveries WHERE status=? AND next_attempt<=?)",
        (PENDING, now),
    )
    return bool(rows[0][0])


def unrouted(store: Store, limit: int = 200) -> list[tuple[int, float, dict[str, Any]]]:
    rows = store.query("SELECT seq, ts, body FROM outbox WHERE routed=0 ORDER BY seq LIMIT ?", (limit,))
    return [(int(r["seq"]), float(r["ts"]), json.loads(r["body"])) for r in rows]


def route(store: Store, seq: int, targets: Sequence[tuple[str, str]], now: float) -> None:
    """The event's deliveries (rule, target key), once: whoever routes it first records them."""
    with store.transaction() as db:
        if db.execute("UPDATE outbox SET routed=1 WHERE seq=? AND routed=0", (seq,)).rowcount == 0:
            return
        db.executemany(
            "INSERT OR IGNORE INTO deliveries (event_seq, rule, target, status, next_attempt) "
            "VALUES (?,?,?,?,?)",
            [(seq, rule, target, PENDING, now) for rule, target in targets],
        )


def claim_due(store: Store, now: float, hold_s: float, limit: int = 20) -> list[Delivery]:
    """Take deliveries that are due and free (nobody holds them, or their holder died or
    overran its lease), and start an attempt of each."""
    me = os.getpid()
    with store.transaction() as db:
        rows = db.execute(
            "SELECT d.id, d.rule, d.target, d.attempts, d.holder_pid, d.held_until, o.body "
            "FROM deliveries d JOIN outbox o ON o.seq = d.event_seq "
            "WHERE d.status=? AND d.next_attempt<=? ORDER BY d.id LIMIT ?",
            (PENDING, now, limit),
        ).fetchall()
        taken = [r for r in rows if _free(r["holder_pid"], r["held_until"], now, me)]
        for row in taken:
            db.execute(
                "UPDATE deliveries SET attempts=attempts+1, holder_pid=?, held_until=? WHERE id=?",
                (me, now + hold_s, row["id"]),
            )
            db.execute(
                "INSERT INTO delivery_attempts (delivery_id, attempt, pid, started) VALUES (?,?,?,?)",
                (row["id"], row["attempts"] + 1, me, now),
            )
    return [
        Delivery(r["id"], r["rule"], json.loads(r["target"]), r["attempts"] + 1, json.loads(r["body"]))
        for r in taken
    ]


def _free(holder: int | None, held_until: float | None, now: float, me: int) -> bool:
    if holder is None or held_until is None:
        return True
    return held_until < now or (holder != me and not pid_alive(holder))


def finish_attempt(
    store: Store, delivery: Delivery, status: str, error: str = "", retry_at: float | None = None
) -> None:
    """Record the attempt's outcome: DELIVERED, SKIPPED, FAILED (for good), or PENDING again
    at `retry_at`."""
    now = time.time()
    with store.transaction() as db:
        db.execute(
            "UPDATE delivery_attempts SET ended=?, ok=?, error=? WHERE delivery_id=? AND attempt=?",
            (now, int(status in (DELIVERED, SKIPPED)), error or None, delivery.id, delivery.attempt),
        )
        db.execute(
            "UPDATE deliveries SET status=?, next_attempt=?, holder_pid=NULL, held_until=NULL, last_error=? "
            "WHERE id=?",
            (status, retry_at if retry_at is not None else now, error or None, delivery.id),
        )


def expire(store: Store, older_than: float) -> int:
    """Deliveries still pending for events older than the maximum age: given up."""
    with store.transaction() as db:
        return db.execute(
            "UPDATE deliveries SET status=?, last_error=COALESCE(last_error || '; ', '') || ? "
            "WHERE status=? AND event_seq IN (SELECT seq FROM outbox WHERE ts<?)",
            (FAILED, "the event is older than the maximum event age", PENDING, older_than),
        ).rowcount


def listed(store: Store, statuses: Sequence[str] = (FAILED,)) -> list[dict[str, Any]]:
    """Deliveries in these states, each with its event's summary fields and its attempts."""
    marks = ",".join("?" * len(statuses))
    rows = store.query(
        "SELECT d.*, o.body FROM deliveries d JOIN outbox o ON o.seq = d.event_seq "
        f"WHERE d.status IN ({marks}) ORDER BY d.id",
        tuple(statuses),
    )
    result = []
    for row in rows:
        attempts = store.query(
            "SELECT attempt, pid, started, ended, ok, error FROM delivery_attempts "
            "WHERE delivery_id=? ORDER BY attempt",
            (row["id"],),
        )
        event = json.loads(row["body"])
        result.append(
            {
                "event": {k: event[k] for k in ("id", "detail-type", "time")} | {"detail": event["detail"]},
                "rule": row["rule"],
                "target": json.loads(row["target"]),
                "status": row["status"],
                "reason": row["last_error"],
                "attempts": [dict(a) for a in attempts],
            }
        )
    return result


def of_event(store: Store, event_id: str) -> list[dict[str, Any]]:
    """The deliveries of one event (tests and `runner events --json` readers)."""
    rows = store.query(
        "SELECT d.rule, d.target, d.status, d.attempts, d.last_error FROM deliveries d "
        "JOIN outbox o ON o.seq = d.event_seq WHERE o.id=? ORDER BY d.id",
        (event_id,),
    )
    return [dict(r) | {"target": json.loads(r["target"])} for r in rows]
