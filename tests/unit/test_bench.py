"""The bench suite's pure parts: percentiles, the table, results.json, wrk's summary, timers, --only."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pytest

from bench.__main__ import FIGURES, main, parse
from bench.report import Row, fmt, percentile, results_json, table_lines
from bench.timers import Timers
from bench.traffic import wrk_numbers


def test_percentile_is_nearest_rank() -> None:
    values = [15.0, 20.0, 35.0, 40.0, 50.0]  # the textbook example
    assert percentile(values, 5) == 15.0
    assert percentile(values, 30) == 20.0
    assert percentile(values, 40) == 20.0
    assert percentile(values, 50) == 35.0
    assert percentile(values, 100) == 50.0
    assert percentile(list(reversed(values)), 50) == 35.0  # order does not matter
    assert percentile(values, 0) == 15.0


def test_percentile_of_twenty_samples() -> None:
    values = [float(v) for v in range(1, 21)]  # 20 commits' latencies
    assert (percentile(values, 50), percentile(values, 90), percentile(values, 99)) == (10.0, 18.0, 20.0)


def test_percentile_of_nothing_is_nan_and_bad_p_is_refused() -> None:
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError, match=r"outside 0\.\.100"):
        percentile([1.0], 101)


@pytest.mark.parametrize(
    ("value", "unit", "text"),
    [
        (1.23456, "s", "1.235"),
        (0.02345, "s", "0.0234"),
        (12.345, "s", "12.35"),
        (12.34, "ms", "12.3"),
        (986.4, "ms", "986"),
        (3815.7, "req/s", "3816"),
        (0.0, "requests", "0"),
        (1.0, "services", "1"),
        (43.46, "MB", "43.5"),
        (1.024, "x", "1.02"),
        (None, "s", "-"),
        (math.nan, "ms", "-"),
    ],
)
def test_numbers_are_formatted_for_their_unit(value: float | None, unit: str, text: str) -> None:
    assert fmt(value, unit) == text


ROWS = [
    Row("phase_overhead", "4-phase build", "build_s", "s", "floor_s", "4 x docker run", goal="≤ 1.5x"),
    Row("flip", "failed requests", "failed", "requests", "steady_failed", "steady", ratio=False, goal="0"),
    Row("scale", "services built", "built", "services"),
    Row("broken", "(failed)", "missing", "s", "floor_s", "4 x docker run"),
]
METRICS = {"build_s": 1.3, "floor_s": 1.04, "failed": 0.0, "steady_failed": 0.0, "built": 1.0}


def test_table_puts_each_value_beside_its_reference_and_ratio() -> None:
    lines = table_lines(ROWS, METRICS)
    header, rule, build, failed, built, broken = lines
    assert header.split()[:4] == ["figure", "what", "value", "unit"]
    assert set(rule.replace(" ", "")) == {"-"}
    assert len(rule) >= len(header)  # the rule spans every column
    assert build.split() == ["phase_overhead", "4-phase", "build", "1.300", "s", "4", "x", "docker", "run",
                             "1.040", "1.25x", "≤", "1.5x"]  # fmt: skip
    assert failed.split()[-3:] == ["steady", "0", "0"]  # reference 0, no ratio column, goal 0
    assert built.split() == ["scale", "services", "built", "1", "services"]
    assert broken.split()[2] == "-" and not broken.endswith("x")  # a missing value: no number, no ratio


def test_table_columns_line_up() -> None:
    lines = table_lines(ROWS, METRICS)
    value_end = lines[0].index("value") + len("value")
    assert all(line[value_end - 1] != " " for line in lines[2:])  # values are right-aligned under "value"


def test_results_json_is_flat_numbers_then_meta_and_details() -> None:
    body = results_json(
        {"phase_overhead_ratio": 1.234567, "flip_failed_requests": 0.0, "rollback_s": math.nan},
        {"run_id": "abc"},
        {"flip": {"wrk": ["wrk", "-t2"]}},
    )
    assert body["phase_overhead_ratio"] == 1.2346 and body["flip_failed_requests"] == 0.0
    assert "rollback_s" not in body  # NaN is not JSON: a missing key means "not measured"
    assert body["meta"] == {"run_id": "abc"} and body["details"]["flip"]["wrk"] == ["wrk", "-t2"]
    json.loads(json.dumps(body, allow_nan=False))
    assert list(body)[:2] == ["flip_failed_requests", "phase_overhead_ratio"]  # sorted keys, then the rest


WRK_OUTPUT = """\
Running 2m test @ http://127.0.0.1:40001/web/version
  2 threads and 16 connections
  Latency Distribution
     99%  979.06ms
  78696 requests in 20.63s, 18.62MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 3
Requests/sec:   3814.61
WRKJSON {"requests": 78696, "duration_us": 20630000, "connect": 0, "read": 2, "write": 0, "status": 3, \
"timeout": 1, "p50_us": 3012, "p90_us": 6100, "p99_us": 979060, "max_us": 1240000}
"""


def test_wrk_summary_counts_socket_errors_and_non_2xx_as_failures() -> None:
    numbers = wrk_numbers(WRK_OUTPUT)
    assert numbers["requests"] == 78696 and numbers["p99_us"] == 979060
    assert numbers["socket_errors"] == 3 and numbers["non2xx"] == 3
    assert numbers["failed"] == 6  # status errors and wrk's Non-2xx line are the same requests
    assert round(numbers["rps"]) == 3815


def test_wrk_without_its_summary_line_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="no summary"):
        wrk_numbers("unable to connect to 127.0.0.1:1 Connection refused\n")


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _Engine:
    """Stands in for the Docker calls a phase makes; `clock` advances as they "work"."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock

    def start(self) -> None:
        self.clock.now += 0.3

    def phase(self) -> None:
        self.clock.now += 0.01  # own work
        self.start()
        for _ in self.output():
            self.clock.now += 0.002  # the caller's work between items is not the stream's

    def output(self) -> Iterator[bytes]:
        for _ in range(3):
            self.clock.now += 0.02
            yield b"line\n"


def test_timers_report_exclusive_time_per_category() -> None:
    clock = _Clock()
    engine = _Engine(clock)
    with Timers(clock) as timers:
        timers.wrap(_Engine, "phase", "phase (own)")
        timers.wrap(_Engine, "start", "start")
        timers.wrap_iterator(_Engine, "output", "stream")
        engine.phase()
        engine.phase()
    assert dict(timers.calls) == {"phase (own)": 2, "start": 2, "stream": 8}  # 3 items + the end, twice
    assert timers.seconds["start"] == pytest.approx(0.6)
    assert timers.seconds["stream"] == pytest.approx(0.12)
    assert timers.seconds["phase (own)"] == pytest.approx(0.02 + 0.012)  # nested calls subtracted
    assert _Engine.start is not None and "timed" not in _Engine.start.__qualname__  # restored


def test_only_runs_the_named_figures_in_suite_order() -> None:
    assert parse(["--only", "history,phase_overhead"]).figures == ["phase_overhead", "history"]
    assert parse([]).figures == list(FIGURES)


def test_only_refuses_an_unknown_figure(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        parse(["--only", "phase_overhed"])
    assert exit_.value.code == 2
    assert "unknown figure phase_overhed; choose from phase_overhead," in capsys.readouterr().err


def test_list_names_every_figure(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--list"]) == 0
    assert [line.split()[0] for line in capsys.readouterr().out.splitlines()] == list(FIGURES)
