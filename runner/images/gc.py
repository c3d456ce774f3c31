"""`runner gc`: remove service images, phase snapshots and build directories nothing needs.

Never removed: an image an environment runs or may roll back to (env_state blue/green),
an image an active or latest deployment names, the newest `keep` images of each service,
the snapshots and directories of running builds and of each project's newest `keep`
builds. Only this store's images are considered (label runner.store, or a build of this
store), so projects sharing one Docker engine never collect each other's images.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.adapters.docker import client as docker_client
from runner.adapters.docker import images as docker_images
from runner.images import tags as images
from runner.store import Store
from runner.store import images as records
from runner.store.builds import BuildOutline, outlines
from runner.store.images import ImageRecord
from runner.store.pipelines import unfinished_commits

ORPHAN_GRACE_S = 3600.0  # a directory no build claims is left alone this long (it may be starting)


@dataclass(frozen=True, slots=True)
class Item:
    kind: str  # service-image | snapshot | workspace | artifacts | source-snapshot
    name: str  # a tag, an image ref or a path
    id: str = ""
    why: str = ""  # for kept items: the reason

    def as_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "name": self.name, "id": self.id, "why": self.why}


@dataclass(frozen=True, slots=True)
class Plan:
    remove: tuple[Item, ...]
    keep: tuple[Item, ...]


# ---------------------------------------------------------------- policy (pure)


def choose_images(
    image_records: Iterable[ImageRecord], protected: Mapping[str, str], keep: int
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """(image id → its tags to remove, image id → why it is kept) for the service images."""
    newest: dict[str, dict[str, float]] = {}
    tags: dict[str, list[str]] = {}
    for record in image_records:
        ids = newest.setdefault(record.service, {})
        ids[record.image_id] = max(ids.get(record.image_id, 0.0), record.created)
        tags.setdefault(record.image_id, []).append(record.tag)
    remove: dict[str, list[str]] = {}
    kept: dict[str, str] = {}
    for service, ids in newest.items():
        ordered = sorted(ids, key=lambda i: ids[i], reverse=True)
        for rank, image_id in enumerate(ordered):
            if image_id in protected:
                kept[image_id] = protected[image_id]
            elif rank < keep:
                kept[image_id] = f"one of the {keep} newest images of {service}"
            else:
                remove[image_id] = tags[image_id]
    return remove, kept


def kept_builds(builds: Iterable[BuildOutline], keep: int) -> set[str]:
    """Running builds, and the newest `keep` builds of every project."""
    by_project: dict[str, list[BuildOutline]] = {}
    for build in builds:
        by_project.setdefault(build.project, []).append(build)
    kept: set[str] = set()
    for project_builds in by_project.values():
        ordered = sorted(project_builds, key=lambda b: b.number, reverse=True)
        kept.update(b.id for b in ordered[:keep])
        kept.update(b.id for b in project_builds if b.running)
    return kept


# ---------------------------------------------------------------- planning


def plan(store: Store, keep: int = 5) -> Plan:
    home = store.path.parent
    protected = records.protected_ids(store)
    builds = _builds(store)
    keep_builds = kept_builds(builds.values(), keep)
    remove, kept = _service_images(store, protected, keep)
    remove += _snapshots(builds, keep_builds)
    kept_commits = _kept_commits(store, kept, builds, keep_builds)
    remove += _directories(home / "work", builds, keep_builds, "workspace")
    remove += _directories(home / "artifacts", builds, keep_builds, "artifacts")
    remove += _source_snapshots(home / "snapshots", kept_commits)
    return Plan(tuple(remove), tuple(kept))


def _builds(store: Store) -> dict[str, BuildOutline]:
    return {build.id: build for build in outlines(store)}


def _service_images(store: Store, protected: Mapping[str, str], keep: int) -> tuple[list[Item], list[Item]]:
    all_records = records.list_images(store)
    remove_ids, kept_ids = choose_images(all_records, protected, keep)
    remove = [Item(images.KIND, ", ".join(tags), image_id) for image_id, tags in remove_ids.items()]
    keep_items = [Item(images.KIND, _tags_of(all_records, i), i, why) for i, why in kept_ids.items()]
    known = {r.image_id for r in all_records}
    mine = f"runner.store={images.store_key(store)}"
    for info in docker_images.list_images([f"{docker_client.KIND}={images.KIND}", mine]):
        if info.id not in known and info.id not in protected:  # built, then refused or interrupted
            remove.append(Item(images.KIND, ", ".join(info.tags) or "(untagged)", info.id, "orphan"))
    return remove, keep_items


def _tags_of(all_records: list[ImageRecord], image_id: str) -> str:
    return ", ".join(r.tag for r in all_records if r.image_id == image_id)


def _snapshots(builds: Mapping[str, BuildOutline], keep_builds: set[str]) -> list[Item]:
    found: list[tuple[str, Item]] = []
    for kind in ("snapshot", "build"):
        for info in docker_images.list_images([f"{docker_client.KIND}={kind}"]):
            build_id = info.labels.get("runner.build", "")
            if build_id in builds and build_id not in keep_builds:
                found.append((info.created, Item("snapshot", ", ".join(info.tags) or info.id[:19], info.id)))
    # Newest first: a phase's snapshot is the parent of the next phase's.
    return [item for _, item in sorted(found, key=lambda pair: pair[0], reverse=True)]


def _kept_commits(
    store: Store, kept: list[Item], builds: Mapping[str, BuildOutline], keep_builds: set[str]
) -> set[str]:
    commits = {b.commit for i, b in builds.items() if i in keep_builds and b.commit}
    kept_ids = {item.id for item in kept}
    for record in records.list_images(store):
        if record.image_id in kept_ids and record.commit_sha:
            commits.add(record.commit_sha)
    return commits | unfinished_commits(store)


def _directories(
    root: Path, builds: Mapping[str, BuildOutline], keep_builds: set[str], kind: str
) -> list[Item]:
    owner = {b.id.partition(":")[2]: b for b in builds.values()}
    found = []
    for path in _children(root):
        build = owner.get(path.name)
        if build is not None and build.id in keep_builds:
            continue
        if build is None and _young(path):
            continue
        found.append(Item(kind, str(path)))
    return found


def _source_snapshots(root: Path, kept_commits: set[str]) -> list[Item]:
    return [
        Item("source-snapshot", str(path))
        for path in _children(root)
        if path.name not in kept_commits and not (path.name.startswith(".") and _young(path))
    ]


def _children(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def _young(path: Path) -> bool:
    return time.time() - path.stat().st_mtime < ORPHAN_GRACE_S


# ---------------------------------------------------------------- applying


def apply(plan_: Plan, store: Store, say: Callable[[str], None]) -> tuple[list[Item], list[Item]]:
    """Remove what the plan says; returns (removed, failed) — an image in use by a container stays."""
    removed: list[Item] = []
    failed: list[Item] = []
    for item in plan_.remove:
        ok = _remove(item, store)
        (removed if ok else failed).append(item)
        say(f"{'removed' if ok else 'could not remove (in use)'} {item.kind} {item.name}")
    return removed, failed


def _remove(item: Item, store: Store) -> bool:
    if item.kind in ("workspace", "artifacts", "source-snapshot"):
        shutil.rmtree(item.name, ignore_errors=True)
        return not Path(item.name).exists()
    if item.kind == images.KIND:
        return _remove_image(item.id, store)
    return bool(docker_images.remove_image(item.id))


def _remove_image(image_id: str, store: Store) -> bool:
    info = docker_images.image(image_id)
    if info is not None:
        written = {r.tag for r in records.tags_of_image(store, image_id)}
        # Our tags, also as pushed to a registry (host:port/api:0123456789ab).
        ours = [t for t in info.tags if t.rsplit("/", 1)[-1] in written]
        foreign = [t for t in info.tags if t not in ours]
        for tag in ours:
            if not docker_images.remove_image(tag):
                return False
        left = not foreign and docker_images.image(image_id) is not None
        if left and not docker_images.remove_image(image_id):
            return False
    records.delete_tags(store, [r.tag for r in records.tags_of_image(store, image_id)])
    store.event("image.removed", image_id, by="gc")
    return True
