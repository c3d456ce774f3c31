"""CodeBuild's path globs (artifacts, reports, cache), and the workspace boundary (pure).

`*` matches within one path component, `**` across directories, `?` one character;
`dir/*` is the files directly in dir (not the files of its sub-directories: AWS's
"all files in a subdirectory"), `dir/**/*` every file below dir (CODEBUILD.md decision 24).
A pattern without wildcards that names a directory (`dist`) selects everything below
it. `*` matches dot files too.
"""

from __future__ import annotations

import functools
import os
import re
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

RUNNER_DIRS = (".runner",)
# Where an absolute base-directory (a path in the build container) is on the host:
# (a root directory, the base-directory below it). See runner/codebuild/build_paths.py.
Locate = Callable[[str], tuple[Path, str]]


class PathEscape(ValueError):
    """A path that would leave the workspace."""


def check_relative(path: str) -> str:
    """A workspace-relative path: no absolute paths, no `..` components."""
    cleaned = path[2:] if path.startswith("./") else path
    if cleaned.startswith("/") or os.path.isabs(cleaned):
        raise PathEscape(f"{path!r} is absolute; expected a path relative to the source directory")
    if ".." in PurePosixPath(cleaned).parts:
        raise PathEscape(f"{path!r} contains '..'; paths cannot leave the source directory")
    return cleaned


@functools.lru_cache(maxsize=512)
def compile_glob(pattern: str) -> re.Pattern[str]:
    pattern = pattern[2:] if pattern.startswith("./") else pattern
    out, i = [], 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "[" and "]" in pattern[i + 1 :]:
            end = pattern.index("]", i + 1)
            out.append("[" + pattern[i + 1 : end].replace("!", "^", 1) + "]")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out).rstrip("/") + "/?")


def matches(pattern: str, path: str) -> bool:
    return compile_glob(pattern).fullmatch(path) is not None


@dataclass(frozen=True, slots=True)
class Entry:
    """A file (or symlink) found under a base directory, relative to it."""

    rel: str
    path: Path
    is_link: bool


def walk(base: Path) -> tuple[list[Entry], list[str]]:
    """Regular files and symlinks below base (symlinks are never followed), and the
    directories. FIFOs, sockets and devices are left out: reading one could block."""
    files: list[Entry] = []
    dirs: list[str] = []
    for root, dirnames, filenames in os.walk(base, followlinks=False):
        # The runner's own state (-m mounts a source that may hold it) is never build output.
        dirnames[:] = [d for d in dirnames if d not in RUNNER_DIRS]
        rel_root = os.path.relpath(root, base)
        prefix = "" if rel_root == "." else rel_root.replace(os.sep, "/") + "/"
        for name in dirnames:
            full = Path(root) / name
            if full.is_symlink():
                files.append(Entry(prefix + name, full, True))
            else:
                dirs.append(prefix + name)
        for name in filenames:
            full = Path(root) / name
            mode = full.lstat().st_mode
            if stat.S_ISREG(mode) or stat.S_ISLNK(mode):
                files.append(Entry(prefix + name, full, stat.S_ISLNK(mode)))
    return files, dirs


def select(
    entries: Iterable[Entry],
    dirs: Iterable[str],
    patterns: Iterable[str],
    excludes: Iterable[str] = (),
) -> list[Entry]:
    """Entries matched by any pattern (or under a directory a literal pattern names), minus excludes."""
    patterns, excludes = list(patterns), list(excludes)
    literal = [p for p in patterns if not has_wildcard(p)]
    named_dirs = [d for d in dirs if any(matches(p, d) for p in literal)]
    chosen = []
    for entry in entries:
        hit = any(matches(p, entry.rel) for p in patterns) or any(
            entry.rel.startswith(d + "/") for d in named_dirs
        )
        if hit and not any(matches(x, entry.rel) for x in excludes):
            chosen.append(entry)
    return sorted(chosen, key=lambda e: e.rel)


def has_wildcard(pattern: str) -> bool:
    return any(ch in pattern for ch in "*?[")


def base_directories(root: Path, pattern: str | None) -> list[Path]:
    """The directories a `base-directory` value names (it may be a pattern)."""
    if not pattern:
        return [root]
    cleaned = check_relative(pattern).rstrip("/")
    if not has_wildcard(cleaned):
        base = root / cleaned
        if base.is_dir() and not inside(root, base):
            # A symlink on the way (base-directory: link-to-home) would walk the host.
            raise PathEscape(f"{pattern!r} leads outside the source directory through a symlink")
        return [base] if base.is_dir() else []
    _, dirs = walk(root)
    return [root / d for d in sorted(dirs) if matches(cleaned, d)]


def locate_base(src_root: Path, base: str | None, locate: Locate | None) -> tuple[Path, str | None]:
    """The root a base-directory is read under: the source, or for an absolute one (a
    container path), where `locate` put it on the host. Without `locate` an absolute
    base-directory is refused by base_directories."""
    if base and base.startswith("/") and locate is not None:
        return locate(base)
    return src_root, base


def inside(root: Path, path: Path) -> bool:
    """Does path (symlinks resolved) stay inside root?"""
    try:
        path.resolve().relative_to(root.resolve())
        return True
    except ValueError:
        return False
