"""Which services a set of saved files concerns (working-tree mode of `runner watch`)."""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable
from pathlib import Path

from runner.adapters import git as source
from runner.core.config import PipelineConfig, Service
from runner.paths import PIPELINE_FILE

RUNNER_IGNORE = ".runnerignore"


def runner_owned(root: Path, home: Path) -> tuple[Path, ...]:
    """Directories the runner writes (state, snapshots, workspaces, caches, logs): never inputs."""
    return tuple(dict.fromkeys((root / ".git", root / ".runner", home)))


def inside(path: Path, directories: Iterable[Path]) -> bool:
    return any(path == d or d in path.parents for d in directories)


def relevant(root: Path, paths: list[str], owned: tuple[Path, ...]) -> list[str]:
    """Repo-relative paths of the edits that may matter: not the runner's own, not ignored.

    Ignored: what git ignores (.gitignore files, .git/info/exclude, core.excludesFile)
    and what .runnerignore names (gitignore syntax, tracked files too), asked of git in
    one batch so that the answer is git's own, negations and `**` included.
    """
    rel = []
    for path in dict.fromkeys(paths):
        absolute = Path(path)
        if not inside(absolute, owned) and (absolute == root or root in absolute.parents):
            rel.append(os.path.relpath(absolute, root).replace(os.sep, "/"))
    ignored = source.check_ignored(root, rel, root / RUNNER_IGNORE)
    return [p for p in rel if p not in ignored]


def scope(config: PipelineConfig, service: Service, shared: set[str]) -> list[str]:
    """Path prefixes whose edits concern a service: its path, `inputs`, buildspec, Dockerfile,
    and the repository files its buildspec names (shared scripts, buildspec fragments)."""
    dockerfile = posixpath.join(service.path, service.image.dockerfile)  # as runner/images/inputs.py
    return [
        posixpath.normpath(p.strip("/"))
        for p in (service.path, *service.inputs, service.buildspec, dockerfile, *shared)
    ]


def touched(config: PipelineConfig, paths: list[str]) -> dict[str, list[str]]:
    """Service → the edited paths in its scope; pipeline.yml concerns every service."""
    if not paths:
        return {}
    from runner.images import inputs  # only when something changed: watch starts without it

    tree = inputs.work_tree(config.root)
    result: dict[str, list[str]] = {}
    for service in config.services:
        text = (tree.read(service.buildspec) or b"").decode("utf-8", "replace")
        prefixes = scope(config, service, inputs.referenced_paths(text, service.path, tree))
        hits = [p for p in paths if p == PIPELINE_FILE or any(_under(p, prefix) for prefix in prefixes)]
        if hits:
            result[service.name] = hits
    return result


def _under(path: str, prefix: str) -> bool:
    return prefix in ("", ".") or path == prefix or path.startswith(prefix + "/")


def describe(paths: list[str], limit: int = 3) -> str:
    shown = ", ".join(paths[:limit]) + (f" and {len(paths) - limit} more" if len(paths) > limit else "")
    return f"{len(paths)} file{'s' if len(paths) != 1 else ''} changed: {shown}"
