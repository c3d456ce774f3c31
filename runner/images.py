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
import re
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner import docker_engine
from runner.errors import RunnerError, UsageError
from runner.store import Store
from runner.store import images as records
from runner.store.images import ImageRecord

TAG = re.compile(r"(?P<service>[a-z][a-z0-9-]{0,30}):(?P<sha>[0-9a-f]{12})(?:-dirty-(?P<hash>[0-9a-f]{8}))?")
KIND = "service-image"
HANDOFF_FILES = ("imagedefinitions.json", "imageDetail.json")


class ImmutableTagError(RunnerError):
    """A tag already names other content (exit 1)."""


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image as deployments name it: the immutable tag and the image id travel together."""

    tag: str
    id: str

    @property
    def service(self) -> str:
        return self.tag.partition(":")[0]


@dataclass(frozen=True, slots=True)
class ImageResult:
    tag: str
    id: str
    reused: bool
    reason: str
    repo_digest: str | None = None  # host:port/<service>@sha256:… when pipeline.yml names a registry

    @property
    def ref(self) -> ImageRef:
        return ImageRef(self.tag, self.id)

    def as_json(self) -> dict[str, Any]:
        shown = {"tag": self.tag, "id": self.id, "reused": self.reused, "reason": self.reason}
        return shown | ({"repo_digest": self.repo_digest} if self.repo_digest else {})


def commit_tag(service: str, commit: str) -> str:
    return f"{service}:{commit[:12]}"


def dirty_tag(service: str, commit: str, content_hash: str) -> str:
    return f"{service}:{commit[:12]}-dirty-{content_hash[:8]}"


def is_immutable(tag: str) -> bool:
    return TAG.fullmatch(tag) is not None


def store_key(store: Store) -> str:
    """Labels an image with the store that owns it, so gc never touches another project's images."""
    return hashlib.sha256(str(store.path.resolve()).encode()).hexdigest()[:12]


def image_labels(
    store: Store, service: str, commit: str, build_id: str, digest: str, dirty: bool
) -> dict[str, str]:
    extra = {"service": service, "commit": commit, "build": build_id, "input-digest": digest}
    extra |= {"store": store_key(store)} | ({"dirty": "1"} if dirty else {})
    return docker_engine.labels(KIND, **extra)


# ---------------------------------------------------------------- deploy input


def parse_image_ref(text: str, store: Store) -> ImageRef:
    """A deploy input: an immutable tag we wrote (or an image id we tagged) → ImageRef.

    `latest` and any other tag not of our immutable forms is refused (exit 2): a mutable
    tag is resolved again whenever a container starts.
    """
    text = text.strip()
    if text.startswith("sha256:"):
        return _by_id(text, store)
    if not is_immutable(text):
        raise UsageError(
            f"{text!r} is not an immutable image tag: deploy <service>:<sha12> or "
            "<service>:<sha12>-dirty-<hash8> (see `runner images list`); "
            "mutable tags such as latest are refused"
        )
    record = records.get_tag(store, text)
    if record is None:
        service, _, rest = text.partition(":")
        hint = f"runner build {service} --commit {rest[:12]}"
        raise RunnerError(f"no image {text} was built here: run `{hint}`")
    return _checked(record)


def _by_id(image_id: str, store: Store) -> ImageRef:
    matches = records.tags_of_image(store, image_id) if len(image_id) == 71 else []
    if not matches:
        found = docker_engine.image(image_id)
        matches = records.tags_of_image(store, found.id) if found else []
    if not matches:
        raise RunnerError(f"image {image_id[:19]} has no immutable tag written by runner")
    return _checked(matches[0])


def _checked(record: ImageRecord) -> ImageRef:
    info = docker_engine.image(record.tag)
    if info is None or info.id != record.image_id:
        present = docker_engine.image(record.image_id)
        if present is None:
            gone = f"{record.tag} ({record.image_id[:19]})"
            raise RunnerError(f"image {gone} is gone from the engine: rebuild it")
        docker_engine.tag_image(record.image_id, record.tag)  # the engine lost or moved our tag: restore it
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
    engine = docker_engine.image(record.tag)
    held = existing.image_id if existing else (engine.id if engine else None)
    if held is not None and held != record.image_id and docker_engine.image(held) is not None:
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
    docker_engine.tag_image(record.image_id, record.tag)
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
    old, new = docker_engine.image_content(held), docker_engine.image_content(record.image_id)
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
            docker_engine.build_image(
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
        docker_engine.build_image(context, None, labels, relative, dict(build_args), on_line, nocache=nocache)
    )


def wrap(image_id: str, labels: dict[str, str], on_line: Callable[[str], None]) -> str:
    """Give an image a buildspec built itself our labels: a metadata-only child, same layers."""
    label_line = " ".join(f"{key}={json.dumps(value)}" for key, value in sorted(labels.items()))
    text = f"FROM {image_id}\nLABEL {label_line}\n"  # one step: the child's parent is the image
    with tempfile.TemporaryDirectory(prefix="runner-wrap-") as empty:
        built = docker_engine.build_image(Path(empty), None, {}, on_line=on_line, dockerfile_text=text)
        return str(built)


def find_handoff(directories: list[Path], service: str) -> tuple[Path, str] | None:
    """The image a build handed off in imagedefinitions.json or imageDetail.json (first found)."""
    for directory in directories:
        for name in HANDOFF_FILES:
            path = directory / name
            if path.is_file():
                return path, handoff_uri(path, service)
    return None


def handoff_uri(path: Path, service: str) -> str:
    """CodePipeline's formats: `[{"name": …, "imageUri": …}]` or `{"ImageURI": …}`."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RunnerError(f"{path.name}: not valid JSON ({e})") from e
    if path.name == "imageDetail.json":
        if not isinstance(data, dict) or not isinstance(data.get("ImageURI"), str):
            raise RunnerError(f'{path.name}: expected an object {{"ImageURI": "<image>"}}')
        return str(data["ImageURI"])
    entries = data if isinstance(data, list) else []
    valid = [e for e in entries if isinstance(e, dict) and isinstance(e.get("imageUri"), str)]
    if not valid or len(valid) != len(entries):
        raise RunnerError(f'{path.name}: expected an array of {{"name": …, "imageUri": …}}')
    named = [e for e in valid if e.get("name") == service]
    if len(named) == 1 or len(valid) == 1:
        return str((named or valid)[0]["imageUri"])
    raise RunnerError(f"{path.name}: no single entry named {service!r}")


def image_definitions(path: Path) -> dict[str, str]:
    """Every entry of an imagedefinitions.json (the standard ECS action's): container → image URI."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise RunnerError(f"{path.name}: not valid JSON ({e})") from e
    entries = data if isinstance(data, list) else []
    valid = [e for e in entries if isinstance(e, dict) and isinstance(e.get("imageUri"), str)]
    if not valid or len(valid) != len(entries) or not all(isinstance(e.get("name"), str) for e in valid):
        raise RunnerError(f'{path.name}: expected an array of {{"name": …, "imageUri": …}}')
    return {str(e["name"]): str(e["imageUri"]) for e in valid}


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
