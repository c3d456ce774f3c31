"""Images on another engine: built here, where the Debian mirror is reachable, and streamed there
by image id (runner/adapters/docker/transfer.py). The target needs no network and no registry: an
air-gapped build box gets the base images this machine made, under their tags, with their ids.

The images are always built on this machine's engine, even when the target could reach the
mirror itself: one recipe makes one image id on every engine, so builds and environments on
either start from the same bytes, and a second run finds the ids there and sends nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass

from runner.adapters.docker.client import KIND, MANAGED
from runner.adapters.docker.remote import Endpoint, facts
from runner.adapters.docker.transfer import Copied, Progress, copy_image, image_labels
from runner.errors import EngineError
from runner.images import base
from runner.images.base import ImageState

HERE = Endpoint()  # this machine's engine: where the images are built and copied from


@dataclass(frozen=True, slots=True)
class Placed:
    """A base image as this machine's engine has it, and what it took to put it on the target."""

    state: ImageState
    bytes_sent: int  # 0 when the target had that image id already
    seconds: float


def _no_progress(_stage: str, _done: int, _total: int) -> None:
    pass


def older_base_image(labels: dict[str, str]) -> bool:
    """A tag on the target naming one of our base images (an older recipe, or one built there)
    moves to ours, as a rebuild here moves it; a tag naming anything else is never overwritten."""
    return labels.get(MANAGED) == "1" and labels.get(KIND) == "base-image"


def reachable(target: Endpoint) -> None:
    """One line naming the engine and why, before anything is built for it."""
    found = facts(target)
    if not found.ok:
        raise EngineError(f"engine {target.shown()}: {found.error}")


def present_on(
    target: Endpoint,
    ref: str,
    progress: Progress = _no_progress,
    say: Callable[[str], None] = print,
    source: Endpoint = HERE,
) -> Copied:
    """Make image `ref` present on `target` under the id it has on `source`; nothing is sent when
    the target has that id. Any image but a base image must be on `source` already; a base image
    (runner/build:bookworm, …) that `source` lacks, or has from an older recipe, is bootstrapped
    first, on this process's default engine (pass that engine as `source` then)."""
    if ref in base.refs_named(()) and not _current(source, ref):
        base.bootstrap(say=say, only=(ref,))
    return copy_image(source, ref, target, progress, older_base_image)


def _current(source: Endpoint, ref: str) -> bool:
    labels = image_labels(source, ref)
    return labels is not None and labels.get(base.RECIPE_LABEL) == base.recipe_digests()[ref]


def bootstrap_on(
    target: Endpoint,
    only: Collection[str] = (),
    force: bool = False,
    say: Callable[[str], None] = print,
    progress_for: Callable[[str], Progress] = lambda _ref: _no_progress,
) -> list[Placed]:
    """`runner images bootstrap -H`: the base images made current here, then copied to `target`."""
    base.refs_named(only)  # a misspelt name is a usage error, whatever the engine's state
    reachable(target)
    placed = []
    for state in base.bootstrap(force=force, say=say, only=only):
        copied = copy_image(HERE, state.ref, target, progress_for(state.ref), older_base_image)
        placed.append(Placed(state, copied.bytes_sent, copied.seconds))
    return placed
