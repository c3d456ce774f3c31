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


def commit_time(repo_dir: Path, commit: str) -> float | None:
    """When a commit was made (committer date, epoch seconds); None if git cannot say."""
    repo = _repo(repo_dir)
    try:
        return float(repo.commit(commit).committed_date) if repo is not None else None
    except (git.BadName, ValueError, git.GitCommandError):
        return None


def export_commit(repo_dir: Path, commit: str, dest: Path) -> None:
    """A clean snapshot of a commit (never uncommitted files), via `git archive`."""
    dest.mkdir(parents=True, exist_ok=True)
    with subprocess.Popen(
        ["git", "-C", str(repo_dir), "archive", "--format=tar", commit],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        with tarfile.open(fileobj=proc.stdout, mode="r|") as tar:
            tar.extractall(dest, filter="tar")
        # tarfile stops at the end-of-archive marker; git still writes the record padding,
        # and would die of SIGPIPE (a spurious failure) if we closed the pipe before it did.
        proc.stdout.read()
        error = proc.stderr.read().decode("utf-8", "replace").strip()
    if proc.returncode != 0:
        detail = f": {error.splitlines()[-1]}" if error else ""
        raise GitError(f"git archive {commit[:12]} failed (exit {proc.returncode}){detail}")


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


# ---------------------------------------------------------------- images: input listings


def repo_root(path: Path) -> Path | None:
    """The top of the git working tree holding path (None outside a repository)."""
    repo = _repo(path)
    return Path(repo.working_tree_dir) if repo is not None and repo.working_tree_dir else None


def tree_listing(repo_dir: Path, commit: str) -> dict[str, str]:
    """Every file of a commit: repo-relative path → "mode blob-id" (`git ls-tree -r`, no checkout)."""
    repo = _repo(repo_dir)
    if repo is None:
        raise GitError(f"{repo_dir} is not a git repository")
    try:
        output = repo.git.ls_tree("-r", "-z", "--full-tree", commit, strip_newline_in_stdout=False)
    except git.GitCommandError as e:
        raise GitError(f"unknown commit {commit!r} in {repo_dir}") from e
    files = {}
    for line in output.split("\0"):
        meta, _, name = line.partition("\t")
        if name:
            mode, kind, blob = meta.split()
            if kind == "blob":
                files[name] = f"{mode} {blob}"
    return files


def worktree_paths(repo_dir: Path) -> list[str]:
    """Files git sees in the working tree: tracked ones still present, and untracked, not ignored."""
    repo = _repo(repo_dir)
    if repo is None:
        raise GitError(f"{repo_dir} is not a git repository")
    output = repo.git.ls_files(
        "-z", "--cached", "--others", "--exclude-standard", strip_newline_in_stdout=False
    )
    root = Path(repo.working_tree_dir or repo_dir)
    names = sorted({name for name in output.split("\0") if name})
    return [name for name in names if os.path.lexists(root / name)]


def worktree_entry(path: Path) -> str:
    """ "mode blob-id" of a working-tree file, as `git add` would record it."""
    if path.is_symlink():
        mode, data = "120000", os.readlink(path).encode()
    else:
        mode = "100755" if os.access(path, os.X_OK) else "100644"
        data = path.read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False)
    return f"{mode} {blob.hexdigest()}"


def read_at(repo_dir: Path, commit: str, path: str) -> bytes | None:
    """A file's content at a commit (None if it has no such file)."""
    repo = _repo(repo_dir)
    if repo is None:
        raise GitError(f"{repo_dir} is not a git repository")
    try:
        blob = repo.commit(commit).tree / path
    except (KeyError, ValueError, git.BadName) as e:
        if isinstance(e, KeyError):
            return None
        raise GitError(f"unknown commit {commit!r} in {repo_dir}") from e
    if blob.type != "blob":
        return None
    return bytes(blob.data_stream.read())


# ---------------------------------------------------------------- triggers: refs, reflogs, ignores, hooks


@dataclass(frozen=True, slots=True)
class RefUpdate:
    """One line of a branch's reflog: the ref moved from old to new (commit, amend, merge, pull …)."""

    old: str
    new: str
    message: str


