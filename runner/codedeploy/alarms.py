"""Alarms (CloudWatch's role): pure evaluation over the router's parsed access-log records.

The router writes one JSON object per request (nginx `log_format … escape=json`); each
record is attributed to the slot that answered it ($upstream_addr → the slot's fixed IP).
A GET/HEAD the replacement failed and the router retried on the original slot is recorded
as the replacement's failure, as the client would have seen it without the retry.
Health probes of the replacement slot are fed in as their own records.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from runner.core.config import Alarm

RETRIED = " : "  # $upstream_addr/$upstream_status/$upstream_response_time: one group per location tried
ERROR_RATE = "error_rate"
P95_MS = "p95_ms"
HEALTH = "health"


@dataclass(frozen=True, slots=True)
class Record:
    """One request the router answered (or one health probe, with service "" and probe=True)."""

    ts: float
    service: str
    slot: str | None
    status: int
    duration_s: float
    probe: bool = False


@dataclass(frozen=True, slots=True)
class Breach:
    """An alarm in ALARM state: what was measured over which window."""

    alarm: Alarm
    slot: str
    value: float
    count: int
    failures: int
    at: float = 0.0  # when it was evaluated (epoch seconds)

    def reason(self) -> str:
        what = {
            ERROR_RATE: f"error rate {self.value:.1%} > {self.alarm.threshold:g}",
            P95_MS: f"p95 latency {self.value:.0f} ms > {self.alarm.threshold:g} ms",
            HEALTH: f"failing health checks {self.value:.0%} > {self.alarm.threshold:g}",
        }[self.alarm.metric]
        if self.alarm.metric == P95_MS:  # slow answers are not failures: say how many were timed
            counted = f"{self.count} requests"
        else:
            unit = "health checks" if self.alarm.metric == HEALTH else "requests"
            counted = f"{self.failures} of {self.count} {unit} failed"
        return (
            f"alarm {self.alarm.name}: {what} on slot {self.slot} over {self.alarm.window_s:g}s ({counted})"
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "alarm": self.alarm.name,
            "metric": self.alarm.metric,
            "threshold": self.alarm.threshold,
            "window_s": self.alarm.window_s,
            "slot": self.slot,
            "value": round(self.value, 4),
            "count": self.count,
            "failures": self.failures,
            "at": self.at,
        }


def parse_line(line: str, slot_of_address: Mapping[str, str]) -> Record | None:
    """One access-log line → Record (slot_of_address: IP → slot); None for other lines."""
    try:
        data = json.loads(line)
        ts, status, duration = float(data["t"]), int(data["s"]), float(data["rt"])
    except (ValueError, KeyError, TypeError):
        return None
    addresses = str(data.get("ua", ""))
    upstream = _slot_of_upstream(str(data.get("up", "")))
    retried = RETRIED in addresses
    if retried:
        addresses = addresses.split(RETRIED)[0]
        status, duration = _first_attempt(data, status, duration)
        # $proxy_host names the retry's slot, the original: the first attempt was on the other one
        # (what counts when slots are reached by name and their task addresses are no fixed ones).
        upstream = {"blue": "green", "green": "blue"}.get(upstream or "")
    # With a retry on the backup server $upstream_addr lists both: the last one answered.
    address = addresses.split(",")[-1].strip().rsplit(":", 1)[0]
    slot = slot_of_address.get(address) or upstream
    return Record(ts, str(data.get("svc", "")), slot, status, duration)


def _first_attempt(data: Mapping[str, Any], status: int, duration: float) -> tuple[int, float]:
    """The status and upstream time of the first location's answer (the replacement's failure)."""
    statuses = str(data.get("us", "")).split(RETRIED)[0].split(",")
    times = str(data.get("urt", "")).split(RETRIED)[0].split(",")
    try:
        return int(statuses[-1]), sum(float(t) for t in times)
    except ValueError:
        return status, duration


def _slot_of_upstream(name: str) -> str | None:
    name = name.split(":", 1)[0]  # a slot reached by name (Swarm) is `web-green:8000`
    colour = name.removesuffix("-test").rsplit("-", 1)[-1]  # the test listener's upstreams end in -test
    return colour if colour in ("blue", "green") else None


def p95(values: Sequence[float]) -> float:
    """Nearest-rank 95th percentile (0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def evaluate(
    alarms: Iterable[Alarm], records: Sequence[Record], service: str, slot: str, now: float
) -> Breach | None:
    """The first alarm breached by `slot` of `service` in its window ending `now`, if any."""
    for alarm in alarms:
        breach = _evaluate_one(alarm, records, service, slot, now)
        if breach is not None:
            return breach
    return None


def _evaluate_one(
    alarm: Alarm, records: Sequence[Record], service: str, slot: str, now: float
) -> Breach | None:
    start = now - alarm.window_s
    probes = alarm.metric == HEALTH
    chosen = [
        r
        for r in records
        if r.slot == slot and r.probe == probes and start <= r.ts <= now and (probes or r.service == service)
    ]
    needed = 1 if probes else max(1, alarm.min_requests)
    if len(chosen) < needed:
        return None
    if alarm.metric == P95_MS:
        value = p95([r.duration_s * 1000.0 for r in chosen])
        failures = sum(1 for r in chosen if r.duration_s * 1000.0 > alarm.threshold)
    else:
        failures = sum(1 for r in chosen if r.status >= 500 or (probes and r.status != 200))
        value = failures / len(chosen)
    if value > alarm.threshold:
        return Breach(alarm, slot, value, len(chosen), failures, now)
    return None


def prune(records: list[Record], alarms: Iterable[Alarm], now: float) -> list[Record]:
    """Drop records older than the longest window (the watcher keeps a bounded list)."""
    longest = max((a.window_s for a in alarms), default=0.0)
    return [r for r in records if r.ts >= now - longest - 1.0]
