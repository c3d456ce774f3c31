"""Debouncing: one batch per burst of file events (an editor's save is several events)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Debouncer:
    """Collects items; calls flush(batch) once none arrived for `quiet` seconds.

    A steady trickle of events (a tool rewriting files) still flushes `longest` seconds
    after the batch's first item, so a build is never postponed forever. flush runs on
    the debouncer's own thread, one batch at a time, in arrival order.
    """

    def __init__(self, quiet: float, flush: Callable[[list[str]], None], longest: float = 1.0) -> None:
        self.quiet, self.longest, self._flush = quiet, max(longest, quiet), flush
        self._items: dict[str, None] = {}  # ordered set
        self._first = self._last = 0.0
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._loop, name="debouncer", daemon=True)
        self._thread.start()

    def add(self, item: str) -> None:
        with self._cond:
            now = time.monotonic()
            if not self._items:
                self._first = now
            self._items[item] = None
            self._last = now
            self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(5)

    def _due(self) -> float | None:
        """Seconds until the pending batch is due (None: nothing pending)."""
        if not self._items:
            return None
        now = time.monotonic()
        return max(0.0, min(self._last + self.quiet, self._first + self.longest) - now)

    def _loop(self) -> None:
        while True:
            with self._cond:
                while not self._closed and (wait := self._due()) != 0.0:
                    self._cond.wait(wait)
                if self._closed:
                    return
                batch, self._items = list(self._items), {}
            self._flush(batch)