def _git(repo_dir: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    # Plain subprocess here: the watcher calls these on every event, GitPython adds ~10 ms each.
    try:
        return subprocess.run(["git", "-C", str(repo_dir), *args], input=stdin, capture_output=True)
    except OSError as e:
        raise GitError(f"cannot run git: {e}") from e


def git_dirs(repo_dir: Path) -> tuple[Path, Path]:
    """(this worktree's git dir, the common git dir that holds refs and reflogs)."""
    out = _git(repo_dir, "rev-parse", "--path-format=absolute", "--git-dir", "--git-common-dir")
    lines = out.stdout.decode().split("\n")
    if out.returncode != 0 or len(lines) < 2:
        raise GitError(f"{repo_dir} is not a git repository")
    return Path(lines[0]), Path(lines[1])


def hooks_dir(repo_dir: Path) -> Path:
    """Where git looks for hooks (core.hooksPath if set, else <git dir>/hooks)."""
    out = _git(repo_dir, "rev-parse", "--path-format=absolute", "--git-path", "hooks")
    if out.returncode != 0:
        raise GitError(f"{repo_dir} is not a git repository")
    return Path(out.stdout.decode().strip())


def current_branch(repo_dir: Path) -> str | None:
    """The checked-out branch (None on a detached HEAD)."""
    out = _git(repo_dir, "symbolic-ref", "-q", "--short", "HEAD")
    return (out.stdout.decode().strip() or None) if out.returncode == 0 else None


def branch_head(repo_dir: Path, branch: str) -> str | None:
    """The commit a branch points at (loose or packed ref), None if it does not exist."""
    out = _git(repo_dir, "rev-parse", "-q", "--verify", f"refs/heads/{branch}^{{commit}}")
    return (out.stdout.decode().strip() or None) if out.returncode == 0 else None


def reflog_size(repo_dir: Path, branch: str) -> int:
    path = git_dirs(repo_dir)[1] / "logs" / "refs" / "heads" / branch
    return path.stat().st_size if path.is_file() else 0


def reflog_since(repo_dir: Path, branch: str, offset: int) -> tuple[list[RefUpdate], int]:
    """The branch's ref updates appended to its reflog after byte offset; and the new offset.

    The reflog names every value the ref took, so updates that follow each other faster
    than a watcher looks are not lost. An expired (rewritten, shorter) reflog restarts at 0.
    """
    path = git_dirs(repo_dir)[1] / "logs" / "refs" / "heads" / branch
    try:
        with path.open("rb") as log:
            size = os.fstat(log.fileno()).st_size
            log.seek(offset if offset <= size else 0)
            data = log.read()
    except FileNotFoundError:
        return [], 0
    complete = data[: data.rfind(b"\n") + 1]  # a line still being written is read next time
    updates = []
    for line in complete.decode("utf-8", "replace").splitlines():
        head, _, message = line.partition("\t")
        fields = head.split(" ")
        if len(fields) >= 2:
            updates.append(RefUpdate(fields[0], fields[1], message))
    return updates, (offset if offset <= size else 0) + len(complete)


def check_ignored(repo_dir: Path, paths: list[str], extra_excludes: Path | None = None) -> set[str]:
    """Which repo-relative paths git ignores (.gitignore, .git/info/exclude, core.excludesFile).

    Tracked files are never ignored by git's rules. Paths matching extra_excludes (a file of
    gitignore patterns, e.g. .runnerignore) are ignored whether tracked or not.
    """
    if not paths:
        return set()
    out = _git(repo_dir, "check-ignore", "--stdin", "-z", stdin="\0".join(paths).encode() + b"\0")
    if out.returncode not in (0, 1):
        raise GitError(f"git check-ignore failed: {out.stderr.decode().strip()}")
    ignored = {p for p in out.stdout.decode().split("\0") if p}
    if extra_excludes is not None and extra_excludes.is_file():
        for start in range(0, len(paths), 500):
            listed = _git(
                repo_dir,
                "--literal-pathspecs",
                "ls-files",
                "-z",
                "--cached",
                "--others",
                "--ignored",
                f"--exclude-from={extra_excludes}",
                "--",
                *paths[start : start + 500],
            )
            ignored.update(p for p in listed.stdout.decode().split("\0") if p)
    return ignored
