"""Service image records: immutable tag → image id, the inputs that made it, where it is deployed."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from runner.store.db import Store

# Deployments in these statuses may still move traffic (or roll back) to their images.
ACTIVE_DEPLOYMENT = ("Created", "Queued", "InProgress", "Baking", "Ready")


@dataclass(frozen=True, slots=True)
class ImageRecord:
    tag: str
    image_id: str
    service: str
    commit_sha: str | None
    build_id: str | None  # the build that produced the image (also for a reused tag)
    input_digest: str | None
    inputs: Mapping[str, Any] | None
    created: float
    build_number: int | None = None  # joined from builds; None when the build was deleted


@dataclass(frozen=True, slots=True)
class Placement:
    """One slot of one environment that holds (or held, for rollback) an image."""

    environment: str
    service: str
    slot: str
    live: bool
    tag: str | None
    image_id: str

    def as_json(self) -> dict[str, Any]:
        return {"environment": self.environment, "slot": self.slot, "live": self.live}

    def text(self) -> str:
        return f"{self.environment}:{self.slot}" + ("(live)" if self.live else "")


_SELECT = (
    "SELECT images.*, builds.number AS build_number FROM images "
    "LEFT JOIN builds ON builds.id = images.build_id"
)


def _record(row: Any) -> ImageRecord:
    values = dict(row)
    values["inputs"] = json.loads(values["inputs"]) if values.get("inputs") else None
    return ImageRecord(**values)


def get_tag(store: Store, tag: str) -> ImageRecord | None:
    rows = store.query(f"{_SELECT} WHERE images.tag=?", (tag,))
    return _record(rows[0]) if rows else None


def tags_of_image(store: Store, image_id: str) -> list[ImageRecord]:
    rows = store.query(f"{_SELECT} WHERE images.image_id=? ORDER BY images.created DESC", (image_id,))
    return [_record(r) for r in rows]


def by_digest(store: Store, service: str, digest: str) -> list[ImageRecord]:
    """Images of a service made from exactly these inputs, newest first."""
    rows = store.query(
        f"{_SELECT} WHERE images.service=? AND images.input_digest=? ORDER BY images.created DESC",
        (service, digest),
    )
    return [_record(r) for r in rows]


def latest(store: Store, service: str) -> ImageRecord | None:
    """The newest image record of a service (the baseline for "which inputs changed")."""
    rows = store.query(
        f"{_SELECT} WHERE images.service=? AND images.inputs IS NOT NULL "
        "ORDER BY images.created DESC LIMIT 1",
        (service,),
    )
    return _record(rows[0]) if rows else None


def list_images(store: Store, service: str | None = None) -> list[ImageRecord]:
    sql, params = f"{_SELECT}", tuple[str, ...]()
    if service:
        sql, params = f"{sql} WHERE images.service=?", (service,)
    return [_record(r) for r in store.query(f"{sql} ORDER BY images.created DESC", params)]


def put_tag(store: Store, record: ImageRecord) -> ImageRecord:
    """Write a tag once; returns the record the tag holds afterwards (an existing one wins).

    The caller has already decided that an existing tag with other content is refused;
    the INSERT OR IGNORE makes two concurrent writers agree on the first one.
    """
    with store.transaction() as db:
        db.execute(
            "INSERT OR IGNORE INTO images (tag, image_id, service, commit_sha, build_id, "
            "input_digest, inputs, created) VALUES (?,?,?,?,?,?,?,?)",
            (
                record.tag,
                record.image_id,
                record.service,
                record.commit_sha,
                record.build_id,
                record.input_digest,
                json.dumps(record.inputs, sort_keys=True) if record.inputs is not None else None,
                record.created or time.time(),
            ),
        )
    found = get_tag(store, record.tag)
    assert found is not None
    return found


def replace_tag(store: Store, record: ImageRecord) -> None:
    """Re-create a tag whose image no longer exists in the engine (never moves a live tag)."""
    with store.transaction() as db:
        db.execute("DELETE FROM images WHERE tag=?", (record.tag,))
    put_tag(store, record)


def delete_tags(store: Store, tags: Iterable[str]) -> None:
    with store.transaction() as db:
        db.executemany("DELETE FROM images WHERE tag=?", [(t,) for t in tags])


def placements(store: Store) -> list[Placement]:
    """Every image an environment runs or may roll back to (env_state blue and green)."""
    result = []
    for row in store.query("SELECT * FROM env_state ORDER BY environment, service"):
        for slot in ("blue", "green"):
            image_id = row[f"{slot}_image_id"]
            if image_id:
                live = row["live_slot"] == slot
                result.append(
                    Placement(row["environment"], row["service"], slot, live, row[f"{slot}_tag"], image_id)
                )
    return result


def deployment_images(store: Store) -> set[str]:
    """Image ids an active deployment moves to, or a finished one could roll back to."""
    ids: set[str] = set()
    marks = ",".join("?" for _ in ACTIVE_DEPLOYMENT)
    for row in store.query(
        f"SELECT image_id, previous_image_id FROM deployments WHERE status IN ({marks})",
        ACTIVE_DEPLOYMENT,
    ):
        ids.update(filter(None, (row["image_id"], row["previous_image_id"])))
    # The newest deployment of each environment/service: its previous image is the rollback target.
    for row in store.query(
        "SELECT d.image_id, d.previous_image_id FROM deployments d JOIN ("
        "SELECT environment, service, MAX(created) AS created FROM deployments "
        "GROUP BY environment, service) last ON d.environment = last.environment "
        "AND d.service = last.service AND d.created = last.created"
    ):
        ids.update(filter(None, (row["image_id"], row["previous_image_id"])))
    return ids


def protected_ids(store: Store) -> dict[str, str]:
    """Image id → why it must never be removed (deployed, rollback target, active deployment)."""
    why: dict[str, str] = {}
    for placement in placements(store):
        role = "runs in" if placement.live else "rollback target in"
        why.setdefault(placement.image_id, f"{role} {placement.environment} ({placement.slot})")
    for image_id in deployment_images(store):
        why.setdefault(image_id, "referenced by a deployment")
    return why


def placements_by_image(store: Store) -> Mapping[str, list[Placement]]:
    found: dict[str, list[Placement]] = {}
    for placement in placements(store):
        found.setdefault(placement.image_id, []).append(placement)
    return found


def last_log_seq(store: Store, build_id: str) -> int:
    """The last log line number of a build (the image step appends after it)."""
    rows = store.query("SELECT COALESCE(MAX(seq), 0) FROM log_lines WHERE build_id=?", (build_id,))
    return int(rows[0][0])
