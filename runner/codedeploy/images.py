"""The image a deployment runs, checked against the engine (decision 2).

Deploy inputs are immutable references (the one rule: runner/core/image_ref.py). With a
registry in pipeline.yml, a slot runs the image's `repo@sha256:…` once it was pushed, else
its image id; never a tag, which could be resolved again whenever a container starts.
"""

from __future__ import annotations

from dataclasses import replace

from runner.adapters.docker import images
from runner.core.image_ref import ImageRef, check_immutable
from runner.errors import RunnerError
from runner.images import registry


def verify(image: ImageRef, registry_host: str | None = None) -> ImageRef:
    """The image exists; its tag (when still present) names the same id; fill a missing id, and the
    registry digest when pipeline.yml names a registry the image was pushed to."""
    if image.tag:
        check_immutable(image.tag)
    found = images.image(image.id or image.tag)
    if found is None:
        raise RunnerError(f"image {image.tag or image.id} not found in the local engine")
    if image.id and found.id != image.id:
        raise RunnerError(f"image {image.tag}: expected id {image.id}, found {found.id}")
    if image.tag and not image.tag.startswith("sha256:"):
        by_tag = images.image(image.tag)
        if by_tag is not None and by_tag.id != found.id:
            raise RunnerError(
                f"tag {image.tag} now names {by_tag.id[:19]}, not {found.id[:19]}: tags are immutable here; "
                "deploy by image id"
            )
    if image.repo_digest and image.repo_digest not in found.repo_digests:
        raise RunnerError(f"image {image.tag or found.id[:19]}: the engine does not know {image.repo_digest}")
    digest = image.repo_digest or registry.repo_digest(registry_host, image.service, found.id)
    return replace(image, tag=image.tag or found.id, id=found.id, repo_digest=digest)


def commit_of(image_id: str) -> str:
    return origin(image_id)[0]


def origin(image_id: str) -> tuple[str, float | None]:
    """The commit an image was built from and that commit's time, as its labels say (runner.images)."""
    info = images.image(image_id)
    labels = info.labels if info else {}
    made = labels.get("runner.commit-time", "")
    return labels.get("runner.commit", ""), float(made) if made.isdigit() else None
