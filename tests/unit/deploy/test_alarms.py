"""Alarm evaluation over parsed access-log records (pure)."""

from __future__ import annotations

import json

from runner.codedeploy.alarms import Record, evaluate, p95, parse_line, prune
from runner.core.config import Alarm

SLOTS = {"10.213.1.10": "blue", "10.213.1.11": "green"}


def line(ts: float, status: int, address: str, rt: float = 0.002, svc: str = "web") -> str:
    return json.dumps({"t": ts, "svc": svc, "up": "web-green", "ua": address, "s": status, "rt": rt, "l": 80})


def test_parse_line_takes_the_address_that_answered() -> None:
    record = parse_line(line(10.5, 200, "10.213.1.11:8000, 10.213.1.10:8000"), SLOTS)
    assert record == Record(10.5, "web", "blue", 200, 0.002)
    assert parse_line(line(1, 502, ""), SLOTS) == Record(
        1, "web", "green", 502, 0.002
    )  # from the upstream name
    assert parse_line("not json", SLOTS) is None


def test_a_retried_request_is_the_replacements_failure() -> None:
    """error_page sent a GET the replacement failed to the original slot: the client got 200,
    the record keeps what the replacement answered and how long it took."""
    data = json.loads(line(7.0, 200, "10.213.1.11:8000 : 10.213.1.10:8000", rt=0.009))
    data |= {"us": "500 : 200", "urt": "0.004 : 0.003"}
    assert parse_line(json.dumps(data), SLOTS) == Record(7.0, "web", "green", 500, 0.004)
    # a connection error first moved it to the backup (the same upstream), which failed too
    data |= {"ua": "10.213.1.11:8000, 10.213.1.10:8000 : 10.213.1.11:8000", "us": "502, 503 : 200"}
    data |= {"urt": "0.001, 0.002 : 0.003"}
    assert parse_line(json.dumps(data), SLOTS) == Record(7.0, "web", "blue", 503, 0.003)
    test_listener = json.loads(line(1, 502, "")) | {"up": "web-blue-test"}
    assert parse_line(json.dumps(test_listener), SLOTS) == Record(1, "web", "blue", 502, 0.002)
    assert parse_line('{"t": 1}', SLOTS) is None


def records(slot: str, statuses: list[int], now: float = 100.0, rt: float = 0.001) -> list[Record]:
    return [Record(now - 0.01 * i, "web", slot, s, rt) for i, s in enumerate(statuses)]


def test_error_rate_needs_min_requests_and_counts_only_the_slot() -> None:
    alarm = Alarm("errors", "error_rate", 0.1, 10.0, 20)
    assert evaluate([alarm], records("green", [500] * 19), "web", "green", 100.0) is None
    data = records("green", [500] * 5 + [200] * 15) + records("blue", [500] * 50)
    breach = evaluate([alarm], data, "web", "green", 100.0)
    assert breach is not None and (breach.count, breach.failures, breach.value) == (20, 5, 0.25)
    assert breach.reason() == (
        "alarm errors: error rate 25.0% > 0.1 on slot green over 10s (5 of 20 requests failed)"
    )
    assert evaluate([alarm], records("green", [500] * 2 + [200] * 18), "web", "green", 100.0) is None


def test_window_excludes_old_records_and_other_services() -> None:
    alarm = Alarm("errors", "error_rate", 0.1, 5.0, 1)
    old = [Record(90.0, "web", "green", 500, 0.001)]
    other = [Record(99.0, "api", "green", 500, 0.001)]
    assert evaluate([alarm], old + other, "web", "green", 100.0) is None


def test_p95_latency() -> None:
    assert p95([]) == 0.0 and p95([1.0]) == 1.0
    assert p95([float(i) for i in range(1, 101)]) == 95.0
    alarm = Alarm("slow", "p95_ms", 250, 10.0, 10)
    fast = records("green", [200] * 20, rt=0.05)
    assert evaluate([alarm], fast, "web", "green", 100.0) is None
    breach = evaluate([alarm], fast[:10] + records("green", [200] * 10, rt=0.4), "web", "green", 100.0)
    assert breach is not None and breach.value == 400.0


def test_health_probes() -> None:
    alarm = Alarm("health", "health", 0.0, 3.0, 100)  # min_requests does not apply to probes
    ok = [Record(99.0, "", "green", 200, 0.0, probe=True)]
    assert evaluate([alarm], ok, "web", "green", 100.0) is None
    failing = [*ok, Record(99.5, "", "green", 502, 0.0, probe=True)]
    breach = evaluate([alarm], failing, "web", "green", 100.0)
    assert breach is not None and "failing health checks 50%" in breach.reason()
    assert "(1 of 2 health checks failed)" in breach.reason()


def test_prune_keeps_the_longest_window() -> None:
    alarms = [Alarm("a", "error_rate", 0.1, 5.0), Alarm("b", "error_rate", 0.1, 30.0)]
    kept = prune([Record(60.0, "web", "blue", 200, 0), Record(75.0, "web", "blue", 200, 0)], alarms, 100.0)
    assert [r.ts for r in kept] == [75.0]


def test_slots_reached_by_name_are_told_by_their_upstream() -> None:
    """On Swarm a task's address is no fixed slot address: $proxy_host (`web-green:8000`) tells
    the slot; a retried request's $proxy_host is the original's, so its failure was the other's."""
    plain = json.loads(line(3.0, 200, "10.213.1.140:8000")) | {"up": "web-green:8000"}
    assert parse_line(json.dumps(plain), SLOTS) == Record(3.0, "web", "green", 200, 0.002)
    retried = plain | {
        "ua": "10.213.1.141:8000 : 10.213.1.150:8000",
        "us": "500 : 200",
        "urt": "0.004 : 0.003",
    }
    assert parse_line(json.dumps(retried | {"up": "web-blue:8000"}), SLOTS) == Record(
        3.0, "web", "green", 500, 0.004
    )
