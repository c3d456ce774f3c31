"""Exclusive-time timers patched around named functions: where a build's wall time goes.

`Timers.wrap(owner, "name", "category")` replaces owner.name with a timed wrapper (a class
attribute times every instance's method). Nested timed calls are subtracted from their
caller, so the categories of one thread add up to at most its wall time. Calls made on
other threads (e.g. the background container removals) are kept apart as "… (background)".
"""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from typing import Any


class Timers:
    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._patches: list[tuple[Any, str, Any]] = []
        self._main = threading.main_thread()

    def _stack(self) -> list[float]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        stack: list[float] = self._local.stack
        return stack

    def _enter(self) -> float:
        self._stack().append(0.0)
        return self.clock()

    def _leave(self, category: str, started: float) -> None:
        elapsed = self.clock() - started
        stack = self._stack()
        children = stack.pop()
        if stack:
            stack[-1] += elapsed
        if threading.current_thread() is not self._main:
            category += " (background)"
        with self._lock:
            self.seconds[category] += elapsed - children
            self.calls[category] += 1

    def wrap(self, owner: Any, name: str, category: str) -> None:
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            started = self._enter()
            try:
                return original(*args, **kwargs)
            finally:
                self._leave(category, started)

        self._patch(owner, name, original, timed)

    def wrap_iterator(self, owner: Any, name: str, category: str) -> None:
        """A generator function: time spent producing items, not the caller's work between them."""
        original = getattr(owner, name)

        def timed(*args: Any, **kwargs: Any) -> Iterator[Any]:
            items = original(*args, **kwargs)
            while True:
                started = self._enter()
                try:
                    item = next(items)
                except StopIteration:
                    return
                finally:
                    self._leave(category, started)
                yield item

        self._patch(owner, name, original, timed)

    def _patch(self, owner: Any, name: str, original: Any, replacement: Callable[..., Any]) -> None:
        setattr(owner, name, replacement)
        self._patches.append((owner, name, original))

    def restore(self) -> None:
        for owner, name, original in reversed(self._patches):
            setattr(owner, name, original)
        self._patches.clear()

    def __enter__(self) -> Timers:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.restore()
