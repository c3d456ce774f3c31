"""Read-only queries for the dashboard: one stable JSON shape per object (metrics: metrics_views).

Builds keep the CLI's shapes (BuildRecord.summary() and the stored result); executions,
environments and deployments are shaped here until their own commands exist.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from runner.store.builds import BuildRecord, get_build
from runner.store.db import Store

# Deployment detail keys never shown: environment files and variables stay on disk.
WAITING_PREFIX = "waiting:"  # executions.current_stage while waiting to enter a locked stage
HIDDEN_DETAIL_KEYS = frozenset({"env", "env_file", "state_file", "secrets", "variables"})
_BUILD_COLUMNS = (
    "id, project, number, service, status, initiator, source_dir, source_version, "
    "resolved_source_version, build_image, buildspec, started, ended, pid"
)


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else {}


def _duration(started: float | None, ended: float | None) -> float | None:
    return round(ended - started, 3) if started is not None and ended is not None else None


# ------------------------------------------------------------------ builds


def history(
    store: Store,
    *,
    service: str | None = None,
    status: str | None = None,
    project: str | None = None,
    search: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[BuildRecord], int]:
    """Builds newest first (without their result JSON) and how many match in all."""
    where: list[str] = ["1=1"]
    params: list[Any] = []
    for column, value in (("service", service), ("status", status and status.upper()), ("project", project)):
        if value:
            where.append(f"{column}=?")
            params.append(value)
    if search:
        where.append("(id LIKE ? OR resolved_source_version LIKE ? OR source_version LIKE ?)")
        params += [f"%{search}%"] * 3
    if since is not None:
        where.append("started>=?")
        params.append(since)
    if until is not None:
        where.append("started<?")
        params.append(until)
    clause = " AND ".join(where)
    total = int(store.query(f"SELECT COUNT(*) FROM builds WHERE {clause}", tuple(params))[0][0])
    rows = store.query(
        f"SELECT {_BUILD_COLUMNS} FROM builds WHERE {clause} ORDER BY started DESC LIMIT ? OFFSET ?",
        (*params, max(limit, 0) or -1, max(offset, 0)),
    )
    return [BuildRecord(**dict(r), result=None) for r in rows], total


def build_facets(store: Store) -> dict[str, list[str]]:
    """The values the history filters offer."""
    return {
        "services": [
            r[0]
            for r in store.query("SELECT DISTINCT service FROM builds WHERE service IS NOT NULL ORDER BY 1")
        ],
        "projects": [r[0] for r in store.query("SELECT DISTINCT project FROM builds ORDER BY project")],
        "statuses": [r[0] for r in store.query("SELECT DISTINCT status FROM builds ORDER BY status")],
    }


def build_detail(store: Store, ref: str) -> dict[str, Any] | None:
    """summary() + the stored `--json` result (None while running) + phases as recorded so far."""
    build = get_build(store, ref)
    if build is None:
        return None
    count = store.query("SELECT COUNT(*), MAX(seq) FROM log_lines WHERE build_id=?", (build.id,))[0]
    return build.summary() | {
        "build_image": build.build_image,
        "buildspec": build.buildspec,
        "phases": phases(store, build.id),
        "result": build.result,
        "log_lines": int(count[0]),
        "last_seq": int(count[1] or 0),
    }


def phases(store: Store, build_id: str) -> list[dict[str, Any]]:
    rows = store.query("SELECT * FROM phases WHERE build_id=? ORDER BY idx", (build_id,))
    out = []
    for r in rows:
        context = json.loads(r["context"]) or [{}]
        out.append(
            {
                "name": r["name"],
                "status": r["status"],
                "started": r["started"],
                "ended": r["ended"],
                "duration_s": _duration(r["started"], r["ended"]),
                "status_code": context[0].get("status_code", ""),
                "context": context[0].get("message", ""),
            }
        )
    return out


def log_page(store: Store, build_id: str, after: int = 0, limit: int = 1000, tail: int = 0) -> dict[str, Any]:
    """Log lines after seq `after` (at most `limit`), or the last `tail` lines."""
    if tail > 0:
        rows = store.query(
            "SELECT seq, text FROM (SELECT seq, text FROM log_lines WHERE build_id=? ORDER BY seq DESC "
            "LIMIT ?) ORDER BY seq",
            (build_id, tail),
        )
    else:
        rows = store.query(
            "SELECT seq, text FROM log_lines WHERE build_id=? AND seq>? ORDER BY seq LIMIT ?",
            (build_id, after, max(limit, 1)),
        )
    lines = [[int(r[0]), str(r[1])] for r in rows]
    first = store.query("SELECT MIN(seq), MAX(seq) FROM log_lines WHERE build_id=?", (build_id,))[0]
    return {"lines": lines, "first_seq": int(first[0] or 0), "last_seq": int(first[1] or 0)}


def log_lines_before(store: Store, build_id: str, before: int, limit: int) -> list[list[Any]]:
    rows = store.query(
        "SELECT seq, text FROM (SELECT seq, text FROM log_lines WHERE build_id=? AND seq<? ORDER BY seq DESC "
        "LIMIT ?) ORDER BY seq",
        (build_id, before, max(limit, 1)),
    )
    return [[int(r[0]), str(r[1])] for r in rows]


def build_ended(store: Store, build_id: str) -> tuple[bool, str]:
    rows = store.query("SELECT ended, status FROM builds WHERE id=?", (build_id,))
    return (True, "UNKNOWN") if not rows else (rows[0]["ended"] is not None, str(rows[0]["status"]))


def artifacts_dir(home: Path, build: dict[str, Any]) -> Path:
    """Where a build's artifacts were written: the recorded directory, else the default one."""
    result = build.get("result") or {}
    recorded = result.get("artifacts_dir") if isinstance(result, dict) else None
    if recorded:
        return Path(recorded)
    return home / "artifacts" / str(build["id"]).rpartition(":")[2]


