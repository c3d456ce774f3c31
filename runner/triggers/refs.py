"""Following the watched branch: every value its ref takes becomes a commit to ship."""

from __future__ import annotations

from pathlib import Path

from runner.adapters import git as source
from runner.errors import GitError

ZERO = "0" * 40


class BranchTracker:
    """The watched branch's head and how far its reflog was read.

    pipeline.yml `branch`, else the checked-out branch (followed across checkouts; a
    checkout itself ships nothing). The reflog names each update (commit, --amend, merge,
    pull, rebase finishing, reset) even when several land between two looks; without a
    reflog the new head alone is shipped.
    """

    def __init__(self, root: Path, configured: str | None) -> None:
        self.root, self.configured = root, configured
        self.branch = configured or source.current_branch(root)
        self.head: str | None = None
        self.offset = 0
        self._reset()

    def _reset(self) -> None:
        if self.branch is None:
            self.head, self.offset = None, 0
            return
        self.head = source.branch_head(self.root, self.branch)
        self.offset = source.reflog_size(self.root, self.branch)

    @property
    def ref(self) -> str | None:
        return f"refs/heads/{self.branch}" if self.branch else None

    def poll(self) -> list[str]:
        """New commits of the watched branch since the last poll, oldest first."""
        if self.configured is None:
            current = source.current_branch(self.root)
            if current is not None and current != self.branch:  # detached (rebase): keep the old one
                self.branch = current
                self._reset()
                return []
        if self.branch is None:
            return []
        try:
            head = source.branch_head(self.root, self.branch)
        except GitError:
            return []
        if head == self.head:
            return []  # e.g. the reflog line is written, the ref not renamed yet: next event
        updates, self.offset = source.reflog_since(self.root, self.branch, self.offset)
        commits = [u.new for u in updates if u.new != ZERO]
        if head is not None and (not commits or commits[-1] != head):
            commits.append(head)
        self.head = head
        return commits
