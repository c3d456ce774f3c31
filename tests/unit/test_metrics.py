"""Delivery metrics over constructed deployments, with answers worked out by hand."""

from __future__ import annotations

from typing import Any

from runner.store import metrics
from runner.store.metrics import Deployment, Period

DAY = 86400.0
START = 1_700_006_400.0  # 2023-11-15 00:00:00 UTC
PERIOD = Period(START, START + 10 * DAY)


def dep(
    id: str,
    status: str,
    day: float,
    *,
    kind: str = "STANDARD",
    service: str = "catalog",
    env: str = "prod",
    minutes: float = 2,
    commit_hours_before: float | None = 1.0,
    rollback_of: str | None = None,
) -> Deployment:
    created = START + day * DAY
    started = created + 10
    ended = started + minutes * 60
    commit = created - commit_hours_before * 3600 if commit_hours_before is not None else None
    return Deployment(id, env, service, status, kind, created, started, ended, rollback_of, commit)


def only(report: dict[str, Any], env: str, service: str | None) -> dict[str, Any]:
    [found] = [g for g in report["groups"] if (g["environment"], g["service"]) == (env, service)]
    return found


def test_frequency_lead_time_and_failure_rate() -> None:
    deployments = [
        dep("d1", "Succeeded", 0.5, commit_hours_before=1),  # lead 3600 + 10 + 120 = 3730
        dep("d2", "Succeeded", 1.5, commit_hours_before=2),  # 7330
        dep("d3", "Failed", 2.5),
        dep("d4", "Succeeded", 3.5, commit_hours_before=0.5),  # 1930
        dep("d5", "Stopped", 4.5),
        dep("old", "Succeeded", -3),  # before the period: not counted
    ]
    group = only(metrics.report(deployments, PERIOD), "prod", "catalog")
    assert group["deployments"] == 3
    assert group["deployment_frequency_per_day"] == 0.3
    assert (group["changes"], group["failures"], group["change_failure_rate"]) == (5, 2, 0.4)
    assert group["lead_time_s"] == {"count": 3, "median": 3730.0, "p90": 7330.0}


def test_a_rollback_marks_its_target_failed_and_restores_service() -> None:
    deployments = [
        dep("good", "Succeeded", 1),
        dep("bad", "Succeeded", 2),  # went live, then rolled back by hand 30 minutes later
        dep("rb", "Succeeded", 2 + 1800 / DAY, kind="ROLLBACK", rollback_of="bad", minutes=0.5),
    ]
    group = only(metrics.report(deployments, PERIOD), "prod", "catalog")
    assert (group["changes"], group["failures"], group["deployments"]) == (
        2,
        1,
        2,
    )  # the rollback is no change
    # from the rollback's creation to its end: 10 s start + 30 s
    assert group["time_to_restore_s"] == {"count": 1, "median": 40.0, "p90": 40.0}
    assert group["unrestored"] == 0


def test_time_to_restore_of_a_failed_deployment_runs_to_the_next_good_one() -> None:
    deployments = [
        dep("f1", "Failed", 1, minutes=5),  # started at day 1 + 10 s
        dep("auto", "Succeeded", 1 + 200 / DAY, kind="ROLLBACK", rollback_of="f1", minutes=0.5),
        dep("f2", "Failed", 3),
        dep("fix", "Succeeded", 3 + 3600 / DAY),
        dep("f3", "Failed", 9),  # nothing good after it yet
        dep("other", "Succeeded", 9.5, service="offers"),  # another service restores nothing here
    ]
    group = only(metrics.report(deployments, PERIOD), "prod", "catalog")
    # f1: 200 + 10 + 30 - 10 = 230 s; f2: 3600 + 10 + 120 - 10 = 3720 s
    assert group["time_to_restore_s"] == {"count": 2, "median": 1975.0, "p90": 3720.0}
    assert group["unrestored"] == 1
    assert group["change_failure_rate"] == 0.75  # f1, f2, f3 of f1, f2, fix, f3


def test_groups_per_service_then_all_services_per_environment() -> None:
    deployments = [
        dep("a", "Succeeded", 1),
        dep("b", "Failed", 2, service="offers"),
        dep("c", "Succeeded", 3, env="staging"),
    ]
    report = metrics.report(deployments, PERIOD)
    keys = [(g["environment"], g["service"]) for g in report["groups"]]
    assert keys == [
        ("prod", "catalog"),
        ("prod", "offers"),
        ("prod", None),
        ("staging", "catalog"),
        ("staging", None),
    ]
    assert only(report, "prod", None)["change_failure_rate"] == 0.5
    assert report["period"] == {"start": START, "end": START + 10 * DAY, "days": 10.0}


def test_daily_buckets_cover_every_day_of_the_period() -> None:
    deployments = [
        dep("a", "Succeeded", 0.5, commit_hours_before=1),
        dep("b", "Failed", 0.6),
        dep("c", "Succeeded", 9.9),
    ]
    daily = only(metrics.report(deployments, PERIOD), "prod", "catalog")["daily"]
    assert [d["day"] for d in daily][:2] == ["2023-11-15", "2023-11-16"] and len(daily) == 10
    assert daily[0] == {"day": "2023-11-15", "deployments": 1, "failures": 1, "lead_time_s": 3730.0}
    assert daily[1] == {"day": "2023-11-16", "deployments": 0, "failures": 0, "lead_time_s": None}
    assert daily[9]["deployments"] == 1


def test_nothing_to_measure() -> None:
    group = metrics.group([], PERIOD, "prod", None)
    assert (group["deployments"], group["change_failure_rate"], group["deployment_frequency_per_day"]) == (
        0,
        None,
        0.0,
    )
    assert group["lead_time_s"] == {"count": 0, "median": None, "p90": None}
    assert metrics.report([], PERIOD)["groups"] == []


def test_unknown_commit_time_and_running_deployments_are_left_out() -> None:
    running = Deployment("r", "prod", "catalog", "InProgress", "STANDARD", START + DAY, START + DAY, None)
    deployments = [dep("a", "Succeeded", 1, commit_hours_before=None), running]
    group = only(metrics.report(deployments, PERIOD), "prod", "catalog")
    assert (group["changes"], group["deployments"], group["lead_time_s"]["count"]) == (1, 1, 0)


def test_p90_is_a_nearest_rank_value() -> None:
    assert metrics.p90([5.0]) == 5.0
    assert metrics.p90([float(v) for v in range(1, 11)]) == 9.0
    assert metrics.p90([float(v) for v in range(1, 12)]) == 10.0
