"""Service images: immutable tags, the tag → image id map, building or picking up an image.

Tags are `<service>:<sha12>` (a clean commit) or `<service>:<sha12>-dirty-<hash8>` (a
working tree; hash8 starts the input digest). A tag, once written, never moves:

- the tag is new → written (store first, then the engine);
- it already holds this image id → nothing to do;
- it holds another image made from the SAME inputs (equal input digest: a rebuild,
  e.g. `--no-cache`, which Docker does not reproduce bit for bit because of
  timestamps) → the existing image stays and the new one is discarded;
- it holds another image whose layers (RootFS diff ids) and runtime config equal the
  new one's → the existing image stays;
- otherwise the new content is refused (ImmutableTagError, exit 1). There is no --force.
A tag whose image was removed from the engine (e.g. by hand) may be written again.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.adapters.docker import client as docker_client
from runner.adapters.docker import images as docker_images
from runner.core.image_ref import IMAGE_ID, ImageRef, check_immutable, is_immutable, read_handoff
from runner.errors import RunnerError
from runner.store import Store
from runner.store import images as records
from runner.store.images import ImageRecord

KIND = "service-image"


class ImmutableTagError(RunnerError):
    """A tag already names other content (exit 1)."""


def store_key(store: Store) -> str:
    """Labels an image with the store that owns it, so gc never touches another project's images."""
    return hashlib.sha256(str(store.path.resolve()).encode()).hexdigest()[:12]


def image_labels(
    store: Store,
    service: str,
    commit: str,
    build_id: str,
    digest: str,
    dirty: bool,
    commit_time: float | None = None,
) -> dict[str, str]:
    """The image's labels; its commit and commit time travel with it to deployments (lead time)."""
    extra = {"service": service, "commit": commit, "build": build_id, "input-digest": digest}
    extra |= {"store": store_key(store)} | ({"dirty": "1"} if dirty else {})
    extra |= {"commit-time": f"{commit_time:.0f}"} if commit_time is not None else {}
    return docker_client.labels(KIND, **extra)


# ---------------------------------------------------------------- deploy input


def resolve(text: str, store: Store) -> ImageRef:
    """A deploy input → ImageRef: an immutable tag, an image id, a registry digest, or a hand-off
    file (imagedefinitions.json / imageDetail.json) naming one. Mutable tags are refused (exit 2)."""
    text = text.strip()
    if text.endswith(".json") and Path(text).is_file():
        text = read_handoff(Path(text))
    check_immutable(text)
    record = records.get_tag(store, text)
    if record is not None:
        return _checked(record)  # a tag we wrote: restored on the engine when it was lost
    info = docker_images.image(text)
    if info is None:
        raise RunnerError(f"image {text} not found in the local engine (build it: runner build SERVICE)")
    if "@" in text:
        return ImageRef(next(filter(is_immutable, info.tags), info.id), info.id, text)
    if IMAGE_ID.fullmatch(text):
        matches = records.tags_of_image(store, info.id)
        tag = matches[0].tag if matches else next(filter(is_immutable, info.tags), info.id)
        return ImageRef(tag, info.id)
    return ImageRef(text, info.id)


def _checked(record: ImageRecord) -> ImageRef:
    info = docker_images.image(record.tag)
    if info is None or info.id != record.image_id:
        present = docker_images.image(record.image_id)
        if present is None:
            gone = f"{record.tag} ({record.image_id[:19]})"
            raise RunnerError(f"image {gone} is gone from the engine: rebuild it")
        docker_images.tag_image(record.image_id, record.tag)  # the engine lost or moved our tag: restore it
    return ImageRef(record.tag, record.image_id)


# ---------------------------------------------------------------- writing a tag


@dataclass(frozen=True, slots=True)
class Claim:
    id: str  # the image the tag holds now
    kept: bool  # True: the tag already held other, equivalent content, which stays
    note: str


