"""Test reports: find the files a `reports` block names, parse them, copy them to -r DIR.

JUnit XML (the default format) is parsed into totals and failing cases; files of the
other formats are collected and copied, with totals left empty (not parsed yet).
Statuses follow CodeBuild: SUCCEEDED (all passed), FAILED (some failed), INCOMPLETE.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from runner.buildspec import ReportSpec
from runner.globs import PathEscape, base_directories, check_relative, inside, select, walk

MAX_CASES_KEPT = 500  # CodeBuild keeps at most 500 test cases per report


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    suite: str
    status: str  # SUCCEEDED | FAILED | ERROR | SKIPPED
    message: str = ""
    duration_s: float = 0.0


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

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        del data["copied_as"]
        data["files"] = list(self.files)
        data["failures"] = [asdict(c) for c in self.failures]
        return data


def build_report(src_root: Path, spec: ReportSpec, group: str) -> Report:
    try:
        files = _report_files(src_root, spec)
    except PathEscape as e:
        return Report(group, spec.file_format, "INCOMPLETE", problem=str(e))
    if not files:
        return Report(group, spec.file_format, "INCOMPLETE", problem="no report files found")
    rels = tuple(str(f.relative_to(src_root)) for f, _ in files)
    found = Report(group, spec.file_format, "INCOMPLETE", files=rels, copied_as=tuple(d for _, d in files))
    if spec.file_format != "JUNITXML":
        return replace(found, status="SUCCEEDED", problem="format not parsed")
    cases: list[Case] = []
    for path, _ in files:
        try:
            cases.extend(parse_junit(path.read_bytes()))
        except (ET.ParseError, OSError) as e:
            return replace(found, problem=f"{path.name}: {e}")
    failed = [c for c in cases if c.status in ("FAILED", "ERROR")]
    skipped = sum(1 for c in cases if c.status == "SKIPPED")
    return replace(
        found,
        status="FAILED" if failed else "SUCCEEDED",
        total=len(cases),
        passed=len(cases) - len(failed) - skipped,
        failed=len(failed),
        skipped=skipped,
        failures=tuple(failed[:MAX_CASES_KEPT]),
    )


def _report_files(src_root: Path, spec: ReportSpec) -> list[tuple[Path, str]]:
    """(file, where it goes in the report directory); links to outside are never read."""
    patterns = [check_relative(p) for p in spec.files]
    found: dict[str, tuple[Path, str]] = {}
    for base in base_directories(src_root, spec.base_directory):
        entries, dirs = walk(base)
        for e in select(entries, dirs, patterns):
            if not e.is_link or inside(src_root, e.path):
                dest = e.rel.rsplit("/", 1)[-1] if spec.discard_paths else e.rel
                found.setdefault(dest, (e.path, dest))
    return list(found.values())


def parse_junit(data: bytes) -> list[Case]:
    root = ET.fromstring(data)
    suites = list(root.iter("testsuite"))  # <testsuites>, or a <testsuite> that may nest others
    cases = []
    for suite in suites:
        for case in suite.findall("testcase"):
            cases.append(_case(case, suite.get("name", "")))
    return cases


def _case(case: ET.Element, suite: str) -> Case:
    name = case.get("name", "?")
    if case.get("classname"):
        name = f"{case.get('classname')}.{name}"
    duration = float(case.get("time") or 0)
    for tag, status in (("failure", "FAILED"), ("error", "ERROR"), ("skipped", "SKIPPED")):
        child = case.find(tag)
        if child is not None:
            message = child.get("message") or (child.text or "").strip().splitlines()[0:1]
            text = message if isinstance(message, str) else "".join(message)
            return Case(name, suite, status, text[:500], duration)
    return Case(name, suite, "SUCCEEDED", "", duration)


def copy_reports(src_root: Path, reports: list[Report], out_dir: Path) -> None:
    for report in reports:
        for rel, dest in zip(report.files, report.copied_as, strict=True):
            target = out_dir / report.name / dest
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src_root / rel, target)


def mask_report(report: Report, mask: Callable[[str], str]) -> Report:
    """Test output may print a secret: mask the failure messages before anything shows them."""
    failures = tuple(replace(c, name=mask(c.name), message=mask(c.message)) for c in report.failures)
    return replace(report, failures=failures, problem=mask(report.problem))
