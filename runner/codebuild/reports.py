"""Test and coverage reports: find the files a `reports` block names, parse them, copy them to -r DIR.

Test formats (runner/codebuild/report_formats.py) give totals and failing cases; coverage formats
(runner/codebuild/coverage_formats.py) give a line and branch coverage summary. Statuses follow
CodeBuild: SUCCEEDED (all passed, or coverage read), FAILED (some failed), INCOMPLETE
(no files, or a file that cannot be read as the report's format: its one-line problem).
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from runner.codebuild.buildspec import ReportSpec
from runner.codebuild.coverage_formats import COVERAGE_PARSERS, Coverage
from runner.codebuild.globs import (
    Locate,
    PathEscape,
    base_directories,
    check_relative,
    inside,
    locate_base,
    select,
    walk,
)
from runner.codebuild.report_formats import ERROR, FAILED, SKIPPED, SUCCEEDED, TEST_PARSERS, Case

__all__ = ["Case", "Coverage", "Report", "build_report", "copy_reports", "log_line", "mask_report"]

MAX_CASES_KEPT = 500  # CodeBuild keeps at most 500 test cases per report
# What a file that is not its report's format raises: a bad document (XML, JSON, UTF-8)
# is a ValueError or ParseError; the rest guards against structures no parser expects.
_UNREADABLE = (ET.ParseError, ValueError, TypeError, AttributeError, KeyError, RecursionError, OSError)


@dataclass(frozen=True, slots=True)
class Report:
    name: str
    file_format: str
    status: str
    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    files: tuple[str, ...] = ()
    failures: tuple[Case, ...] = field(default_factory=tuple)
    problem: str = ""
    # Where each file goes under `-r DIR/<name>/`: relative to base-directory, and only
    # its name with discard-paths (as CodeBuild names report files).
    copied_as: tuple[str, ...] = ()
    coverage: Coverage | None = None  # coverage formats only
    sources: tuple[str, ...] = ()  # the files on the host (files says where they were in the build)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["copied_as"], data["sources"]
        data["files"] = list(self.files)
        data["failures"] = [asdict(c) for c in self.failures]
        data["coverage"] = self.coverage.as_json() if self.coverage else None
        return data


def build_report(src_root: Path, spec: ReportSpec, group: str, locate: Locate | None = None) -> Report:
    try:
        root, base_directory = locate_base(src_root, spec.base_directory, locate)
        files = _report_files(root, base_directory, spec)
    except PathEscape as e:
        return Report(group, spec.file_format, "INCOMPLETE", problem=str(e))
    if not files:
        return Report(group, spec.file_format, "INCOMPLETE", problem="no report files found")
    # Files read from the build container are named by their path there.
    rels = tuple(("/" if root != src_root else "") + str(f.relative_to(root)) for f, _ in files)
    found = Report(
        group,
        spec.file_format,
        "INCOMPLETE",
        files=rels,
        copied_as=tuple(d for _, d in files),
        sources=tuple(str(f) for f, _ in files),
    )
    paths = [path for path, _ in files]
    if spec.file_format in COVERAGE_PARSERS:
        return _coverage_report(found, paths, COVERAGE_PARSERS[spec.file_format])
    return _test_report(found, paths, TEST_PARSERS[spec.file_format])


def _test_report(found: Report, paths: list[Path], parse: Callable[[bytes], list[Case]]) -> Report:
    cases: list[Case] = []
    for path in paths:
        try:
            cases.extend(parse(path.read_bytes()))
        except _UNREADABLE as e:
            return replace(found, problem=_problem(path, found.file_format, e))
    failed = [c for c in cases if c.status in (FAILED, ERROR)]
    return replace(
        found,
        status=FAILED if failed else SUCCEEDED,
        total=len(cases),
        passed=sum(1 for c in cases if c.status == SUCCEEDED),  # UNKNOWN cases count in total only
        failed=len(failed),
        skipped=sum(1 for c in cases if c.status == SKIPPED),
        failures=tuple(failed[:MAX_CASES_KEPT]),
    )


def _coverage_report(found: Report, paths: list[Path], parse: Callable[[bytes], Coverage]) -> Report:
    total: Coverage | None = None
    for path in paths:
        try:
            coverage = parse(path.read_bytes())
        except _UNREADABLE as e:
            return replace(found, problem=_problem(path, found.file_format, e))
        total = coverage if total is None else total + coverage
    return replace(found, status=SUCCEEDED, coverage=total)


def _problem(path: Path, file_format: str, error: BaseException) -> str:
    text = " ".join(str(error).split())  # one line, whatever the parser said
    if isinstance(error, (TypeError, AttributeError, KeyError, RecursionError)):
        text = f"not a {file_format} file ({type(error).__name__}: {text})"
    return f"{path.name}: {text}"


def log_line(report: Report) -> str:
    """The build log's line for a report: test totals, or the coverage summary."""
    if report.file_format in COVERAGE_PARSERS:
        detail = f" ({report.coverage.summary()})" if report.coverage else ""
    else:
        detail = f" ({report.passed} passed, {report.failed} failed, {report.skipped} skipped)"
    return f"Report {report.name}: {report.status}{detail}" + (
        f": {report.problem}" if report.problem else ""
    )


def _report_files(src_root: Path, base_directory: str | None, spec: ReportSpec) -> list[tuple[Path, str]]:
    """(file, where it goes in the report directory); links to outside are never read."""
    patterns = [check_relative(p) for p in spec.files]
    found: dict[str, tuple[Path, str]] = {}
    for base in base_directories(src_root, base_directory):
        entries, dirs = walk(base)
        for e in select(entries, dirs, patterns):
            if not e.is_link or inside(src_root, e.path):
                dest = e.rel.rsplit("/", 1)[-1] if spec.discard_paths else e.rel
                found.setdefault(dest, (e.path, dest))
    return list(found.values())


def copy_reports(src_root: Path, reports: list[Report], out_dir: Path) -> None:
    for report in reports:
        sources = report.sources or tuple(str(src_root / rel) for rel in report.files)
        for source, dest in zip(sources, report.copied_as, strict=True):
            target = out_dir / report.name / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def mask_report(report: Report, mask: Callable[[str], str]) -> Report:
    """Test output may print a secret: mask the failure messages before anything shows them."""
    failures = tuple(replace(c, name=mask(c.name), message=mask(c.message)) for c in report.failures)
    return replace(report, failures=failures, problem=mask(report.problem))
