"""git: what a source directory is at (commit, branch), and clean snapshots of commits.

The only module that runs git: plain `git` processes (a few ms each). GitPython was
used here once; importing it cost ~60 ms of every fresh process that decides or starts
a build, more than the git commands themselves.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from runner.errors import GitError


@dataclass(frozen=True, slots=True)
class SourceInfo:
    commit: str | None  # the resolved commit (CODEBUILD_RESOLVED_SOURCE_VERSION)
    branch: str | None
    repo_url: str
    repo_root: Path | None


def describe(path: Path) -> SourceInfo:
    """The repository holding path (or a parent): its commit, branch and first remote."""
    out = _git(path, "rev-parse", "--show-toplevel", "HEAD", "--symbolic-full-name", "HEAD")
    lines = out.stdout.decode("utf-8", "replace").splitlines()
    if out.returncode != 0 or len(lines) != 3:  # not in a repository, or no commit yet
        return SourceInfo(None, None, path.resolve().as_uri(), None)
    root, commit, ref = Path(lines[0]), lines[1], lines[2]
    branch = ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None
    remotes = _git(path, "config", "--get-regexp", r"^remote\..*\.url$").stdout.decode().splitlines()
    remote_url = remotes[0].partition(" ")[2] if remotes else None
    return SourceInfo(commit, branch, remote_url or root.as_uri(), root)


def resolve_commit(repo_dir: Path, rev: str) -> str:
    out = _checked(repo_dir, "rev-parse", "--verify", "-q", "--end-of-options", f"{rev}^{{commit}}")
    if out.returncode != 0:
        raise GitError(f"unknown commit {rev!r} in {repo_dir}")
    return out.stdout.decode().strip()


def commit_time(repo_dir: Path, commit: str) -> float | None:
    """When a commit was made (committer date, epoch seconds); None if git cannot say."""
    out = _git(repo_dir, "show", "-s", "--format=%ct", "--end-of-options", f"{commit}^{{commit}}")
    try:
        return float(out.stdout.decode().strip()) if out.returncode == 0 else None
    except ValueError:
        return None


def export_commit(repo_dir: Path, commit: str, dest: Path) -> None:
    """A clean snapshot of a commit (never uncommitted files), via `git archive`."""
    import tarfile

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


# ---------------------------------------------------------------- images: input listings


def repo_root(path: Path) -> Path | None:
    """The top of the git working tree holding path (None outside a repository)."""
    out = _git(path, "rev-parse", "--show-toplevel")
    top = out.stdout.decode().strip()
    return Path(top) if out.returncode == 0 and top else None


def tree_listing(repo_dir: Path, commit: str) -> dict[str, str]:
    """Every file of a commit: repo-relative path → "mode blob-id" (`git ls-tree -r`, no checkout)."""
    out = _checked(repo_dir, "ls-tree", "-r", "-z", "--full-tree", "--end-of-options", commit)
    if out.returncode != 0:
        raise GitError(f"unknown commit {commit!r} in {repo_dir}")
    files = {}
    for line in out.stdout.decode("utf-8", "surrogateescape").split("\0"):
        meta, _, name = line.partition("\t")
        if name:
            mode, kind, blob = meta.split()
            if kind == "blob":
                files[name] = f"{mode} {blob}"
    return files


def read_blob(repo_dir: Path, blob: str) -> bytes:
    """A blob's content by its id (from tree_listing)."""
    out = _checked(repo_dir, "cat-file", "blob", blob)
    if out.returncode != 0:
        raise GitError(f"git has no blob {blob} in {repo_dir}")
    return out.stdout


def worktree_paths(repo_dir: Path) -> list[str]:
    """Files git sees in the working tree at repo_dir (its top): tracked ones still present,
    and untracked, not ignored."""
    out = _checked(repo_dir, "ls-files", "-z", "--cached", "--others", "--exclude-standard")
    names = sorted({name for name in out.stdout.decode("utf-8", "surrogateescape").split("\0") if name})
    return [name for name in names if os.path.lexists(repo_dir / name)]


def worktree_entry(path: Path) -> str:
    """ "mode blob-id" of a working-tree file, as `git add` would record it."""
    if path.is_symlink():
        mode, data = "120000", os.readlink(path).encode()
    else:
        mode = "100755" if os.access(path, os.X_OK) else "100644"
        data = path.read_bytes()
    blob = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False)
    return f"{mode} {blob.hexdigest()}"


def _checked(repo_dir: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """_git, with "not a repository" (or no such directory) turned into a GitError."""
    out = _git(repo_dir, *args)
    if out.returncode == 128 and (b"not a git repository" in out.stderr or b"cannot change to" in out.stderr):
        raise GitError(f"{repo_dir} is not a git repository")
    return out


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
