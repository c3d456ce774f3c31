"""Delivery metrics (deployment frequency, lead time, change failure rate, time to restore): pure.

Definitions (DORA's four keys, over the deployments of one environment and service):
- a *change* is a deployment that is not itself a rollback and that ended in the period;
  it *failed* when its status is Failed or Stopped, or when a rollback deployment names it;
- deployment frequency: successful changes per day of the period;
- change lead time: commit time → end of the successful deployment (median and p90);
- change failure rate: failed changes / changes;
- time to restore: from the start of a failed change (for a change that succeeded and was
  rolled back later: from the rollback's creation) to the end of the next successful
  deployment of the same service in the same environment (a rollback counts). A failure
  not restored yet is counted in `unrestored`.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

SUCCEEDED = "Succeeded"
FAILED_STATUSES = ("Failed", "Stopped")
ROLLBACK = "ROLLBACK"
DAY_S = 86400.0


@dataclass(frozen=True, slots=True)
class Deployment:
    """The fields of one deployment that the metrics need."""

    id: str
    environment: str
    service: str
    status: str
    kind: str  # STANDARD | ROLLBACK
    created: float
    started: float | None
    ended: float | None
    rollback_of: str | None = None
    commit_time: float | None = None  # when the deployed commit was made (None: unknown)


@dataclass(frozen=True, slots=True)
class Period:
    start: float
    end: float

    @property
    def days(self) -> float:
        return max(self.end - self.start, 0.0) / DAY_S

    def holds(self, ts: float | None) -> bool:
        return ts is not None and self.start <= ts < self.end


def last_days(days: float, now: float) -> Period:
    return Period(now - days * DAY_S, now)


def report(deployments: Sequence[Deployment], period: Period) -> dict[str, Any]:
    """The `runner metrics --json` object: one group per environment and service, then per environment."""
    groups: list[dict[str, Any]] = []
    for environment in sorted({d.environment for d in deployments}):
        in_env = [d for d in deployments if d.environment == environment]
        for service in sorted({d.service for d in in_env}):
            groups.append(group(in_env, period, environment, service))
        groups.append(group(in_env, period, environment, None))
    span = {"start": period.start, "end": period.end, "days": round(period.days, 3)}
    return {"period": span, "groups": groups}


def group(
    deployments: Sequence[Deployment], period: Period, environment: str, service: str | None
) -> dict[str, Any]:
    """The four keys of one environment, for one service or (service None) for all of them."""
    mine = [d for d in deployments if d.environment == environment and service in (None, d.service)]
    rolled_back = {d.rollback_of: d for d in mine if d.kind == ROLLBACK and d.rollback_of is not None}
    changes = [d for d in mine if d.kind != ROLLBACK and period.holds(d.ended)]
    failures = [d for d in changes if failed(d, rolled_back)]
    successes = [d for d in changes if d.status == SUCCEEDED]
    restores = [restore_time(f, mine, rolled_back) for f in failures]
    restored = [r for r in restores if r is not None]
    return {
        "environment": environment,
        "service": service,
        "deployments": len(successes),
        "deployment_frequency_per_day": _ratio(len(successes), period.days, 3),
        "changes": len(changes),
        "failures": len(failures),
        "change_failure_rate": _ratio(len(failures), len(changes), 3),
        "lead_time_s": summary(lead_times(successes)),
        "time_to_restore_s": summary(restored),
        "unrestored": len(restores) - len(restored),
        "daily": daily(changes, rolled_back, period),
    }


def failed(d: Deployment, rolled_back: Mapping[str, Deployment]) -> bool:
    return d.status in FAILED_STATUSES or d.id in rolled_back


def lead_times(successes: Iterable[Deployment]) -> list[float]:
    return [
        max(d.ended - d.commit_time, 0.0)
        for d in successes
        if d.ended is not None and d.commit_time is not None
    ]


def restore_time(
    failure: Deployment, deployments: Sequence[Deployment], rolled_back: Mapping[str, Deployment]
) -> float | None:
    """Seconds from the failure's start to the next good deployment of the same service."""
    if failure.status in FAILED_STATUSES:
        began = failure.started if failure.started is not None else failure.created
    else:
        began = rolled_back[failure.id].created
    good = [
        d.ended
        for d in deployments
        if d.service == failure.service
        and d.id != failure.id
        and d.status == SUCCEEDED
        and d.ended is not None
        and d.ended >= began
        and not failed(d, rolled_back)
    ]
    return round(min(good) - began, 3) if good else None


def summary(values: Sequence[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0, "median": None, "p90": None}
    return {"count": len(values), "median": round(statistics.median(values), 3), "p90": round(p90(values), 3)}


def p90(values: Sequence[float]) -> float:
    """The nearest-rank 90th percentile (an observed value, never an interpolation)."""
    ordered = sorted(values)
    rank = max(-(-9 * len(ordered) // 10), 1)  # ceil(0.9 n) in integers
    return ordered[rank - 1]


def daily(
    changes: Sequence[Deployment], rolled_back: Mapping[str, Deployment], period: Period
) -> list[dict[str, Any]]:
    """One bucket per UTC day of the period, for the small charts."""
    buckets: dict[str, list[Deployment]] = {day: [] for day in days_of(period)}
    for d in changes:
        assert d.ended is not None
        buckets.setdefault(day_of(d.ended), []).append(d)
    return [
        {
            "day": day,
            "deployments": sum(1 for d in items if d.status == SUCCEEDED),
            "failures": sum(1 for d in items if failed(d, rolled_back)),
            "lead_time_s": summary(lead_times(d for d in items if d.status == SUCCEEDED))["median"],
        }
        for day, items in buckets.items()
    ]


def days_of(period: Period) -> list[str]:
    if period.end <= period.start:
        return []
    first = datetime.fromtimestamp(period.start, UTC).date()
    last = datetime.fromtimestamp(period.end - 1e-6, UTC).date()
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def day_of(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).date().isoformat()


def _ratio(numerator: float, denominator: float, digits: int) -> float | None:
    return round(numerator / denominator, digits) if denominator else None
