"""The live terminal view of a batch: one line per task (identifier, phase, status, duration).

On a TTY the table redraws in place; otherwise every log line is printed once, prefixed
with its task's identifier, so CI logs and pipes stay readable. Like the single-build
view, it follows each build through its own `[Container]` lines.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

from rich.console import Console
from rich.live import Live
from rich.table import Table

from runner.terminal import _COLOURS

_ENTER = re.compile(r"^\[Container\] \S+ \S+ Entering phase (\w+)$")
_DONE = re.compile(r"^\[Container\] \S+ \S+ Build \S+ completed: (\w+)$")


@dataclass
class _Row:
    phase: str = ""
    status: str = "PENDING"
    started: float | None = None
    ended: float | None = None


class BatchView:
    """What the batch runner tells the screen; safe to call from the task threads."""

    def __init__(self, identifiers: list[str], emit: Callable[[str], None], redraw: Callable[[], None]):
        self.rows = {identifier: _Row() for identifier in identifiers}
        self._emit, self._redraw = emit, redraw
        self._lock = threading.Lock()

    def show_for(self, identifier: str) -> Callable[[str], None]:
        """The `show` callable of one task's build."""

        def show(line: str) -> None:
            with self._lock:
                self._feed(self.rows[identifier], line)
                self._emit(f"[{identifier}] {line}")
                self._redraw()

        return show

    def start(self, identifier: str) -> None:
        """The task was handed to a worker: its duration counts from here."""
        with self._lock:
            row = self.rows[identifier]
            row.started, row.status, row.phase = time.monotonic(), "IN_PROGRESS", "SUBMITTED"
            self._redraw()

    def note(self, identifier: str, status: str, message: str) -> None:
        """A task that did not run as a build (never started, or refused)."""
        with self._lock:
            row = self.rows[identifier]
            row.status, row.phase = status, message
            self._emit(f"[{identifier}] {status}: {message}")
            self._redraw()

    def _feed(self, row: _Row, line: str) -> None:
        now = time.monotonic()
        if row.started is None:
            row.started, row.status = now, "IN_PROGRESS"
        if match := _ENTER.match(line):
            row.phase = match.group(1)
        elif match := _DONE.match(line):
            row.status, row.ended, row.phase = match.group(1), now, ""

    def render(self) -> Table:
        table = Table(box=None, show_header=True, header_style="bold")
        for column in ("TASK", "PHASE", "STATUS"):
            table.add_column(column)
        table.add_column("DURATION", justify="right")
        now = time.monotonic()
        for identifier, row in self.rows.items():
            duration = f"{(row.ended or now) - row.started:.1f}s" if row.started is not None else ""
            colour = _COLOURS.get(row.status, "white")
            table.add_row(identifier, row.phase, f"[{colour}]{row.status}[/]", duration)
        return table


@contextmanager
def batch_view(identifiers: list[str], stream: TextIO | None = None) -> Iterator[BatchView]:
    out = stream or sys.stdout
    if not out.isatty():

        def plain(line: str) -> None:
            out.write(line + "\n")
            out.flush()

        yield BatchView(identifiers, plain, lambda: None)
        return
    console = Console(file=out, highlight=False, soft_wrap=True)
    holder: list[BatchView] = []
    with Live(console=console, refresh_per_second=8, transient=True) as live:
        view = BatchView(identifiers, lambda _line: None, lambda: live.update(holder[0].render()))
        holder.append(view)
        live.update(view.render())
        yield view
