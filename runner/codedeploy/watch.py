"""The alarm watcher: during traffic shifting and bake, reads the router's access log and probes health.

The platform hands over the router's JSON access log as it grows (on compose, new bytes of
a file in a bind-mounted directory: microseconds, no Docker API call or log driver, where
`docker logs` would re-stream through the engine every second). Alarms are evaluated four
times a second; a breach sends traffic back at once from this thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from runner.codedeploy import alarms, router
from runner.codedeploy.environment import Layout
from runner.codedeploy.platform import LogSource
from runner.core.config import Alarm, Environment, Service

INTERVAL_S = 0.25
PROBE_INTERVAL_S = 1.0


class Watcher:
    """Evaluates `alarms` for one service's replacement slot until stopped or breached."""

    def __init__(
        self,
        alarm_list: Sequence[Alarm],
        layout: Layout,
        env: Environment,
        service: Service,
        slot: str,
        on_breach: Callable[[alarms.Breach], None],
        log: LogSource,
    ) -> None:
        self.alarms = tuple(alarm_list)
        self.layout = layout
        self.env = env
        self.service = service
        self.slot = slot
        self.on_breach = on_breach
        self.breach: alarms.Breach | None = None
        self.breached_at = 0.0
        self.reacted_at = 0.0
        self.error = ""
        self._tail = log
        self._records: list[alarms.Record] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"alarms-{service.name}", daemon=True)
        self._probe = any(a.metric == alarms.HEALTH for a in self.alarms)
        self._last_probe = 0.0

    def start(self) -> Watcher:
        if self.alarms:
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    @property
    def fired(self) -> bool:
        return self.breach is not None

    def _loop(self) -> None:
        slots = self.layout.slot_of_address()
        while not self._stop.is_set():
            now = time.time()
            try:
                self._collect(slots, now)
                breach = alarms.evaluate(self.alarms, self._records, self.service.name, self.slot, now)
            except Exception as e:  # never let the watcher die silently: the deployment reports it
                self.error = f"{type(e).__name__}: {e}"
                breach = None
            if breach is not None:
                self.breached_at = time.monotonic()
                self.on_breach(breach)
                self.reacted_at = time.monotonic()
                self.breach = breach
                return
            self._stop.wait(INTERVAL_S)

    def _collect(self, slots: dict[str, str], now: float) -> None:
        for line in self._tail.read():
            record = alarms.parse_line(line, slots)
            if record is not None and record.service == self.service.name:
                self._records.append(record)
        if self._probe and now - self._last_probe >= PROBE_INTERVAL_S:
            self._last_probe = now
            status, _ = router.slot_health(self.env, self.service, self.slot)
            self._records.append(alarms.Record(now, "", self.slot, status, 0.0, probe=True))
        self._records = alarms.prune(self._records, self.alarms, now)