# ------------------------------------------------------------------ pipeline executions


def executions(
    store: Store, limit: int = 20, status: str | None = None, planned: Sequence[str] = ()
) -> list[dict[str, Any]]:
    sql, params = "SELECT * FROM executions", []
    if status:
        sql += " WHERE status=?"
        params.append(status)
    rows = store.query(sql + " ORDER BY created DESC LIMIT ?", (*params, max(limit, 1)))
    return [_execution(store, r, planned) for r in rows]


def execution(store: Store, execution_id: str, planned: Sequence[str] = ()) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM executions WHERE id=?", (execution_id,))
    return _execution(store, rows[0], planned) if rows else None


def _execution(store: Store, row: Any, planned: Sequence[str]) -> dict[str, Any]:
    """`runner pipeline status --json`'s object, plus the stages not reached yet and every approval."""
    current = row["current_stage"] or ""
    approvals = _approvals(store, row["id"])
    latest = max(approvals, key=lambda a: a["requested"]) if approvals else None
    return {
        "id": row["id"],
        "pipeline": row["pipeline"],
        "commit": row["commit_sha"],
        "status": row["status"],
        "mode": row["mode"],
        "trigger": row["trigger"],
        "waiting_for": current[len(WAITING_PREFIX) :] if current.startswith(WAITING_PREFIX) else None,
        "current_stage": row["current_stage"],
        "created": row["created"],
        "ended": row["ended"],
        "duration_s": _duration(row["created"], row["ended"]),
        "stages": _stages(store, row["id"], planned),
        "approval": {k: latest[k] for k in ("stage", "status", "requested", "expires", "summary")}
        if latest
        else None,
        "approvals": approvals,
        "detail": _loads(row["detail"]),
    }


def _stages(store: Store, execution_id: str, planned: Sequence[str]) -> list[dict[str, Any]]:
    """Stages in the order they ran, then the planned ones not reached yet (as Pending)."""
    rows = store.query(
        "SELECT * FROM stage_executions WHERE execution_id=? ORDER BY started IS NULL, started, rowid",
        (execution_id,),
    )
    stages = [
        {
            "name": r["stage"],
            "status": r["status"],
            "started": r["started"],
            "ended": r["ended"],
            "duration_s": _duration(r["started"], r["ended"]),
            "detail": _loads(r["detail"]),
        }
        for r in rows
    ]
    seen = {s["name"] for s in stages}
    pending: list[dict[str, Any]] = [
        {"name": name, "status": "Pending", "started": None, "ended": None, "duration_s": None, "detail": {}}
        for name in planned
        if isinstance(name, str) and name not in seen
    ]
    return stages + pending


