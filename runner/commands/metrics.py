"""`runner metrics [--days N] [--environment ENV] [--service SVC] [--json]`: delivery metrics."""

from __future__ import annotations

import argparse
from typing import Any

from runner.errors import UsageError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "metrics",
        help="delivery metrics: deployment frequency, lead time, change failure rate, time to restore",
    )
    parser.add_argument("--days", type=float, default=30.0, help="the period: the last N days (default 30)")
    parser.add_argument("--environment", help="only this environment")
    parser.add_argument("--service", help="only this service")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.output import print_json, print_table
    from runner.store import open_store
    from runner.store.metrics_views import metrics_report

    if not args.days > 0:
        raise UsageError(f"--days {args.days:g}: expected a positive number of days")
    report = metrics_report(open_store(), args.days, args.environment, args.service)
    if args.json:
        print_json(report)
        return 0
    print_table(
        ["ENVIRONMENT", "SERVICE", "DEPLOYS", "PER DAY", "LEAD TIME", "FAILURE RATE", "TIME TO RESTORE"],
        [_row(g) for g in report["groups"]],
    )
    if not report["groups"]:
        print(f"no deployments in the last {args.days:g} days")
    return 0


def _row(group: dict[str, Any]) -> list[str]:
    rate = group["change_failure_rate"]
    return [
        group["environment"],
        group["service"] or "(all)",
        str(group["deployments"]),
        f"{group['deployment_frequency_per_day']:.2f}",
        duration(group["lead_time_s"]["median"]),
        "-" if rate is None else f"{rate * 100:.0f}% ({group['failures']}/{group['changes']})",
        duration(group["time_to_restore_s"]["median"])
        + (f" ({group['unrestored']} open)" if group["unrestored"] else ""),
    ]


def duration(seconds: float | None) -> str:
    """A short human duration: 42s, 3m05s, 2h10m, 3d4h."""
    if seconds is None:
        return "-"
    s = round(seconds)
    if s < 60:
        return f"{seconds:.1f}s" if seconds < 10 else f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    if s < 86400:
        return f"{s // 3600}h{s % 3600 // 60:02d}m"
    return f"{s // 86400}d{s % 86400 // 3600}h"
