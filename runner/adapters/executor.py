"""The execution seam (STYLE.md rule 6): a RunRequest in, a RunOutcome out.

An Executor starts a container for a request; the Running container streams its output,
waits, is killed, tells what came of it, is committed to an image, takes files in and
gives them out (tar archives), and is removed. The Docker engine's executor
(runner/adapters/docker/executor.py) is the real one; the build loop (runner/codebuild)
and the appspec hooks (runner/codedeploy/hooks.py) take an executor, so a test of the
build loop may drive it with a fake, and an engine that does not share our filesystem
can have its own. Files that cross into a container are part of its request (`files`);
an executor that shares our filesystem may write them through a mount instead of
copying them in. Imports nothing of the runner.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Mount:
    source: str  # a host directory
    target: str  # where the container sees it
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class File:
    """A file placed in the container before its command runs."""

    path: str  # absolute, in the container
    data: bytes
    mode: int = 0o644


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What a one-shot container needs."""

    image: str
    command: list[str]
    env: dict[str, str]
    labels: dict[str, str]
    workdir: str | None = None
    mounts: tuple[Mount, ...] = ()
    user: str | None = None
    privileged: bool = False
    network: str | None = None
    memory: str | None = None
    name: str | None = None
    entrypoint: list[str] | None = field(default_factory=lambda: [])
    files: tuple[File, ...] = ()


@dataclass(frozen=True, slots=True)
class RunOutcome:
    exit_code: int
    oom_killed: bool
    changed: bool  # the container changed its own filesystem (outside its mounts)
    container_id: str
    error: str = ""


class Running(Protocol):
    """A started container."""

    @property
    def id(self) -> str: ...

    def output(self) -> Iterator[bytes]:
        """Its stdout and stderr, as they come, until it exits."""
        ...

    def wait(self, timeout_s: float | None = None) -> int: ...

    def finish(self, exit_code: int) -> RunOutcome:
        """What came of it, once it has exited."""
        ...

    def oom_killed_eventually(self, timeout_s: float) -> bool: ...

    def kill(self) -> None: ...

    def commit(self, ref: str, snapshot_labels: dict[str, str], blank_env: tuple[str, ...] = ()) -> str:
        """An image of its filesystem, tagged `ref`; returns the image id."""
        ...

    def put_files(self, files: Sequence[File]) -> None:
        """Place files in it (running or not)."""
        ...

    def get_archive(self, path: str) -> Iterator[bytes] | None:
        """A tar stream of `path` (named by its last part); None when there is no such path."""
        ...

    def remove(self) -> None: ...


class Executor(Protocol):
    """Where containers run."""

    @property
    def shares_files(self) -> bool:
        """Host directories in `mounts` are the container's own, and a file written to one
        is seen at once by both (FIFOs included): an engine on this machine. Else a mount's
        content is copied in before the container starts and out after it exits."""
        ...

    def start(self, request: RunRequest) -> Running: ...

    def has_image(self, ref: str) -> bool: ...

    def read_image_file(self, image: str, path: str) -> bytes | None:
        """A regular file of an image; None when it has none at `path`."""
        ...

    def interactive(self, request: RunRequest) -> int:
        """Run attached to this terminal (`runner debug`); returns the exit status."""
        ...

    def release(self) -> None:
        """Its containers are removed: remove what else they needed on the engine (volumes)."""
        ...


def tar_of(files: Iterable[File]) -> bytes:
    """A tar archive of the files, by their path below /, to extract at /."""
    import tarfile  # not on the fast paths that only need the records

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for each in files:
            info = tarfile.TarInfo(each.path.lstrip("/"))
            info.size, info.mode, info.mtime = len(each.data), each.mode, int(time.time())
            tar.addfile(info, io.BytesIO(each.data))
    return buffer.getvalue()


def first_file(stream: Iterable[bytes]) -> bytes | None:
    """The content of a tar stream's first member, when it is a regular file."""
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.next()
        content = tar.extractfile(member) if member is not None and member.isfile() else None
        return content.read() if content is not None else None
