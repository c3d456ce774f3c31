"""Installing the git hooks that queue new commits: chain an existing hook, restore it byte
for byte on uninstall.

post-commit sees commits (and --amend); post-merge sees merges and pulls; post-rewrite
sees a rebase finishing. One script serves all three: it queues whatever HEAD is now
(the queue ignores a commit it already holds for the same ref).
"""

from __future__ import annotations

import os
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.adapters import git as source
from runner.errors import RunnerError
from runner.triggers import post_commit

HOOK = "post-commit"
HOOKS = (HOOK, "post-merge", "post-rewrite")
ORIGINAL_SUFFIX = ".runner-orig"
MARKER = "# runner post-commit hook"

# sh, not Python, runs first: the commit id comes from one `git rev-parse`, then an isolated
# interpreter (-I -S: no site-packages) runs post_commit.py. Our part runs before the
# original hook so a slow original never delays the queue; the original's exit status is
# the hook's (git ignores a post-commit status anyway: the commit is already made).
TEMPLATE = """#!/bin/sh
{marker}: queues the new commit for the pipeline and returns at once.
# Installed by `runner hook install`; `runner hook uninstall` puts back the hook it replaced.
RUNNER_PROJECT={project}
RUNNER_PYTHON={python}
RUNNER_HOOK={script}
if [ -x "$RUNNER_PYTHON" ] && [ -f "$RUNNER_HOOK" ]; then
    "$RUNNER_PYTHON" -I -S "$RUNNER_HOOK" "$RUNNER_PROJECT" \\
        $(git rev-parse HEAD --symbolic-full-name HEAD 2>/dev/null) </dev/null || true
else
    echo "runner: $RUNNER_PYTHON is gone: run 'runner hook install' again (the commit is fine)" >&2
fi
original="$(dirname "$0")/{hook}{suffix}"
if [ -x "$original" ]; then
    "$original" "$@"
    exit $?
fi
exit 0
"""


@dataclass(frozen=True, slots=True)
class HookState:
    path: Path
    installed: bool
    chained: Path | None  # the original hook ours calls (and uninstall restores)
    foreign: bool  # a hook that is not ours is in place

    def as_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "installed": self.installed,
            "chained": str(self.chained) if self.chained else None,
            "foreign_hook": self.foreign,
        }


def hook_path(root: Path, name: str = HOOK) -> Path:
    return source.hooks_dir(root) / name


def is_ours(path: Path) -> bool:
    try:
        return path.is_file() and not path.is_symlink() and MARKER.encode() in path.read_bytes()[:200]
    except OSError:
        return False


def state(root: Path) -> HookState:
    path = hook_path(root)
    original = path.with_name(HOOK + ORIGINAL_SUFFIX)
    ours = is_ours(path)
    chained = original if ours and os.path.lexists(original) else None
    return HookState(path, ours, chained, os.path.lexists(path) and not ours)


def script(project: Path, name: str = HOOK) -> str:
    return TEMPLATE.format(
        marker=MARKER,
        project=shlex.quote(str(project)),
        python=shlex.quote(sys.executable),
        script=shlex.quote(str(Path(post_commit.__file__).resolve())),
        hook=name,
        suffix=ORIGINAL_SUFFIX,
    )


def install(project: Path) -> HookState:
    """Install (or refresh) our hooks; a foreign hook is kept aside, untouched, and chained."""
    for name in HOOKS:
        _install_one(project, name)
    return state(project)


def _install_one(project: Path, name: str) -> None:
    path = hook_path(project, name)
    original = path.with_name(name + ORIGINAL_SUFFIX)
    path.parent.mkdir(parents=True, exist_ok=True)
    if os.path.lexists(path) and not is_ours(path):
        if os.path.lexists(original):
            raise RunnerError(f"{original} already exists: move it away, then install again")
        os.rename(path, original)  # a rename keeps the bytes, the mode, even a symlink as it is
    temp = path.with_name(f".{name}.runner-tmp")
    temp.write_text(script(project, name))
    temp.chmod(0o755)
    os.replace(temp, path)


def uninstall(project: Path) -> HookState:
    """Remove our hooks and put the originals back exactly as they were (same files, renamed back)."""
    for name in HOOKS:
        path = hook_path(project, name)
        original = path.with_name(name + ORIGINAL_SUFFIX)
        if not is_ours(path):
            continue
        if os.path.lexists(original):
            os.replace(original, path)
        else:
            path.unlink()
    return state(project)
