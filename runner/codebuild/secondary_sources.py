"""Secondary sources (`-s IDENTIFIER:DIR`): the flags, their records and their variables.

AWS's codebuild_build.sh takes the first `-s` verbatim as the primary source's directory
and every later one as IDENTIFIER:DIR, split at the first colon. CodeBuild's rule for a
sourceIdentifier: only letters, digits and underscores, fewer than 128 characters.
In the build, a secondary source is at /codebuild/output/src<N>/secSrc/<IDENTIFIER>, the
local agent's own layout (aws/aws-codebuild-docker-images#367: `CODEBUILD_SRC_DIR_b=
/codebuild/output/src512/secSrc/b` next to `CODEBUILD_SRC_DIR=/codebuild/output/src512/src`),
which no primary file and no other identifier can collide with.
Reference: https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.adapters.git import describe as describe_dir
from runner.errors import UsageError

SECONDARY_DIR = "secSrc"
_IDENTIFIER = re.compile(r"[A-Za-z0-9_]{1,127}")


@dataclass(frozen=True, slots=True)
class SecondarySource:
    identifier: str
    path: Path  # the directory on the host, resolved


@dataclass(frozen=True, slots=True)
class SecondaryInfo:
    """A secondary source as the build recorded it when it started."""

    identifier: str
    path: Path
    source_version: str | None  # the branch, else the commit (like the primary)
    resolved_source_version: str | None  # the commit, when the directory is a git checkout
    repo_url: str


def parse_sources(values: Sequence[str]) -> tuple[Path, tuple[SecondarySource, ...]]:
    """The `-s` flags in order: the primary directory (default: the current one), then
    the secondary sources. UsageError (exit 2) on a bad identifier, directory or repeat."""
    primary = _primary(values[0] if values else ".")
    secondary: list[SecondarySource] = []
    for text in values[1:]:
        source = parse_secondary(text)
        if any(s.identifier == source.identifier for s in secondary):
            raise UsageError(f"-s {text}: source identifier {source.identifier!r} is given twice")
        secondary.append(source)
    return primary, tuple(secondary)


def parse_secondary(text: str) -> SecondarySource:
    identifier, colon, directory = text.partition(":")
    if not colon:
        raise UsageError(
            f"-s {text}: a secondary source is IDENTIFIER:DIR (only the first -s is the primary DIR)"
        )
    if not _IDENTIFIER.fullmatch(identifier):
        raise UsageError(
            f"-s {text}: bad source identifier {identifier!r}: use 1 to 127 letters, digits or underscores"
        )
    path = Path(directory or ".")
    if not path.is_dir():
        raise UsageError(f"-s {text}: {directory!r} is not a directory")
    return SecondarySource(identifier, path.resolve())


def _primary(text: str) -> Path:
    path = Path(text)
    if path.is_dir():
        return path.resolve()
    _, colon, rest = text.partition(":")
    hint = (
        " (the first -s is the primary source's DIR; IDENTIFIER:DIR is for the -s flags after it)"
        if colon and Path(rest).is_dir()
        else ""
    )
    raise UsageError(f"-s {text}: not a directory{hint}")


def describe(source: SecondarySource) -> SecondaryInfo:
    """What the directory is at when the build starts (git: its branch and commit)."""
    found = describe_dir(source.path)
    resolved = found.commit
    return SecondaryInfo(source.identifier, source.path, found.branch or resolved, resolved, found.repo_url)


def variables(infos: Sequence[SecondaryInfo], src_dir: Callable[[str], str]) -> dict[str, str]:
    """CodeBuild's per-source variables. AWS documents CODEBUILD_SRC_DIR_<id>,
    CODEBUILD_SOURCE_VERSION_<id> and CODEBUILD_SOURCE_REPO_URL_<id>;
    CODEBUILD_RESOLVED_SOURCE_VERSION_<id> (the commit) is ours, like the primary's."""
    values: dict[str, str] = {}
    for info in infos:
        ident = info.identifier
        values[f"CODEBUILD_SRC_DIR_{ident}"] = src_dir(ident)
        values[f"CODEBUILD_SOURCE_REPO_URL_{ident}"] = info.repo_url
        if info.source_version:
            values[f"CODEBUILD_SOURCE_VERSION_{ident}"] = info.source_version
        if info.resolved_source_version:
            values[f"CODEBUILD_RESOLVED_SOURCE_VERSION_{ident}"] = info.resolved_source_version
    return values


def as_json(
    infos: Sequence[SecondaryInfo], src_dir: Callable[[str], str] | None
) -> dict[str, dict[str, Any]]:
    """The build result's "secondary_sources", by identifier (src_dir: None when the
    build ended before it had a workspace)."""
    return {
        info.identifier: {
            "path": str(info.path),
            "src_dir": src_dir(info.identifier) if src_dir else None,
            "source_version": info.source_version,
            "resolved_source_version": info.resolved_source_version,
            "repo_url": info.repo_url,
        }
        for info in infos
    }
