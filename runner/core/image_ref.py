"""The image a deployment names (tag, image id, registry digest), the one immutability rule and the
one reader of CodePipeline's hand-off files. Pure: no engine, no store.

A reference is immutable when nothing can make it name other content later: an image id
(`sha256:…`), a registry digest (`repo@sha256:…`), or a tag runner writes and never moves
(`<service>:<sha12>` or `<service>:<sha12>-dirty-<hash8>`, also under a registry prefix,
whose push refuses to move it). Any other tag (`latest`, `prod`, `v1.2` …) may be moved,
so a deployment refuses it: a mutable tag is resolved again whenever a container starts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.errors import UsageError

TAG = re.compile(r"(?P<service>[a-z][a-z0-9-]{0,30}):(?P<sha>[0-9a-f]{12})(?:-dirty-(?P<hash>[0-9a-f]{8}))?")
IMAGE_ID = re.compile(r"sha256:[0-9a-f]{1,64}")
DIGEST = re.compile(r"[^@\s]+@sha256:[0-9a-f]{64}")
HANDOFF_FILES = ("imagedefinitions.json", "imageDetail.json")


@dataclass(frozen=True, slots=True)
class ImageRef:
    """An image as builds hand it on and deployments run it: the immutable tag, the image id it
    named when it was built and, once pushed to pipeline.yml's registry, `repo@sha256:…`."""

    tag: str
    id: str
    repo_digest: str | None = None

    @property
    def service(self) -> str:
        return self.tag.rpartition("/")[2].partition(":")[0]

    @property
    def reference(self) -> str:
        """What a slot container runs: the registry digest when there is one, else the image id."""
        return self.repo_digest or self.id

    def as_json(self) -> dict[str, str]:
        return {"tag": self.tag, "id": self.id} | (
            {"repo_digest": self.repo_digest} if self.repo_digest else {}
        )

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageRef:
        digest = data.get("repo_digest")
        return cls(str(data["tag"]), str(data["id"]), str(digest) if digest else None)

    def __str__(self) -> str:
        return f"{self.tag} ({self.id[7:19] or self.id})"


@dataclass(frozen=True, slots=True)
class ImageResult:
    """The image step's outcome: the image (typed, as later stages load it back), reused or built, why."""

    ref: ImageRef
    reused: bool
    reason: str

    @property
    def tag(self) -> str:
        return self.ref.tag

    @property
    def id(self) -> str:
        return self.ref.id

    @property
    def repo_digest(self) -> str | None:  # host:port/<service>@sha256:… when pipeline.yml names a registry
        return self.ref.repo_digest

    def as_json(self) -> dict[str, Any]:
        return self.ref.as_json() | {"reused": self.reused, "reason": self.reason}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ImageResult:
        return cls(ImageRef.from_json(data), bool(data.get("reused")), str(data.get("reason", "")))


def commit_tag(service: str, commit: str) -> str:
    return f"{service}:{commit[:12]}"


def dirty_tag(service: str, commit: str, content_hash: str) -> str:
    return f"{service}:{commit[:12]}-dirty-{content_hash[:8]}"


def is_immutable(reference: str) -> bool:
    """The one rule (module docstring)."""
    if IMAGE_ID.fullmatch(reference) or DIGEST.fullmatch(reference):
        return True
    return TAG.fullmatch(reference.rpartition("/")[2]) is not None


def check_immutable(reference: str) -> None:
    if not is_immutable(reference):
        raise UsageError(
            f"{reference!r} is not an immutable image reference: deploy <service>:<sha12>, "
            "<service>:<sha12>-dirty-<hash8> (see `runner images list`), an image id (sha256:…) "
            "or a registry digest (repo@sha256:…); mutable tags such as latest are refused"
        )


# ---------------------------------------------------------------- hand-off files


def find_handoff(directories: Sequence[Path], service: str) -> tuple[Path, str] | None:
    """The image a build handed off in imagedefinitions.json or imageDetail.json (first found)."""
    for directory in directories:
        for name in HANDOFF_FILES:
            path = directory / name
            if path.is_file():
                return path, read_handoff(path, service)
    return None


def read_handoff(path: Path, service: str | None = None) -> str:
    """CodePipeline's formats: imagedefinitions.json `[{"name": …, "imageUri": …}]` (the entry named
    `service`, or the only one) or imageDetail.json `{"ImageURI": …}`."""
    data = _json(path)
    by_shape = path.name not in HANDOFF_FILES  # `runner deploy` takes any file name
    if path.name == "imageDetail.json" or (by_shape and isinstance(data, dict)):
        if not isinstance(data, dict) or not isinstance(data.get("ImageURI"), str):
            raise UsageError(f'{path}: expected imageDetail.json {{"ImageURI": "<image>"}}')
        return str(data["ImageURI"])
    valid = _definitions(path, data)
    named = [e for e in valid if e.get("name") == service] if service else []
    if len(named) == 1 or len(valid) == 1:
        return str((named or valid)[0]["imageUri"])
    wanted = f"named {service!r}" if service else "(deploy one service at a time)"
    raise UsageError(f"{path}: {len(valid)} images and no single entry {wanted}")


def image_definitions(path: Path) -> dict[str, str]:
    """Every entry of an imagedefinitions.json (the standard ECS action's): container → image URI."""
    valid = _definitions(path, _json(path))
    if not all(isinstance(e.get("name"), str) for e in valid):
        raise UsageError(f'{path}: expected imagedefinitions.json [{{"name": …, "imageUri": …}}]')
    return {str(e["name"]): str(e["imageUri"]) for e in valid}


def _json(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: not a readable JSON file ({e})") from e


def _definitions(path: Path, data: Any) -> list[dict[str, Any]]:
    entries = data if isinstance(data, list) else []
    valid = [e for e in entries if isinstance(e, dict) and isinstance(e.get("imageUri"), str)]
    if not valid or len(valid) != len(entries):
        raise UsageError(f'{path}: expected imagedefinitions.json [{{"name": …, "imageUri": …}}]')
    return valid
