"""The bench suite's pure parts: percentiles, the table, results.json, wrk's summary, timers, --only."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import yaml

from bench.__main__ import FIGURES, OUT, SMOKE_OUT, main, parse
from bench.report import Outcome, Row, fmt, lookup, percentile, results_json, table_lines
from bench.sample import bench_pipeline
from bench.session import Session
from bench.timers import Timers
from bench.traffic import wrk_numbers
from bench.ui_load import fill
from runner.core import config_loader


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


# ---------------------------------------------------------------- curves, failures, smoke


def test_a_curve_is_a_mapping_and_rows_name_its_points() -> None:
    metrics = {"deploy_s_by_services": {"1": 1.2, "20": 2.4, "5": math.nan}, "one": 3.0}
    assert lookup(metrics, "deploy_s_by_services.20") == 2.4
    assert lookup(metrics, "deploy_s_by_services.5") is None  # NaN: not measured
    assert lookup(metrics, "deploy_s_by_services.7") is None
    assert lookup(metrics, "deploy_s_by_services") is None
    assert lookup(metrics, "one") == 3.0 and lookup(metrics, "two") is None
    row = Row("scale", "20 services", "deploy_s_by_services.20", "s", "deploy_s_by_services.1", "1 service")
    cells = table_lines([row], metrics)[2].split()
    assert cells[3:5] == ["2.400", "s"] and cells[-1] == "2.00x"
    body = results_json(metrics, {}, {}, failed={"history": "RuntimeError: boom"})
    assert body["deploy_s_by_services"] == {"1": 1.2, "20": 2.4}  # NaN points are left out
    assert body["failed"] == {"history": "RuntimeError: boom"}


def test_an_outcome_without_its_numbers_is_missing_them() -> None:
    rows = [Row("f", "a", "a_s", "s"), Row("f", "curve", "c.20", "s")]
    assert Outcome(rows, {}).missing() == ["no number"]
    assert Outcome(rows, {"a_s": math.nan}).missing() == ["no number"]
    assert Outcome(rows, {"a_s": 1.0, "c": {"5": 1.0}}).missing() == ["c.20"]
    assert Outcome(rows, {"a_s": 1.0, "c": {"20": 1.0}}).missing() == []


def test_smoke_sizes_every_figure_down(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RUNNER_LABELS", "")
    full, smoke = Session(), Session(smoke=True)
    try:
        assert (full.size(20, 2), smoke.size(20, 2), smoke.size(7)) == (20, 2, 1)
        assert (full.seconds(5.0), smoke.seconds(5.0, 0.5)) == (5.0, 0.5)
    finally:
        for session in (full, smoke):
            shutil.rmtree(session.tmp)
    assert parse(["--smoke"]).out == SMOKE_OUT and parse([]).out == OUT
    assert parse(["--smoke", "--out", "x.json"]).out == Path("x.json")


def _exits(session: Session, say: Callable[[str], None]) -> Outcome:
    raise SystemExit("bench: timed out")  # what a figure's helper may raise


def _measures(session: Session, say: Callable[[str], None]) -> Outcome:
    return Outcome([Row("good", "size", "good_n", "count")], {"good_n": float(session.size(10, 1))})


def _forgets_a_row(session: Session, say: Callable[[str], None]) -> Outcome:
    return Outcome([Row("half", "a", "half_a", "s"), Row("half", "b", "half_b", "s")], {"half_a": 1.0})


class _QuietSession(Session):
    def close(self, interrupted: bool = False) -> None:  # nothing labelled to sweep: no Docker here
        shutil.rmtree(self.tmp, ignore_errors=True)


def test_a_failed_figure_is_marked_and_no_stale_number_stays(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import bench.__main__ as entry

    monkeypatch.setenv("RUNNER_LABELS", "")
    monkeypatch.setattr(entry, "Session", _QuietSession)
    monkeypatch.setattr(entry.signal, "signal", lambda *_: None)  # keep pytest's own handlers
    here = __name__
    figures = {
        "good": (here, "_measures", "measures"),
        "exits": (here, "_exits", "raises SystemExit"),
        "half": (here, "_forgets_a_row", "leaves a row empty"),
    }
    monkeypatch.setattr(entry, "FIGURES", figures)
    out = tmp_path / "results.json"
    out.write_text(json.dumps({"exits_s": 1.0, "good_n": 99.0}))  # an older run's numbers
    assert entry.main(["--smoke", "--out", str(out)]) == 1
    body = json.loads(out.read_text())
    assert body["good_n"] == 1.0 and body["half_a"] == 1.0 and "exits_s" not in body
    assert body["failed"] == {"exits": "SystemExit: bench: timed out", "half": "no value for half_b"}
    assert body["meta"]["smoke"] is True and body["meta"]["figures"] == ["good", "exits", "half"]
    printed = capsys.readouterr().out
    assert "FAILED exits: SystemExit: bench: timed out" in printed and "FAILED half" in printed
    assert entry.main(["--only", "good", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["failed"] == {}


def test_the_bench_pipeline_is_sample_services_own_with_only_the_bench_overrides() -> None:
    samples = Path(__file__).resolve().parents[2] / "sample-services" / "pipeline.yml"
    original = yaml.safe_load(samples.read_text())
    text = bench_pipeline(samples.read_text(), "bench1-shop", [1001, 1002, 1003, 1004])
    derived = yaml.safe_load(text)
    assert derived["services"] == {"catalog": original["services"]["catalog"]}  # as the samples have it
    assert "test" not in derived and derived["app"] == "bench1-shop" and derived["time_scale"] == "6000"
    staging, prod = derived["environments"]
    assert (staging["name"], staging["port"], staging["test_port"]) == ("staging", 1001, 1002)
    assert (prod["name"], prod["port"], prod["test_port"]) == ("prod", 1003, 1004)
    assert {e["strategy"] for e in derived["environments"]} == {"CodeDeployDefault.ECSAllAtOnce"}
    assert not {"alarms", "bake"} & (set(staging) | set(prod))
    assert prod["approval"] == original["environments"][1]["approval"]  # the rest is kept
    loaded = config_loader.loads(text, samples)
    assert [s.name for s in loaded.services] == ["catalog"] and loaded.services[0].image.from_artifacts


def test_the_bench_pipeline_names_what_the_samples_lack() -> None:
    with pytest.raises(RuntimeError, match="no service 'catalog'"):
        bench_pipeline("services: {web: {path: web}}\nenvironments: []\n", "a", [1, 2, 3, 4])
    with pytest.raises(RuntimeError, match="no environment 'prod'"):
        bench_pipeline("services: {catalog: {path: c}}\nenvironments: [{name: staging}]\n", "a", [1, 2, 3, 4])


def test_fill_writes_builds_shaped_like_real_ones(tmp_path: Path) -> None:
    from runner.store import Store
    from runner.store.builds import list_builds

    store = Store(tmp_path / "state.db")
    try:
        newest = fill(store, 70, log_lines=3)
        builds = list_builds(store, limit=0)
        assert len(builds) == 70 and builds[0].id == newest and builds[0].number == 70
        assert len({b.id for b in builds}) == 70 and builds[0].started > builds[-1].started
        assert sum(b.status == "FAILED" for b in builds) == 10  # every 7th
        assert store.query("SELECT count(*) AS n FROM phases")[0]["n"] == 70 * 8
        lines = store.query("SELECT text FROM log_lines WHERE build_id=? ORDER BY seq", (newest,))
        assert [r["text"] for r in lines] == [f"[Container] line {s} of build 70" for s in (1, 2, 3)]
        result = json.loads(store.query("SELECT result FROM builds WHERE id=?", (newest,))[0]["result"])
        assert result["id"] == newest and result["reports"][0]["total"] == 40
    finally:
        store.close()
