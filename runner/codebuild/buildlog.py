"""A build's log: CodeBuild's line format, masking, the terminal, and the store.

Lines look like CodeBuild's so a local log can be diffed against a cloud one:
`[Container] 2026/11/29 10:00:00.123456 Running command echo hi`. Every line is
masked before it goes anywhere, and written to the store in small batches (a crash
loses at most the last fraction of a second, never a recorded line).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime

from runner.core.secrets import Masker
from runner.localaws.limits import MISSING_CREDENTIALS
from runner.store import Store
from runner.store.builds import append_logs

FLUSH_INTERVAL_S = 0.25
FLUSH_LINES = 500


def container_line(message: str, at: float | None = None) -> str:
    stamp = datetime.fromtimestamp(at or time.time()).strftime("%Y/%m/%d %H:%M:%S.%f")
    return f"[Container] {stamp} {message}"


class BuildLog:
    """Receives output lines; masks, shows and records them."""

    def __init__(
        self,
        store: Store,
        build_id: str,
        masker: Masker,
        show: Callable[[str], None] | None = None,
    ) -> None:
        self.store, self.build_id, self.mask = store, build_id, masker
        self.show = show or (lambda _line: None)
        self.pending: list[tuple[float, str]] = []
        self.next_seq = 1
        self.last_flush = time.monotonic()
        self.missing_credentials = False  # the AWS CLI said so: the build ends with a hint

    def output(self, text: str) -> None:
        """A line the build printed."""
        self.missing_credentials = self.missing_credentials or MISSING_CREDENTIALS in text
        self._add(self.mask(text))

    def container(self, message: str) -> None:
        """A line of the runner's own, in CodeBuild's `[Container]` format."""
        self._add(container_line(self.mask(message)))

    def _add(self, line: str) -> None:
        self.show(line)
        self.pending.append((time.time(), line))
        if len(self.pending) >= FLUSH_LINES or time.monotonic() - self.last_flush > FLUSH_INTERVAL_S:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            append_logs(self.store, self.build_id, self.next_seq, self.pending)
            self.next_seq += len(self.pending)
            self.pending = []
        self.last_flush = time.monotonic()
