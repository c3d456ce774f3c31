"""Deploy inputs are immutable image references: a tag plus the image id it named (decision 2).

A mutable tag (`latest`, `prod` …) is resolved again whenever a container starts, so it
is refused; slots always run the image id. Hand-off files (imagedefinitions.json,
imageDetail.json) are read the way CodePipeline reads them.
"""

from __future__ import annotations

import json
from pathlib import Path

from runner import docker_engine
from runner.deploy.model import ImageRef
from runner.errors import RunnerError, UsageError

MUTABLE_TAGS = frozenset(
    {
        "latest",
        "stable",
        "main",
        "master",
        "head",
        "prod",
        "production",
        "staging",
        "dev",
        "develop",
        "development",
        "edge",
        "nightly",
        "current",
        "live",
        "release",
        "test",
        "canary",
    }
)


def tag_part(ref: str) -> str:
    """The tag of `repo:tag` (`latest` when there is none, as Docker reads it)."""
    name = ref.split("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def check_immutable(ref: str) -> None:
    if ref.startswith("sha256:") or "@sha256:" in ref:
        return
    tag = tag_part(ref)
    if tag.lower() in MUTABLE_TAGS:
        shown = ref if ":" in ref.rsplit("/", 1)[-1] else f"{ref} (= {ref}:latest)"
        raise UsageError(
            f"{shown}: mutable tags such as '{tag}' are refused as deploy inputs; "
            "deploy an immutable tag (<service>:<commit>) or an image id (sha256:…)"
        )


def resolve(text: str) -> ImageRef:
    """`svc:tag`, `sha256:…`, or an imagedefinitions.json / imageDetail.json file → ImageRef."""
    if text.endswith(".json") and Path(text).is_file():
        text = from_handoff(Path(text))
    check_immutable(text)
    info = docker_engine.image(text)
    if info is None:
        raise RunnerError(
            f"image {text} not found in the local engine (build it first: runner build SERVICE)"
        )
    if text.startswith("sha256:"):
        tags = [t for t in info.tags if tag_part(t).lower() not in MUTABLE_TAGS]
        return ImageRef(tags[0] if tags else text, info.id)
    return ImageRef(text, info.id)


def verify(image: ImageRef) -> ImageRef:
    """The image exists; its tag (when still present) names the same id; fill a missing id."""
    if image.tag:
        check_immutable(image.tag)
    found = docker_engine.image(image.id or image.tag)
    if found is None:
        raise RunnerError(f"image {image.tag or image.id} not found in the local engine")
    if image.id and found.id != image.id:
        raise RunnerError(f"image {image.tag}: expected id {image.id}, found {found.id}")
    if image.tag and not image.tag.startswith("sha256:"):
        by_tag = docker_engine.image(image.tag)
        if by_tag is not None and by_tag.id != found.id:
            raise RunnerError(
                f"tag {image.tag} now names {by_tag.id[:19]}, not {found.id[:19]}: tags are immutable here; "
                "deploy by image id"
            )
    return ImageRef(image.tag or found.id, found.id)


def commit_of(image_id: str) -> str:
    info = docker_engine.image(image_id)
    return info.labels.get("runner.commit", "") if info else ""


def from_handoff(path: Path) -> str:
    """imagedefinitions.json (`[{"name", "imageUri"}]`) or imageDetail.json (`{"ImageURI"}`)."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UsageError(f"{path}: not a readable JSON file: {e}") from e
    if isinstance(data, dict) and isinstance(data.get("ImageURI"), str):
        return str(data["ImageURI"])
    if (
        isinstance(data, list)
        and data
        and isinstance(data[0], dict)
        and isinstance(data[0].get("imageUri"), str)
    ):
        if len(data) > 1:
            raise UsageError(f"{path}: {len(data)} images; deploy one service at a time")
        return str(data[0]["imageUri"])
    raise UsageError(
        f"{path}: expected imagedefinitions.json ([{{name, imageUri}}]) or imageDetail.json ({{ImageURI}})"
    )
