"""A build's directories on the host, and how they appear inside the build containers.

.runner/work/<build-uuid>/output/        → /codebuild/output
    src<NNNNNNNNN>/src/                  → CODEBUILD_SRC_DIR (a copy of the source,
                                           or the source itself bind-mounted with -m)
    src<NNNNNNNNN>/secSrc/<id>/          → CODEBUILD_SRC_DIR_<id>, a secondary source
                                           (copied, or bind-mounted with -m, likewise)
    tmp/                                 → scripts, commands, saved shell states
"""

from __future__ import annotations

import errno
import os
import random
import shutil
from dataclasses import dataclass
from pathlib import Path

from runner.adapters.executor import Mount
from runner.codebuild.secondary_sources import SECONDARY_DIR, SecondarySource

CONTAINER_OUTPUT = "/codebuild/output"
IGNORED_IN_COPY = (".runner",)


@dataclass(frozen=True, slots=True)
class Workspace:
    root: Path  # host: .runner/work/<uuid>
    src_number: str
    mounted_source: Path | None  # -m: the user's directory itself (and -m mounts every source)
    secondary: tuple[SecondarySource, ...] = ()

    @property
    def output(self) -> Path:
        return self.root / "output"

    @property
    def src(self) -> Path:
        """Where the build's source is on the host."""
        return self.mounted_source or self.output / f"src{self.src_number}" / "src"

    @property
    def secondary_root(self) -> Path:
        return self.output / f"src{self.src_number}" / SECONDARY_DIR

    def secondary_src(self, source: SecondarySource) -> Path:
        """Where a secondary source is on the host (a copy, or the user's own with -m)."""
        return source.path if self.mounted_source is not None else self.secondary_root / source.identifier

    def container_secondary(self, identifier: str) -> str:
        return f"{CONTAINER_OUTPUT}/src{self.src_number}/{SECONDARY_DIR}/{identifier}"

    @property
    def tmp(self) -> Path:
        return self.output / "tmp"

    @property
    def container_src(self) -> str:
        return f"{CONTAINER_OUTPUT}/src{self.src_number}/src"

    @property
    def container_tmp(self) -> str:
        return f"{CONTAINER_OUTPUT}/tmp"

    def to_container(self, host_path: Path) -> str:
        return f"{CONTAINER_OUTPUT}/{host_path.relative_to(self.output).as_posix()}"

    def mounts(self) -> tuple[Mount, ...]:
        mounts = [Mount(str(self.output), CONTAINER_OUTPUT)]
        if self.mounted_source is not None:
            mounts.append(Mount(str(self.mounted_source), self.container_src))
            mounts += [Mount(str(s.path), self.container_secondary(s.identifier)) for s in self.secondary]
        return tuple(mounts)


def create(
    work_dir: Path,
    build_uuid: str,
    source: Path,
    mount_source: bool,
    secondary: tuple[SecondarySource, ...] = (),
) -> Workspace:
    number = f"{random.SystemRandom().randrange(10**8, 10**9)}"
    space = Workspace(work_dir / build_uuid, number, source.resolve() if mount_source else None, secondary)
    (space.output / f"src{number}" / "src").mkdir(parents=True)
    for each in secondary:  # a copy's destination, or the mount point of a -m mount
        (space.secondary_root / each.identifier).mkdir(parents=True)
    # Only the runner's user may enter the workspace on the host (saved shell states
    # hold the build's variables); inside the containers, any run-as user must be able
    # to write its state and read the state a phase run by another user left.
    os.chmod(space.root, 0o700)
    for directory in (space.tmp, space.tmp / "state"):
        directory.mkdir()
        os.chmod(directory, 0o1777)
    return space


def runner_paths(work_dir: Path, cache_dir: Path | None, db: Path) -> tuple[Path, ...]:
    """The runner's state, never copied as source even when it lives inside it: a copy
    would recurse into the workspace, and reading the live database closes its file
    descriptors, which drops this process's SQLite locks (POSIX lock semantics)."""
    files = tuple(db.with_name(db.name + suffix) for suffix in ("", "-wal", "-shm", "-journal"))
    return (work_dir, db.parent, *((cache_dir,) if cache_dir else ()), *files)


def copy_source(source: Path, space: Workspace, skip: tuple[Path, ...] = ()) -> None:
    """DOWNLOAD_SOURCE: copy the source tree, then each secondary source's; symlinks are
    copied as links, never followed, and `.runner` is never copied.

    `skip`: the runner's own directories (work, cache), which may live inside a source
    (RUNNER_HOME=./state): copying the workspace into itself would never end.
    """
    if space.mounted_source is not None:
        return
    skipped = {os.path.realpath(p) for p in (*skip, space.root)}

    def ignore(directory: str, names: list[str]) -> set[str]:
        ignored = set(shutil.ignore_patterns(*IGNORED_IN_COPY)(directory, names))
        real = os.path.realpath(directory) + os.sep
        if any(path.startswith(real) for path in skipped):  # one of ours is below: look closer
            ignored |= {n for n in names if os.path.realpath(os.path.join(directory, n)) in skipped}
        return ignored

    copies = [(source, space.src), *((s.path, space.secondary_src(s)) for s in space.secondary)]
    try:
        for tree, destination in copies:
            shutil.copytree(tree, destination, symlinks=True, dirs_exist_ok=True, ignore=ignore)
    except (shutil.Error, OSError) as e:
        raise SourceCopyError(_copy_problem(e, space)) from e  # the caller removes the half copy


class SourceCopyError(OSError):
    """DOWNLOAD_SOURCE could not copy the source: the machine's fault (FAULT), not the buildspec's."""


def _copy_problem(error: shutil.Error | OSError, space: Workspace) -> str:
    # shutil.Error carries a list of (source, destination, reason) for every file that failed.
    reasons = [str(item[2]) for item in error.args[0]] if isinstance(error, shutil.Error) else [str(error)]
    if (
        any(f"[Errno {errno.ENOSPC}]" in reason for reason in reasons)
        or getattr(error, "errno", 0) == errno.ENOSPC
    ):
        return (
            f"No space left on device while copying the source into {space.root}: free space there, "
            "or set RUNNER_HOME to a directory on a larger disk"
        )
    return f"cannot copy the source into {space.root}: {reasons[0] if reasons else error}"


def open_permissions(space: Workspace) -> None:
    """For `run-as` builds: the named user gets read, write and run on the copied source."""
    if space.mounted_source is not None:
        return
    for tree in (space.src, *(space.secondary_src(s) for s in space.secondary)):
        for root, dirs, files in os.walk(tree):
            for name in dirs + files:
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    mode = os.stat(path).st_mode
                    os.chmod(path, mode | 0o666 | (0o111 if mode & 0o111 or name in dirs else 0))
        os.chmod(tree, 0o777)


def remove_source(space: Workspace) -> None:
    """The copied sources only (never -m mounted ones): a half copy after a failure."""
    if space.mounted_source is None:
        shutil.rmtree(space.src, ignore_errors=True)
        shutil.rmtree(space.secondary_root, ignore_errors=True)


def remove(space: Workspace) -> None:
    shutil.rmtree(space.root, ignore_errors=True)
