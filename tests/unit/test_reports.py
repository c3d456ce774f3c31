"""Test reports: JUnit XML parsing, report statuses, and the copy to -r DIR (runner/reports.py)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from runner.buildspec import ReportSpec
from runner.reports import build_report, copy_reports, mask_report, parse_junit
from runner.secrets import Masker

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
    }


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


def test_other_formats_are_collected_not_parsed(tmp_path: Path) -> None:
    root = _write(tmp_path, {"coverage.xml": "<coverage/>"})
    report = build_report(root, ReportSpec("cov", ("coverage.xml",), file_format="COBERTURAXML"), "g")
    assert (report.status, report.files, report.problem) == (
        "SUCCEEDED",
        ("coverage.xml",),
        "format not parsed",
    )


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
