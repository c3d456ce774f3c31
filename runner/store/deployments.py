"""Deployment records: deployments, their lifecycle events, slot state per environment, locks, networks."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from runner.core.image_ref import ImageRef
from runner.store import outbox
from runner.store.db import Store

SLOTS = ("blue", "green")


@dataclass(frozen=True, slots=True)
class DeploymentRecord:
    id: str
    environment: str
    service: str
    image_tag: str
    image_id: str
    strategy: str
    status: str
    created: float
    kind: str = "STANDARD"
    previous_tag: str | None = None
    previous_image_id: str | None = None
    rollback_of: str | None = None
    from_slot: str | None = None
    to_slot: str | None = None
    commit_sha: str | None = None
    execution_id: str | None = None
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    started: float | None = None
    ended: float | None = None
    pid: int | None = None
    stop_requested: str | None = None
    image_repo_digest: str | None = None
    previous_repo_digest: str | None = None

    @property
    def image(self) -> ImageRef:
        return ImageRef(self.image_tag, self.image_id, self.image_repo_digest)

    @property
    def previous_image(self) -> ImageRef | None:
        if not self.previous_image_id:
            return None
        return ImageRef(self.previous_tag or "", self.previous_image_id, self.previous_repo_digest)

    def summary(self) -> dict[str, Any]:
        """The deployment as `runner status --json` and `runner deploy --json` show it."""
        return {
            "id": self.id,
            "environment": self.environment,
            "service": self.service,
            "kind": self.kind,
            "status": self.status,
            "strategy": self.strategy,
            "image": self.image.as_json(),
            "previous_image": self.previous_image.as_json() if self.previous_image else None,
            "from_slot": self.from_slot,
            "to_slot": self.to_slot,
            "rollback_of": self.rollback_of,
            "rolled_back": bool(self.detail.get("rollback_deployment")),
            "reason": self.reason,
            "created": self.created,
            "started": self.started,
            "ended": self.ended,
        }


_COLUMNS = tuple(f.name for f in dataclasses.fields(DeploymentRecord))


def _deployment(row: Any) -> DeploymentRecord:
    values = {name: row[name] for name in _COLUMNS}
    values["detail"] = json.loads(values["detail"] or "{}")
    return DeploymentRecord(**values)


def create_deployment(store: Store, record: DeploymentRecord) -> None:
    values = [getattr(record, name) for name in _COLUMNS]
    values[_COLUMNS.index("detail")] = json.dumps(record.detail)
    with store.transaction() as db:
        db.execute(
            f"INSERT INTO deployments ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
            tuple(values),
        )
        outbox.deployment_changed(store, db, record.id, None)


def update_deployment(
    store: Store, deployment_id: str, detail: dict[str, Any] | None = None, **fields: Any
) -> None:
    """Set columns; `detail` is merged into the stored detail object."""
    with store.transaction() as db:
        before = db.execute("SELECT status FROM deployments WHERE id=?", (deployment_id,)).fetchone()
        if detail:
            row = db.execute("SELECT detail FROM deployments WHERE id=?", (deployment_id,)).fetchone()
            merged = json.loads(row[0] or "{}") | detail if row else detail
            fields["detail"] = json.dumps(merged)
        if fields:
            assignments = ", ".join(f"{name}=?" for name in fields)
            db.execute(f"UPDATE deployments SET {assignments} WHERE id=?", (*fields.values(), deployment_id))
        if "status" in fields and before is not None:
            outbox.deployment_changed(store, db, deployment_id, before[0])


def get_deployment(store: Store, deployment_id: str) -> DeploymentRecord | None:
    rows = store.query("SELECT * FROM deployments WHERE id=?", (deployment_id,))
    return _deployment(rows[0]) if rows else None


def list_deployments(
    store: Store, environment: str | None = None, service: str | None = None, limit: int = 20
) -> list[DeploymentRecord]:
    sql, params = "SELECT * FROM deployments WHERE 1=1", []
    for column, value in (("environment", environment), ("service", service)):
        if value:
            sql += f" AND {column}=?"
            params.append(value)
    rows = store.query(sql + " ORDER BY created DESC, rowid DESC LIMIT ?", (*params, max(limit, 1)))
    return [_deployment(r) for r in rows]


def unfinished_deployments(store: Store, environment: str) -> list[DeploymentRecord]:
    rows = store.query("SELECT * FROM deployments WHERE environment=? AND ended IS NULL", (environment,))
    return [_deployment(r) for r in rows]


def unfinished_environments(store: Store, is_alive: Callable[[int | None, float], bool]) -> list[str]:
    """Environments with a deployment that has not ended and whose runner is gone (is_alive False)."""
    rows = store.query("SELECT environment, pid, started FROM deployments WHERE ended IS NULL")
    return sorted({r["environment"] for r in rows if not is_alive(r["pid"], r["started"])})


def record_lifecycle(
    store: Store,
    deployment_id: str,
    idx: int,
    name: str,
    status: str,
    started: float | None = None,
    ended: float | None = None,
    message: str = "",
) -> None:
    store.execute(
        "INSERT OR REPLACE INTO lifecycle_events (deployment_id, idx, name, status, started, ended, message) "
        "VALUES (?,?,?,?,?,?,?)",
        (deployment_id, idx, name, status, started, ended, message),
    )


def lifecycle_of(store: Store, deployment_id: str) -> list[dict[str, Any]]:
    rows = store.query(
        "SELECT name, status, started, ended, message FROM lifecycle_events "
        "WHERE deployment_id=? ORDER BY idx",
        (deployment_id,),
    )
    return [dict(r) for r in rows]


def request_stop(store: Store, deployment_id: str, reason: str) -> None:
    store.execute(
        "UPDATE deployments SET stop_requested=? WHERE id=? AND ended IS NULL", (reason, deployment_id)
    )


def stop_requested(store: Store, deployment_id: str) -> str | None:
    rows = store.query("SELECT stop_requested FROM deployments WHERE id=?", (deployment_id,))
    return str(rows[0][0]) if rows and rows[0][0] else None


# ---------------------------------------------------------------- slot state


@dataclass(frozen=True, slots=True)
class EnvState:
    """One service in one environment: which slot is live, what each slot runs, the weights."""

    environment: str
    service: str
    live_slot: str | None = None
    blue_tag: str | None = None
    blue_image_id: str | None = None
    green_tag: str | None = None
    green_image_id: str | None = None
    weights: dict[str, int] = field(default_factory=dict)  # slot → percent of live traffic
    updated: float = 0.0
    test_slot: str | None = None
    warm_until: float | None = None
    last_deployment: str | None = None
    blue_repo_digest: str | None = None
    green_repo_digest: str | None = None

    def image(self, slot: str | None) -> ImageRef | None:
        if slot == "blue" and self.blue_image_id:
            return ImageRef(self.blue_tag or "", self.blue_image_id, self.blue_repo_digest)
        if slot == "green" and self.green_image_id:
            return ImageRef(self.green_tag or "", self.green_image_id, self.green_repo_digest)
        return None

    def with_image(self, slot: str, image: ImageRef | None) -> EnvState:
        """The state with `slot` running another image (None: the slot has none)."""
        tag, image_id, digest = (image.tag, image.id, image.repo_digest) if image else (None, None, None)
        if slot == "blue":
            return dataclasses.replace(self, blue_tag=tag, blue_image_id=image_id, blue_repo_digest=digest)
        return dataclasses.replace(self, green_tag=tag, green_image_id=image_id, green_repo_digest=digest)


def slot_image(slot: str, image: ImageRef | None) -> dict[str, str | None]:
    """The EnvState fields that say what `slot` runs (for dataclasses.replace / TrafficControl.update)."""
    tag, image_id, digest = (image.tag, image.id, image.repo_digest) if image else (None, None, None)
    return {f"{slot}_tag": tag, f"{slot}_image_id": image_id, f"{slot}_repo_digest": digest}


_STATE_COLUMNS = tuple(f.name for f in dataclasses.fields(EnvState))


def env_states(store: Store, environment: str) -> dict[str, EnvState]:
    rows = store.query("SELECT * FROM env_state WHERE environment=? ORDER BY service", (environment,))
    return {r["service"]: _state(r) for r in rows}


def env_state(store: Store, environment: str, service: str) -> EnvState:
    rows = store.query("SELECT * FROM env_state WHERE environment=? AND service=?", (environment, service))
    return _state(rows[0]) if rows else EnvState(environment, service)


def _state(row: Any) -> EnvState:
    values = {name: row[name] for name in _STATE_COLUMNS}
    values["weights"] = {str(k): int(v) for k, v in json.loads(values["weights"] or "{}").items()}
    return EnvState(**values)


def put_env_state(store: Store, state: EnvState) -> EnvState:
    state = dataclasses.replace(state, updated=time.time())
    values = [getattr(state, name) for name in _STATE_COLUMNS]
    values[_STATE_COLUMNS.index("weights")] = json.dumps(state.weights, sort_keys=True)
    store.execute(
        f"INSERT OR REPLACE INTO env_state ({', '.join(_STATE_COLUMNS)}) "
        f"VALUES ({', '.join('?' * len(_STATE_COLUMNS))})",
        tuple(values),
    )
    return state


def forget_env_state(store: Store, environment: str, service: str) -> None:
    store.execute("DELETE FROM env_state WHERE environment=? AND service=?", (environment, service))


# ---------------------------------------------------------------- locks


@dataclass(frozen=True, slots=True)
class LockRecord:
    name: str
    holder: str
    pid: int | None
    acquired: float


def acquire_lock(
    store: Store, name: str, holder: str, pid: int, is_stale: Callable[[LockRecord], bool]
) -> tuple[bool, LockRecord | None]:
    """Take the lock; returns (taken, previous holder). A stale holder's lock is taken over."""
    with store.transaction() as db:
        row = db.execute("SELECT * FROM locks WHERE name=?", (name,)).fetchone()
        current = LockRecord(row["name"], row["holder"], row["pid"], row["acquired"]) if row else None
        if current is not None and not is_stale(current):
            return False, current
        db.execute(
            "INSERT OR REPLACE INTO locks (name, holder, pid, acquired) VALUES (?,?,?,?)",
            (name, holder, pid, time.time()),
        )
        return True, current


