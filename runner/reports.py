"""Test reports: find the files a `reports` block names, parse them, copy them to -r DIR.

JUnit XML (the default format) is parsed into totals and failing cases; files of the
other formats are collected and copied, with totals left empty (not parsed yet).
Statuses follow CodeBuild: SUCCEEDED (all passed), FAILED (some failed), INCOMPLETE.
"""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
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

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
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
    rels = tuple(str(f.relative_to(src_root)) for f in files)
    if spec.file_format != "JUNITXML":
        return Report(group, spec.file_format, "SUCCEEDED", files=rels, problem="format not parsed")
    cases: list[Case] = []
    for path in files:
        try:
            cases.extend(parse_junit(path.read_bytes()))
        except (ET.ParseError, OSError) as e:
            return Report(group, spec.file_format, "INCOMPLETE", files=rels, problem=f"{path.name}: {e}")
    failed = [c for c in cases if c.status in ("FAILED", "ERROR")]
    skipped = sum(1 for c in cases if c.status == "SKIPPED")
    return Report(
        name=group,
        file_format=spec.file_format,
        status="FAILED" if failed else "SUCCEEDED",
        total=len(cases),
        passed=len(cases) - len(failed) - skipped,
        failed=len(failed),
        skipped=skipped,
        files=rels,
        failures=tuple(failed[:MAX_CASES_KEPT]),
    )


def _report_files(src_root: Path, spec: ReportSpec) -> list[Path]:
    patterns = [check_relative(p) for p in spec.files]
    found: list[Path] = []
    for base in base_directories(src_root, spec.base_directory):
        entries, dirs = walk(base)
        found.extend(
            e.path for e in select(entries, dirs, patterns) if not e.is_link or inside(src_root, e.path)
        )
    return found


def parse_junit(data: bytes) -> list[Case]:
    root = ET.fromstring(data)
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
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
        for rel in report.files:
            target = out_dir / report.name / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src_root / rel, target)