def claim(store: Store, record: ImageRecord) -> Claim:
    """Write record.tag → record.image_id under the immutability rules (module docstring)."""
    existing = records.get_tag(store, record.tag)
    engine = docker_images.image(record.tag)
    held = existing.image_id if existing else (engine.id if engine else None)
    if held is not None and held != record.image_id and docker_images.image(held) is not None:
        note = _equivalent(existing, held, record)
        if note is None:
            raise ImmutableTagError(_refusal(existing, held, record))
        if not _tag(store, replace_with(record, held), existing):
            return claim(store, record)
        return Claim(held, True, note)
    if existing is not None and existing.image_id != record.image_id:
        records.replace_tag(store, record)  # its image is gone: the tag names nothing any more
        store.event("image.tag_recreated", record.tag, old=existing.image_id, new=record.image_id)
        existing = records.get_tag(store, record.tag)
    if not _tag(store, record, existing):
        return claim(store, record)  # once more, now against the tag the other build wrote
    return Claim(record.image_id, False, "")


def replace_with(record: ImageRecord, image_id: str) -> ImageRecord:
    return ImageRecord(
        record.tag,
        image_id,
        record.service,
        record.commit_sha,
        record.build_id,
        record.input_digest,
        record.inputs,
        record.created,
    )


def _tag(store: Store, record: ImageRecord, existing: ImageRecord | None) -> bool:
    """Store, then engine; False when a concurrent build wrote the tag first."""
    if existing is None:
        written = records.put_tag(store, record)
        if written.image_id != record.image_id:
            return False
        store.event("image.tagged", record.tag, id=record.image_id, build=record.build_id)
    docker_images.tag_image(record.image_id, record.tag)
    return True


def _equivalent(existing: ImageRecord | None, held: str, record: ImageRecord) -> str | None:
    """Why the held image may stand for the new one, or None when the content differs."""
    since = f" (build {existing.build_number})" if existing and existing.build_number else ""
    if existing is not None and existing.input_digest and existing.input_digest == record.input_digest:
        return (
            f"{record.tag} already holds {held[:19]}{since}, made from the same inputs; a tag is "
            "immutable, so it stays and the rebuilt image (Docker builds are not bit-for-bit "
            "reproducible) was discarded"
        )
    old, new = docker_images.image_content(held), docker_images.image_content(record.image_id)
    if old is not None and old == new:
        return f"{record.tag} already holds {held[:19]}{since} with identical layers and config: kept"
    return None


def _refusal(existing: ImageRecord | None, held: str, record: ImageRecord) -> str:
    since = f" from build {existing.build_number}" if existing and existing.build_number else ""
    return (
        f"refusing to move {record.tag}: it already names {held[:19]}{since}, and this build "
        f"produced different content ({record.image_id[:19]}, other inputs and layers). Tags are "
        "immutable (a deployment must always mean the same image): commit the change to get a "
        "new tag, or build the working tree for a -dirty- tag"
    )


# ---------------------------------------------------------------- building / picking up


def build(
    context: Path,
    dockerfile: Path,
    labels: dict[str, str],
    build_args: Mapping[str, str],
    nocache: bool,
    on_line: Callable[[str], None],
) -> str:
    """Build an image (docker SDK, output streamed); a Dockerfile outside the context is sent along."""
    try:
        relative = dockerfile.resolve().relative_to(context.resolve()).as_posix()
    except ValueError:
        return str(
            docker_images.build_image(
                context,
                None,
                labels,
                buildargs=dict(build_args),
                on_line=on_line,
                dockerfile_text=dockerfile.read_text(),
                nocache=nocache,
            )
        )
    return str(
        docker_images.build_image(context, None, labels, relative, dict(build_args), on_line, nocache=nocache)
    )


def wrap(image_id: str, labels: dict[str, str], on_line: Callable[[str], None]) -> str:
    """Give an image a buildspec built itself our labels: a metadata-only child, same layers."""
    label_line = " ".join(f"{key}={json.dumps(value)}" for key, value in sorted(labels.items()))
    text = f"FROM {image_id}\nLABEL {label_line}\n"  # one step: the child's parent is the image
    with tempfile.TemporaryDirectory(prefix="runner-wrap-") as empty:
        built = docker_images.build_image(Path(empty), None, {}, on_line=on_line, dockerfile_text=text)
        return str(built)


def new_record(
    tag: str,
    image_id: str,
    service: str,
    commit: str,
    build_id: str,
    inputs: Mapping[str, Any],
    digest: str,
) -> ImageRecord:
    return ImageRecord(tag, image_id, service, commit, build_id, digest, inputs, time.time())
