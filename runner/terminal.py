"""The live terminal view of a build: log lines scroll, a phase table stays at the bottom.

Only on a TTY; otherwise plain lines (CI logs, pipes). The view follows the build by
reading its own `[Container]` lines, so the build engine needs no extra callbacks.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # rich is imported when the first phase starts (see build_view)
    from rich.table import Table

_ENTER = re.compile(r"^\[Container\] \S+ \S+ Entering phase (\w+)$")
_DONE = re.compile(r"^\[Container\] \S+ \S+ Phase complete: (\w+) State: (\w+)$")
_COLOURS = {
    "SUCCEEDED": "green",
    "FAILED": "red",
    "FAULT": "red",
    "TIMED_OUT": "red",
    "STOPPED": "yellow",
    "IN_PROGRESS": "cyan",
}


class PhaseTable:
    def __init__(self) -> None:
        self.rows: dict[str, tuple[str, float, float | None]] = {}

    def feed(self, line: str) -> None:
        if match := _ENTER.match(line):
            self.rows[match.group(1)] = ("IN_PROGRESS", time.monotonic(), None)
        elif match := _DONE.match(line):
            name, status = match.groups()
            _, started, _ = self.rows.get(name, ("", time.monotonic(), None))
            self.rows[name] = (status, started, time.monotonic())

    def render(self) -> Table:
        from rich.table import Table

        table = Table(box=None, show_header=True, header_style="bold")
        table.add_column("PHASE")
        table.add_column("STATUS")
        table.add_column("DURATION", justify="right")
        for name, (status, started, ended) in self.rows.items():
            duration = (ended or time.monotonic()) - started
            colour = _COLOURS.get(status, "white")
            table.add_row(name, f"[{colour}]{status}[/]", f"{duration:.1f}s")
        return table


@contextmanager
def build_view(stream: TextIO | None = None) -> Iterator[Callable[[str], None]]:
    """Yields the `show` callable a build writes its lines to."""
    out = stream or sys.stdout
    if not out.isatty():

        def plain(line: str) -> None:
            out.write(line + "\n")
            out.flush()

        yield plain
        return
    # The live table starts with the first phase: a service build whose image is reused
    # runs no phase and prints one line, without paying ~40 ms for importing rich.
    table = PhaseTable()
    with ExitStack() as stack:
        live = None

        def show(line: str) -> None:
            nonlocal live
            table.feed(line)
            if live is None and not table.rows:
                out.write(line + "\n")
                out.flush()
                return
            if live is None:
                from rich.console import Console
                from rich.live import Live

                console = Console(file=out, highlight=False, soft_wrap=True)
                view = Live(table.render(), console=console, refresh_per_second=8, transient=True)
                live = stack.enter_context(view)
            live.console.print(line, markup=False)
            live.update(table.render())

        yield show
