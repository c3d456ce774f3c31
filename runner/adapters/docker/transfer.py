"""Images streamed from one engine to another (save → load), identified by their id.

No registry and no network on the target are needed: an air-gapped build box gets the base
images `runner images bootstrap` made here. The source is saved by image id, so the archive
carries no tags and a load never moves a tag on the target; the tags asked for are set after
the load, and only where they are absent or already name the same image (or where the caller
says the image the tag names there may be replaced: an older base image of ours).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.adapters.docker.remote import QUICK_S, TRANSFER_S, Endpoint, client, guarded
from runner.errors import EngineError

if TYPE_CHECKING:
    import docker

CHUNK = 1 << 20
# (stage, bytes sent so far, the image's size: an estimate of the total). The stages: "exporting" once
# (the source writes the archive before its first byte: ~40 % of the time of a large image),
# "sending" while it streams, "loading" once (the target unpacks it before it answers: ~45 %).
Progress = Callable[[str, int, int], None]
# Whether a tag on the target that names other content may move to the copied image, given that
# content's labels. The default is never; `runner images bootstrap -H` moves its own base image tags.
Replaceable = Callable[[dict[str, str]], bool]


@dataclass(frozen=True, slots=True)
class Copied:
    image_id: str
    tags: tuple[str, ...]  # set on the target (or already there)
    bytes_sent: int  # 0 when the target had the image already
    seconds: float


def _no_progress(_stage: str, _done: int, _total: int) -> None:
    pass


def _never(_labels: dict[str, str]) -> bool:
    return False


@guarded(lambda source: f"copy an image from {source.shown()}")
def copy_image(
    source: Endpoint,
    ref: str,
    target: Endpoint,
    progress: Progress = _no_progress,
    replaceable: Replaceable = _never,
) -> Copied:
    """Make `ref` (a tag or an id on `source`) present on `target` with the same id; nothing is
    sent when the target has that id already (then only a missing tag is set)."""
    started = time.monotonic()
    src, dst = client(source, TRANSFER_S), client(target, TRANSFER_S)
    attrs = _inspect(src, ref)
    if attrs is None:
        raise EngineError(f"no image {ref} on {source.shown()}")
    image_id, tags = str(attrs["Id"]), _tags_named(ref, attrs)
    for tag in tags:
        _refuse_other_content(dst, tag, image_id, target, replaceable)
    sent = 0
    if _inspect(dst, image_id) is None:
        sent = _stream(src, dst, image_id, int(attrs.get("Size") or 0), progress, target)
    for tag in tags:
        _refuse_other_content(
            dst, tag, image_id, target, replaceable
        )  # again: another process may have tagged since
        repository, _, version = _split(tag)
        dst.api.tag(image_id, repository, version)
    return Copied(image_id, tags, sent, time.monotonic() - started)


@guarded(lambda endpoint: f"inspect an image on {endpoint.shown()}")
def image_labels(endpoint: Endpoint, ref: str) -> dict[str, str] | None:
    """The labels of image `ref` on that engine; None when it has no such image."""
    attrs = _inspect(client(endpoint, QUICK_S), ref)
    return None if attrs is None else _labels(attrs)


def _inspect(engine: docker.DockerClient, ref: str) -> dict[str, Any] | None:
    import docker

    try:
        return dict(engine.api.inspect_image(ref))  # type: ignore[no-untyped-call]
    except docker.errors.ImageNotFound:
        return None


def _labels(attrs: dict[str, Any]) -> dict[str, str]:
    return dict((attrs.get("Config") or {}).get("Labels") or {})


def _tags_named(ref: str, attrs: dict[str, Any]) -> tuple[str, ...]:
    """The tag `ref` names (as the engine spells it: `:latest` added), or none for an id."""
    repo_tags = [t for t in attrs.get("RepoTags") or () if t != "<none>:<none>"]
    wanted = (ref if _split(ref)[1] else f"{ref}:latest").removeprefix("docker.io/").removeprefix("library/")
    return tuple(t for t in repo_tags if t == wanted)


def _split(ref: str) -> tuple[str, str, str]:
    """(repository, ':', tag) when ref carries a tag; a registry's host:port is no tag."""
    repository, colon, tag = ref.rpartition(":")
    if not colon or "/" in tag or "@" in ref:
        return ref, "", ""
    return repository, colon, tag


def _refuse_other_content(
    engine: docker.DockerClient, tag: str, image_id: str, target: Endpoint, replaceable: Replaceable
) -> None:
    there = _inspect(engine, tag)
    if there is not None and there["Id"] != image_id and not replaceable(_labels(there)):
        raise EngineError(
            f"{tag} on {target.shown()} is another image ({str(there['Id'])[7:19]}, not {image_id[7:19]}): "
            "a tag is never overwritten; remove or retag it there first"
        )


def _stream(
    src: docker.DockerClient,
    dst: docker.DockerClient,
    image_id: str,
    size: int,
    progress: Progress,
    target: Endpoint,
) -> int:
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        progress("exporting", 0, size)
        for chunk in src.api.get_image(image_id, chunk_size=CHUNK):
            sent += len(chunk)
            progress("sending", sent, size)
            yield chunk
        progress("loading", sent, size)

    for line in dst.api.load_image(chunks(), quiet=True):  # type: ignore[no-untyped-call]
        if isinstance(line, dict) and line.get("error"):
            raise EngineError(f"load into {target.shown()}: {line['error']}")
    if _inspect(dst, image_id) is None:
        raise EngineError(f"load into {target.shown()} did not produce {image_id[:19]}")
    return sent