def release_lock(store: Store, name: str, holder: str) -> None:
    store.execute("DELETE FROM locks WHERE name=? AND holder=?", (name, holder))


def get_lock(store: Store, name: str) -> LockRecord | None:
    rows = store.query("SELECT * FROM locks WHERE name=?", (name,))
    return (
        LockRecord(rows[0]["name"], rows[0]["holder"], rows[0]["pid"], rows[0]["acquired"]) if rows else None
    )


# ---------------------------------------------------------------- networks and the trigger queue


@dataclass(frozen=True, slots=True)
class NetworkRecord:
    environment: str
    project: str
    subnet: str
    addresses: dict[str, int]  # service → index of its address pair


def get_network(store: Store, environment: str) -> NetworkRecord | None:
    rows = store.query("SELECT * FROM env_networks WHERE environment=?", (environment,))
    if not rows:
        return None
    row = rows[0]
    return NetworkRecord(row["environment"], row["project"], row["subnet"], json.loads(row["addresses"]))


def put_network(store: Store, record: NetworkRecord) -> None:
    store.execute(
        "INSERT OR REPLACE INTO env_networks (environment, project, subnet, addresses) VALUES (?,?,?,?)",
        (record.environment, record.project, record.subnet, json.dumps(record.addresses, sort_keys=True)),
    )


def active_queue(store: Store) -> list[dict[str, Any]]:
    """Rows of the trigger queue still waiting or running (shown by `runner status`)."""
    rows = store.query("SELECT * FROM queue WHERE status IN ('QUEUED', 'RUNNING') ORDER BY id")
    return [dict(r) for r in rows]