def _approvals(store: Store, execution_id: str) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT stage, status, requested, expires, decided, summary FROM approvals WHERE execution_id=? "
        "ORDER BY requested",
        (execution_id,),
    )
    return [dict(r) for r in rows]  # the approval token is never shown


# ------------------------------------------------------------------ environments and deployments


def deployments(
    store: Store, environment: str | None = None, service: str | None = None, limit: int = 20
) -> list[dict[str, Any]]:
    sql, params = "SELECT * FROM deployments WHERE 1=1", []
    for column, value in (("environment", environment), ("service", service)):
        if value:
            sql += f" AND {column}=?"
            params.append(value)
    rows = store.query(sql + " ORDER BY created DESC LIMIT ?", (*params, max(limit, 1)))
    return [_deployment(store, r) for r in rows]


def deployment(store: Store, deployment_id: str) -> dict[str, Any] | None:
    rows = store.query("SELECT * FROM deployments WHERE id=?", (deployment_id,))
    if not rows:
        return None
    trail = store.query(
        "SELECT ts, kind, data FROM events WHERE subject=? ORDER BY id DESC LIMIT 200", (deployment_id,)
    )
    events = [{"ts": r["ts"], "kind": r["kind"], "data": _loads(r["data"])} for r in reversed(trail)]
    return _deployment(store, rows[0]) | {"events": events}


def _deployment(store: Store, row: Any) -> dict[str, Any]:

    events = store.query(
        "SELECT name, status, started, ended, message FROM lifecycle_events WHERE deployment_id=? "
        "ORDER BY idx",
        (row["id"],),
    )
    detail_all = _loads(row["detail"])
    previous = None
    if row["previous_image_id"]:
        previous = {"tag": row["previous_tag"], "id": row["previous_image_id"]}
    return {
        "id": row["id"],
        "environment": row["environment"],
        "service": row["service"],
        "status": row["status"],
        "kind": row["kind"],
        "strategy": row["strategy"],
        "image": {"tag": row["image_tag"], "id": row["image_id"]},
        "previous_image": previous,
        "from_slot": row["from_slot"],
        "to_slot": row["to_slot"],
        "commit": row["commit_sha"],
        "execution_id": row["execution_id"],
        "rollback_of": row["rollback_of"],
        "rolled_back": bool(detail_all.get("rollback_deployment")),
        "reason": row["reason"],
        "created": row["created"],
        "started": row["started"],
        "ended": row["ended"],
        "duration_s": _duration(row["started"], row["ended"]),
        "lifecycle_events": [dict(e) | {"duration_s": _duration(e["started"], e["ended"])} for e in events],
        "detail": {k: v for k, v in detail_all.items() if k not in HIDDEN_DETAIL_KEYS},
    }


def environments(store: Store, names: Iterable[str] = (), recent: int = 5) -> list[dict[str, Any]]:
    """Per environment (configured order first), per service: slots, weights, last deployments."""
    rows = store.query("SELECT * FROM env_state ORDER BY environment, service")
    order = list(dict.fromkeys([*names, *(r["environment"] for r in rows)]))
    return [
        {
            "name": env,
            "services": [_service_state(store, r, recent) for r in rows if r["environment"] == env],
        }
        for env in order
    ]


def _service_state(store: Store, row: Any, recent: int) -> dict[str, Any]:
    slots = {
        "blue": {"tag": row["blue_tag"], "id": row["blue_image_id"]},
        "green": {"tag": row["green_tag"], "id": row["green_image_id"]},
    }
    live = row["live_slot"]
    columns = row.keys()
    return {
        "environment": row["environment"],
        "service": row["service"],
        "live_slot": live,
        "live": slots.get(live) if live else None,
        "slots": slots,
        "weights": weights_percent(_loads(row["weights"])),
        "test_slot": row["test_slot"] if "test_slot" in columns else None,
        "warm_until": row["warm_until"] if "warm_until" in columns else None,
        "updated": row["updated"],
        "deployments": deployments(store, row["environment"], row["service"], recent),
    }


def weights_percent(raw: Any) -> dict[str, float]:
    """Slot weights as percents, whether stored as fractions (0.9/0.1) or as percents/weights."""
    if not isinstance(raw, dict):
        return {}
    values = {str(k): float(v) for k, v in raw.items() if isinstance(v, int | float)}
    total = sum(values.values())
    if total <= 0:
        return values
    return {k: round(v * 100.0 / total, 1) for k, v in values.items()}
