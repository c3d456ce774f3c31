"""Images on the Docker engine: inspect, build, tag, import, push, list and remove them,
compare their content, and read a file out of one."""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from runner.adapters.docker import engine_api
from runner.adapters.docker.client import client, labels, translate
from runner.adapters.executor import first_file
from runner.errors import EngineError

if TYPE_CHECKING:
    import docker
    import docker.errors
else:
    from runner.adapters.docker.client import docker


@dataclass(frozen=True, slots=True)
class ImageInfo:
    id: str
    tags: tuple[str, ...]
    labels: dict[str, str]
    created: str
    size: int
    repo_digests: tuple[str, ...] = ()


@translate("inspect image")
def image(ref: str) -> ImageInfo | None:
    attrs = _inspect_image(ref)
    if attrs is None:
        return None
    return ImageInfo(
        id=str(attrs["Id"]),
        tags=tuple(t for t in attrs.get("RepoTags") or () if t != "<none>:<none>"),
        labels=dict(attrs.get("Config", {}).get("Labels") or {}),
        created=str(attrs.get("Created", "")),
        size=int(attrs.get("Size", 0)),
        repo_digests=tuple(attrs.get("RepoDigests") or ()),
    )


def _inspect_image(ref: str) -> dict[str, Any] | None:
    """The engine's image inspect document, None when it has no such image."""
    if engine_api.socket_path() is None:
        try:
            return dict(client().images.get(ref).attrs)
        except docker.errors.ImageNotFound:
            return None
    try:
        return dict(engine_api.request("GET", f"/images/{ref}/json")[1] or {})
    except engine_api.ApiError as e:
        if e.status == 404:
            return None
        raise


@translate("import image")
def import_tar(stream: IO[bytes], ref: str, changes: list[str]) -> str:
    """`docker import`: a root filesystem tar stream becomes an image."""
    repository, _, tag = ref.rpartition(":")
    result = client().api.import_image_from_stream(stream, repository=repository, tag=tag, changes=changes)
    if "error" in str(result).lower() and "status" not in str(result):
        raise EngineError(f"import image {ref}: {result}")
    info = image(ref)
    if info is None:
        raise EngineError(f"import image {ref}: the engine reported success but has no image")
    return str(info.id)


@translate("build image")
def build_image(
    context: Path,
    ref: str | None,
    image_labels: dict[str, str],
    dockerfile: str = "Dockerfile",
    buildargs: dict[str, str] | None = None,
    on_line: Callable[[str], None] = lambda _line: None,
    dockerfile_text: str | None = None,
    nocache: bool = False,
) -> str:
    """Build an image from a context directory, streaming its output; returns the image id."""
    api = client().api
    kwargs: dict[str, Any] = {
        "labels": image_labels,
        "buildargs": buildargs or {},
        "rm": True,
        "forcerm": True,
        "decode": True,
        "pull": False,
        "nocache": nocache,
    }
    if dockerfile_text is not None:
        kwargs |= {
            "fileobj": _context_with_dockerfile(context, dockerfile_text),
            "custom_context": True,
        }
    else:
        kwargs |= {"path": str(context), "dockerfile": dockerfile}
    image_id = ""
    for chunk in api.build(**kwargs):
        if "error" in chunk:
            raise EngineError(f"build image {ref or context}: {str(chunk['error']).strip()}")
        for line in str(chunk.get("stream", "")).splitlines():
            if line.strip():
                on_line(line)
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = str(chunk["aux"]["ID"])
    if not image_id:
        raise EngineError(f"build image {ref or context}: the engine returned no image id")
    if ref:
        tag_image(image_id, ref)
    return image_id


def _context_with_dockerfile(context: Path, dockerfile_text: str) -> IO[bytes]:
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if context.is_dir():
            tar.add(str(context), arcname=".")
        data = dockerfile_text.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


@translate("tag image")
def tag_image(image_id: str, ref: str) -> None:
    repository, _, tag = ref.rpartition(":")
    if engine_api.socket_path() is not None:
        params = {"repo": repository, "tag": tag}
        tagged = engine_api.request("POST", f"/images/{image_id}/tag", params)[0] == 201
    else:
        tagged = client().api.tag(image_id, repository, tag)
    if not tagged:
        raise EngineError(f"tag image: the engine refused to tag {image_id} as {ref}")


@translate("remove image")
def remove_image(ref: str) -> bool:
    try:
        client().images.remove(ref, noprune=False)
        return True
    except docker.errors.ImageNotFound:
        return True
    except docker.errors.APIError as e:
        if e.status_code == 409:  # in use by a container: keep it
            return False
        raise


@translate("list images")
def list_images(label_filter: Iterable[str]) -> list[ImageInfo]:
    found = client().images.list(filters={"label": list(label_filter)})
    return [
        ImageInfo(
            id=str(i.id),
            tags=tuple(i.tags),
            labels=dict(i.labels or {}),
            created=str(i.attrs.get("Created", "")),
            size=int(i.attrs.get("Size", 0)),
        )
        for i in found
    ]


# The runtime configuration that makes two images behave the same (labels and build
# history are left out: they name the build, not the content).
_CONTENT_KEYS = (
    "User",
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "ExposedPorts",
    "Volumes",
    "StopSignal",
    "Healthcheck",
    "Shell",
    "OnBuild",
)


@dataclass(frozen=True, slots=True)
class ImageContent:
    """What an image holds: its layers (RootFS diff ids) and its runtime configuration."""

    layers: tuple[str, ...]
    config: str  # canonical JSON of the keys above


@translate("inspect image")
def image_content(ref: str) -> ImageContent | None:
    try:
        attrs = client().images.get(ref).attrs
    except docker.errors.ImageNotFound:
        return None
    config = attrs.get("Config") or {}
    return ImageContent(
        layers=tuple((attrs.get("RootFS") or {}).get("Layers") or ()),
        config=json.dumps({k: config.get(k) for k in _CONTENT_KEYS}, sort_keys=True),
    )


@translate("read a file from an image")
def read_image_file(ref: str, path: str) -> bytes | None:
    """A regular file of an image, read from a created (never started) container; None if absent."""
    api = client().api
    created = api.create_container(image=ref, command=["true"], entrypoint=[], labels=labels("probe"))
    try:
        stream, _stat = api.get_archive(created["Id"], path)
        archive = b"".join(stream)
    except docker.errors.NotFound:
        return None
    finally:
        api.remove_container(created["Id"], force=True)
    return first_file([archive])


@translate("push image")
def push_image(ref: str, on_line: Callable[[str], None] = lambda _line: None) -> str:
    """Push repository:tag to its registry; returns the manifest digest (sha256:…)."""
    repository, _, tag = ref.rpartition(":")
    digest = ""
    for chunk in client().api.push(repository, tag=tag, stream=True, decode=True):
        if "error" in chunk:
            raise EngineError(f"push {ref}: {str(chunk['error']).strip()}")
        if chunk.get("status") and "id" not in chunk:
            on_line(str(chunk["status"]))
        digest = str((chunk.get("aux") or {}).get("Digest") or digest)
    if not digest:
        raise EngineError(f"push {ref}: the engine reported no digest")
    return digest
