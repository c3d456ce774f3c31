"""Test and coverage reports: JUnit XML parsing, report statuses, log lines, and the copy to -r DIR
(runner/reports.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.codebuild.buildspec import ReportSpec
from runner.codebuild.report_formats import parse_junit
from runner.codebuild.reports import build_report, copy_reports, log_line, mask_report
from runner.core.secrets import Masker

JUNIT = """<?xml version="1.0"?>
<testsuites>
  <testsuite name="suite-a" tests="5">
    <testcase classname="app.A" name="passes" time="0.25"/>
    <testcase classname="app.A" name="fails" time="1.5">
      <failure message="expected 1, got 2">long trace</failure>
    </testcase>
    <testcase name="errors"><error>first line of the error
second line</error></testcase>
    <testcase classname="app.A" name="skipped"><skipped message="not today"/></testcase>
  </testsuite>
  <testsuite name="suite-b"><testcase classname="app.B" name="ok"/></testsuite>
</testsuites>
"""


def test_parse_junit_cases() -> None:
    cases = parse_junit(JUNIT.encode())
    assert [(c.name, c.suite, c.status, c.message) for c in cases] == [
        ("app.A.passes", "suite-a", "SUCCEEDED", ""),
        ("app.A.fails", "suite-a", "FAILED", "expected 1, got 2"),
        ("errors", "suite-a", "ERROR", "first line of the error"),
        ("app.A.skipped", "suite-a", "SKIPPED", "not today"),
        ("app.B.ok", "suite-b", "SUCCEEDED", ""),
    ]
    assert cases[1].duration_s == 1.5


def test_parse_junit_single_and_nested_suites() -> None:
    single = b'<testsuite name="s"><testcase name="a"/><testcase name="b"><failure/></testcase></testsuite>'
    assert [c.status for c in parse_junit(single)] == ["SUCCEEDED", "FAILED"]
    nested = b'<testsuite name="outer"><testsuite name="inner"><testcase name="a"/></testsuite></testsuite>'
    assert [(c.name, c.suite) for c in parse_junit(nested)] == [("a", "inner")]


def _write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_report_totals_and_failures(tmp_path: Path) -> None:
    root = _write(tmp_path, {"build/reports/TEST-a.xml": JUNIT})
    report = build_report(root, ReportSpec("unit", ("build/reports/*.xml",)), "proj-unit")
    assert (report.name, report.status, report.total, report.passed, report.failed, report.skipped) == (
        "proj-unit",
        "FAILED",
        5,
        2,
        2,
        1,
    )
    assert [(c.name, c.message) for c in report.failures] == [
        ("app.A.fails", "expected 1, got 2"),
        ("errors", "first line of the error"),
    ]
    assert report.files == ("build/reports/TEST-a.xml",)
    assert set(report.as_json()) == {
        "name",
        "file_format",
        "status",
        "total",
        "passed",
        "failed",
        "skipped",
        "files",
        "failures",
        "problem",
        "coverage",
    }
    assert report.as_json()["coverage"] is None
    assert log_line(report) == "Report proj-unit: FAILED (2 passed, 2 failed, 1 skipped)"


def test_all_passed_is_succeeded(tmp_path: Path) -> None:
    root = _write(tmp_path, {"r.xml": '<testsuite><testcase name="a"/></testsuite>'})
    assert build_report(root, ReportSpec("u", ("r.xml",)), "g").status == "SUCCEEDED"


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (ReportSpec("u", ("reports/*.xml",)), "no report files found"),
        (ReportSpec("u", ("../x.xml",)), "'../x.xml' contains '..'; paths cannot leave the source directory"),
        (
            ReportSpec("u", ("/etc/passwd",)),
            "'/etc/passwd' is absolute; expected a path relative to the source directory",
        ),
        (
            ReportSpec("u", ("*.xml",), base_directory="/tmp"),
            "'/tmp' is absolute; expected a path relative to the source directory",
        ),
        (ReportSpec("u", ("bad.txt",)), "bad.txt: syntax error: line 1, column 0"),
    ],
)
def test_incomplete_reports(tmp_path: Path, spec: ReportSpec, problem: str) -> None:
    root = _write(tmp_path, {"bad.txt": "not xml"})
    report = build_report(root, spec, "g")
    assert (report.status, report.problem) == ("INCOMPLETE", problem)


def test_report_files_linked_outside_are_never_read(tmp_path: Path) -> None:
    root = _write(tmp_path / "src", {"ok.xml": '<testsuite><testcase name="a"/></testsuite>'})
    os.symlink("/etc/passwd", root / "evil.xml")
    report = build_report(root, ReportSpec("u", ("*.xml",)), "g")
    assert report.files == ("ok.xml",) and report.status == "SUCCEEDED"


SAMPLES = Path(__file__).parent / "report_samples"


@pytest.mark.parametrize(
    ("file_format", "name", "counts"),
    [
        ("CUCUMBERJSON", "cucumber.json", (4, 1, 1, 1)),
        ("NUNITXML", "nunit2.xml", (5, 1, 3, 1)),
        ("NUNIT3XML", "nunit3.xml", (5, 1, 2, 1)),
        ("TESTNGXML", "testng.xml", (4, 1, 2, 1)),
        ("VISUALSTUDIOTRX", "results.trx", (4, 1, 2, 1)),
    ],
)
def test_every_test_format_gives_totals(
    tmp_path: Path, file_format: str, name: str, counts: tuple[int, int, int, int]
) -> None:
    """UNKNOWN cases (Cucumber undefined, NUnit 3 inconclusive) count in the total only."""
    root = _write(tmp_path, {f"out/{name}": (SAMPLES / name).read_text()})
    report = build_report(root, ReportSpec("t", ("out/*",), file_format=file_format), "g")
    assert (report.status, report.total, report.passed, report.failed, report.skipped) == ("FAILED", *counts)
    assert len(report.failures) == counts[2] and report.coverage is None


@pytest.mark.parametrize(
    ("file_format", "name", "line"),
    [
        (
            "CLOVERXML",
            "clover.xml",
            "line coverage 75.00% (9 covered, 3 missed); branch coverage 75.00% (3 covered, 1 missed)",
        ),
        (
            "COBERTURAXML",
            "cobertura.xml",
            "line coverage 80.00% (8 covered, 2 missed); branch coverage 75.00% (3 covered, 1 missed)",
        ),
        (
            "JACOCOXML",
            "jacoco.xml",
            "line coverage 60.00% (3 covered, 2 missed); branch coverage 50.00% (1 covered, 1 missed)",
        ),
        (
            "SIMPLECOV",
            "simplecov-coverage.json",
            "line coverage 88.89% (8 covered, 1 missed); branch coverage 50.00% (1 covered, 1 missed)",
        ),
    ],
)
def test_every_coverage_format_gives_a_summary(
    tmp_path: Path, file_format: str, name: str, line: str
) -> None:
    root = _write(tmp_path, {name: (SAMPLES / name).read_text()})
    report = build_report(root, ReportSpec("cov", (name,), file_format=file_format), "p-cov")
    assert (report.status, report.total, report.problem) == ("SUCCEEDED", 0, "")
    assert log_line(report) == f"Report p-cov: SUCCEEDED ({line})"


def test_coverage_of_several_files_is_summed(tmp_path: Path) -> None:
    cobertura = (SAMPLES / "cobertura.xml").read_text()
    root = _write(tmp_path, {"a/coverage.xml": cobertura, "b/coverage.xml": cobertura})
    report = build_report(root, ReportSpec("cov", ("*/coverage.xml",), file_format="COBERTURAXML"), "g")
    assert report.as_json()["coverage"] == {
        "line_coverage_percentage": 80.0,
        "lines_covered": 16,
        "lines_missed": 4,
        "branch_coverage_percentage": 75.0,
        "branches_covered": 6,
        "branches_missed": 2,
    }


@pytest.mark.parametrize(
    ("file_format", "data", "problem"),
    [
        ("NUNIT3XML", b"<testsuites/>", "r: expected <test-run> at the top, got <testsuites>"),
        ("JUNITXML", b"<test-run/>", "r: expected <testsuites> or <testsuite> at the top, got <test-run>"),
        (
            "CUCUMBERJSON",
            b"[{",
            "r: Expecting property name enclosed in double quotes: line 1 column 3 (char 2)",
        ),
        (
            "CUCUMBERJSON",
            b'[{"name": "f", "elements": [{"steps": [{"result": []}]}]}]',
            "r: a step's result: expected an object, got list",
        ),
        (
            "SIMPLECOV",
            b'{"coverage": {"/a.rb": {"lines": [1], "branches": {"c": 3}}}}',
            "r: /a.rb: c: expected an object, got int",
        ),
        ("SIMPLECOV", b"\xff", "r: 'utf-8' codec can't decode byte 0xff in position 0: invalid start byte"),
        ("COBERTURAXML", b"<coverage", "r: unclosed token: line 1, column 0"),
        (
            "JACOCOXML",
            b'<report><counter type="LINE" covered="-1" missed="1"/></report>',
            "r: covered: expected a whole number, got '-1'",
        ),
        ("VISUALSTUDIOTRX", b"<a>" * 100_000, "r: no element found: line 1, column 300000"),
    ],
)
def test_a_malformed_file_makes_the_report_incomplete(
    tmp_path: Path, file_format: str, data: bytes, problem: str
) -> None:
    (tmp_path / "r").write_bytes(data)
    report = build_report(tmp_path, ReportSpec("u", ("r",), file_format=file_format), "g")
    assert (report.status, report.problem, report.files) == ("INCOMPLETE", problem, ("r",))


def test_a_structure_no_parser_expects_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "r.json").write_bytes(b"[" * 100_000)  # deeper than the JSON decoder recurses
    report = build_report(tmp_path, ReportSpec("u", ("r.json",), file_format="CUCUMBERJSON"), "g")
    assert report.status == "INCOMPLETE"
    assert report.problem.startswith("r.json: not a CUCUMBERJSON file (RecursionError: maximum recursion")
    assert "\n" not in report.problem


def test_copy_follows_base_directory_and_discard_paths(tmp_path: Path) -> None:
    xml = '<testsuite><testcase name="a"/></testsuite>'
    root = _write(
        tmp_path / "src", {"build/test-results/com/app/TEST-a.xml": xml, "build/test-results/TEST-b.xml": xml}
    )
    kept = build_report(
        root, ReportSpec("kept", ("**/*.xml",), base_directory="build/test-results"), "p-kept"
    )
    flat = build_report(
        root,
        ReportSpec("flat", ("**/*.xml",), base_directory="build/test-results", discard_paths=True),
        "p-flat",
    )
    out = tmp_path / "reports"
    copy_reports(root, [kept, flat], out)
    found = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.xml"))
    assert found == [
        "p-flat/TEST-a.xml",
        "p-flat/TEST-b.xml",
        "p-kept/TEST-b.xml",
        "p-kept/com/app/TEST-a.xml",
    ]


def test_mask_report_hides_secrets_in_failure_messages(tmp_path: Path) -> None:
    xml = (
        '<testsuite><testcase name="t-hunter2"><failure message="token hunter2 rejected"/>'
        "</testcase></testsuite>"
    )
    root = _write(tmp_path, {"r.xml": xml})
    report = mask_report(build_report(root, ReportSpec("u", ("r.xml",)), "g"), Masker(["hunter2"]))
    assert [(c.name, c.message) for c in report.failures] == [("t-***", "token *** rejected")]
