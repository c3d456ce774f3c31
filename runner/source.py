"""git: what a source directory is at (commit, branch, dirty), and clean snapshots of commits.

The only module that runs git (through GitPython).
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path

import git

from runner.errors import GitError


@dataclass(frozen=True, slots=True)
class SourceInfo:
    commit: str | None  # the resolved commit (CODEBUILD_RESOLVED_SOURCE_VERSION)
    branch: str | None
    repo_url: str
    dirty: bool
    repo_root: Path | None


def _repo(path: Path) -> git.Repo | None:
    try:
        return git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None


def describe(path: Path) -> SourceInfo:
    repo = _repo(path)
    if repo is None or not repo.head.is_valid():
        return SourceInfo(None, None, path.resolve().as_uri(), False, None)
    try:
        branch = None if repo.head.is_detached else repo.active_branch.name
        remote_url = next((r.url for r in repo.remotes), None)
        root = Path(repo.working_tree_dir or path)
        relative = os.path.relpath(path.resolve(), root)
        dirty = repo.is_dirty(untracked_files=True, path=None if relative == "." else relative)
        return SourceInfo(repo.head.commit.hexsha, branch, remote_url or root.as_uri(), dirty, root)
    except (git.GitCommandError, ValueError) as e:
        raise GitError(f"git could not describe {path}: {e}") from e


def resolve_commit(repo_dir: Path, rev: str) -> str:
    repo = _repo(repo_dir)
    if repo is None:
        raise GitError(f"{repo_dir} is not a git repository")
    try:
        return str(repo.commit(rev).hexsha)
    except (git.BadName, ValueError, git.GitCommandError) as e:
        raise GitError(f"unknown commit {rev!r} in {repo_dir}") from e


def export_commit(repo_dir: Path, commit: str, dest: Path) -> None:
    """A clean snapshot of a commit (never uncommitted files), via `git archive`."""
    dest.mkdir(parents=True, exist_ok=True)
    with subprocess.Popen(
        ["git", "-C", str(repo_dir), "archive", "--format=tar", commit], stdout=subprocess.PIPE
    ) as proc:
        assert proc.stdout is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            tar.extractall(dest, filter="tar")
    if proc.returncode != 0:
        raise GitError(f"git archive {commit[:12]} failed (exit {proc.returncode})")


def changed_files(repo_dir: Path, old: str, new: str) -> list[str]:
    repo = _repo(repo_dir)
    if repo is None:
        raise GitError(f"{repo_dir} is not a git repository")
    output = repo.git.diff("--name-only", old, new)
    return [line for line in output.splitlines() if line]


def tracked_files(repo_dir: Path, commit: str, under: str) -> dict[str, str]:
    """Blob ids of the files under a path at a commit: `git ls-tree -r` (fast, no checkout)."""
    repo = _repo(repo_dir)
    if repo is None:
        raise GitError(f"{repo_dir} is not a git repository")
    output = repo.git.ls_tree("-r", commit, "--", under or ".")
    files = {}
    for line in output.splitlines():
        meta, _, name = line.partition("\t")
        files[name] = meta.split()[2]
    return files


def content_hash(paths: list[Path], root: Path) -> str:
    """A hash of working-tree files (for `-dirty-<hash>` tags of uncommitted builds)."""
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.relative_to(root)).encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"")
    return digest.hexdigest()
