"""Read-only: the deployments and commit times that the delivery metrics (store/metrics.py) count."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from runner.store import metrics
from runner.store.db import Store


def metric_deployments(store: Store, since: float) -> list[metrics.Deployment]:
    """Deployments that matter for a period starting at `since` (rollbacks of any age included)."""
    rows = store.query(
        "SELECT id, environment, service, status, kind, created, started, ended, rollback_of, commit_sha, "
        "detail FROM deployments WHERE COALESCE(ended, created)>=? OR kind=?",
        (since, metrics.ROLLBACK),
    )
    first = commit_times(store, {r["commit_sha"] for r in rows if r["commit_sha"]})
    return [
        metrics.Deployment(
            id=r["id"],
            environment=r["environment"],
            service=r["service"],
            status=r["status"],
            kind=r["kind"],
            created=r["created"],
            started=r["started"],
            ended=r["ended"],
            rollback_of=r["rollback_of"],
            commit_time=json.loads(r["detail"] or "{}").get("commit_time")
            or first.get(r["commit_sha"] or ""),
        )
        for r in rows
    ]


def commit_times(store: Store, shas: Iterable[str]) -> dict[str, float]:
    """When the runner first saw each commit (its first build or execution): the commit's time.

    The post-commit hook starts an execution within milliseconds of the commit, so the
    first sighting is the commit time for shipped commits; a short sha matches its prefix.
    """
    found: dict[str, float] = {}
    for sha in shas:
        rows = store.query(
            "SELECT MIN(t) FROM (SELECT MIN(started) AS t FROM builds WHERE resolved_source_version LIKE ? "
            "UNION ALL SELECT MIN(created) FROM executions WHERE commit_sha LIKE ?)",
            (f"{sha}%", f"{sha}%"),
        )
        if rows and rows[0][0] is not None:
            found[sha] = float(rows[0][0])
    return found


def metrics_report(
    store: Store,
    days: float = 30.0,
    environment: str | None = None,
    service: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """`runner metrics --json` and GET /api/metrics: the same object."""
    period = metrics.last_days(days, time.time() if now is None else now)
    chosen = [
        d
        for d in metric_deployments(store, period.start)
        if environment in (None, d.environment) and service in (None, d.service)
    ]
    return metrics.report(chosen, period)
