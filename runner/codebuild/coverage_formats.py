"""Code coverage parsers: Clover, Cobertura, JaCoCo and SimpleCov files into a Coverage summary.

The summary is CodeBuild's (CodeCoverageReportSummary: line coverage = lines covered / lines,
branch coverage = branches covered / branches;
https://docs.aws.amazon.com/codebuild/latest/userguide/code-coverage-report.html).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from runner.codebuild.report_formats import FormatError, expect, number, xml_root


@dataclass(frozen=True, slots=True)
class Coverage:
    lines_covered: int
    lines_missed: int
    # None when the format (or, for SimpleCov, the run) has no branch coverage.
    branches_covered: int | None = None
    branches_missed: int | None = None

    def __add__(self, other: Coverage) -> Coverage:
        has_branches = self.branches_covered is not None or other.branches_covered is not None
        return Coverage(
            self.lines_covered + other.lines_covered,
            self.lines_missed + other.lines_missed,
            (self.branches_covered or 0) + (other.branches_covered or 0) if has_branches else None,
            (self.branches_missed or 0) + (other.branches_missed or 0) if has_branches else None,
        )

    @property
    def line_percentage(self) -> float | None:
        return _percent(self.lines_covered, self.lines_missed)

    @property
    def branch_percentage(self) -> float | None:
        if self.branches_covered is None or self.branches_missed is None:
            return None
        return _percent(self.branches_covered, self.branches_missed)

    def as_json(self) -> dict[str, Any]:
        return {
            "line_coverage_percentage": self.line_percentage,
            "lines_covered": self.lines_covered,
            "lines_missed": self.lines_missed,
            "branch_coverage_percentage": self.branch_percentage,
            "branches_covered": self.branches_covered,
            "branches_missed": self.branches_missed,
        }

    def summary(self) -> str:
        text = _phrase("line", self.line_percentage, self.lines_covered, self.lines_missed)
        if self.branches_covered is not None and self.branches_missed is not None:
            branches = _phrase("branch", self.branch_percentage, self.branches_covered, self.branches_missed)
            text += f"; {branches}"
        return text


def _percent(covered: int, missed: int) -> float | None:
    """None when there is nothing to cover: 0 of 0 is neither 0% nor 100%."""
    return round(100 * covered / (covered + missed), 2) if covered + missed else None


def _phrase(kind: str, percent: float | None, covered: int, missed: int) -> str:
    shown = f"{percent:.2f}%" if percent is not None else "n/a"
    return f"{kind} coverage {shown} ({covered} covered, {missed} missed)"


def _covered_missed(element: ET.Element, total_key: str, covered_key: str) -> tuple[int, int]:
    total = number(element.get(total_key), total_key)
    covered = number(element.get(covered_key), covered_key)
    if not 0 <= covered <= total:
        raise FormatError(f"{covered_key}={covered} does not fit {total_key}={total}")
    return covered, total - covered


# Clover XML: <coverage><project><metrics statements= coveredstatements= conditionals= …>.
# Clover counts statements, not lines; CodeBuild's line coverage is statement coverage.


def parse_clover(data: bytes) -> Coverage:
    metrics = xml_root(data, "coverage").find("project/metrics")
    if metrics is None:
        raise FormatError("no <project><metrics> element (not a Clover report)")
    return Coverage(
        *_covered_missed(metrics, "statements", "coveredstatements"),
        *_covered_missed(metrics, "conditionals", "coveredconditionals"),
    )


# Cobertura XML: totals on <coverage lines-valid= lines-covered= branches-…>; reports
# without them (Cobertura 1.x) are counted from their <line hits= condition-coverage=>.

_CONDITION = re.compile(r".*\((\d+)/(\d+)\)")


def parse_cobertura(data: bytes) -> Coverage:
    root = xml_root(data, "coverage")
    if root.get("line-rate") is None:
        raise FormatError("<coverage> has no line-rate (not a Cobertura report)")
    if root.get("lines-valid") is None:
        return _count_cobertura_lines(root)
    return Coverage(
        *_covered_missed(root, "lines-valid", "lines-covered"),
        *_covered_missed(root, "branches-valid", "branches-covered"),
    )


def _count_cobertura_lines(root: ET.Element) -> Coverage:
    hits: dict[tuple[str, str], int] = {}
    branches: dict[tuple[str, str], tuple[int, int]] = {}
    for cls in root.iter("class"):
        for line in cls.iterfind("lines/line"):
            key = (cls.get("filename", ""), line.get("number", ""))
            hits[key] = max(hits.get(key, 0), number(line.get("hits"), "hits"))
            condition = _CONDITION.match(line.get("condition-coverage", ""))
            if line.get("branch") == "true" and condition:
                covered, total = int(condition[1]), int(condition[2])
                branches[key] = max(branches.get(key, (0, 0)), (covered, total))
    covered = sum(1 for h in hits.values() if h > 0)
    branches_covered = sum(c for c, _ in branches.values())
    branches_total = sum(t for _, t in branches.values())
    return Coverage(covered, len(hits) - covered, branches_covered, branches_total - branches_covered)


# JaCoCo XML: <report> with one <counter type= missed= covered=> per kind for the whole
# report; a kind with nothing to count (no branches) has no counter.


def parse_jacoco(data: bytes) -> Coverage:
    root = xml_root(data, "report")
    counters = {c.get("type"): c for c in root.findall("counter")}
    lines, branches = counters.get("LINE"), counters.get("BRANCH")
    return Coverage(*_jacoco(lines), *_jacoco(branches))


def _jacoco(counter: ET.Element | None) -> tuple[int, int]:
    if counter is None:
        return 0, 0
    return number(counter.get("covered"), "covered"), number(counter.get("missed"), "missed")


# SimpleCov JSON: coverage/coverage.json ({"meta", "coverage": {file: {"lines", "branches"}}})
# or coverage/.resultset.json ({command: {"coverage": {file: …}}}, merged across commands).
# A line's count is null (not code) or "ignored" (:nocov:) when it does not count.


def parse_simplecov(data: bytes) -> Coverage:
    doc = expect(json.loads(data), dict, "the file")
    if "coverage" in doc or "meta" in doc:
        runs = [doc]
    else:
        runs = [expect(run, dict, f"command {name!r}") for name, run in doc.items()]
    lines: dict[tuple[str, int], int] = {}
    branches: dict[tuple[str, str], int] | None = None
    for run in runs:
        for path, entry in expect(run.get("coverage", {}), dict, "coverage").items():
            for key, count in _simplecov_lines(path, entry):
                lines[key] = lines.get(key, 0) + count
            if isinstance(entry, dict) and "branches" in entry:
                branches = {} if branches is None else branches
                for bkey, count in _simplecov_branches(path, entry["branches"]):
                    branches[bkey] = branches.get(bkey, 0) + count
    covered = sum(1 for c in lines.values() if c > 0)
    if branches is None:
        return Coverage(covered, len(lines) - covered)
    branches_covered = sum(1 for c in branches.values() if c > 0)
    return Coverage(covered, len(lines) - covered, branches_covered, len(branches) - branches_covered)


def _simplecov_lines(path: str, entry: Any) -> Iterable[tuple[tuple[str, int], int]]:
    counts = entry.get("lines", []) if isinstance(entry, dict) else entry  # old resultsets: a list
    for index, count in enumerate(expect(counts, list, f"{path}: lines")):
        if isinstance(count, int) and not isinstance(count, bool):
            yield (path, index), count


def _simplecov_branches(path: str, found: Any) -> Iterable[tuple[tuple[str, str], int]]:
    if isinstance(found, list):  # coverage.json: [{"type", "start_line", "coverage"}, …]
        for index, branch in enumerate(found):
            count = expect(branch, dict, f"{path}: a branch").get("coverage")
            if isinstance(count, int) and not isinstance(count, bool):
                yield (path, str(index)), count
        return
    # .resultset.json: {"[:if, 0, 3, 4, 7, 7]": {"[:then, 1, 4, 6, 4, 10]": 1, …}, …}
    for condition, arms in expect(found, dict, f"{path}: branches").items():
        for arm, count in expect(arms, dict, f"{path}: {condition}").items():
            if isinstance(count, int) and not isinstance(count, bool):
                yield (path, f"{condition} {arm}"), count


COVERAGE_PARSERS: dict[str, Callable[[bytes], Coverage]] = {
    "CLOVERXML": parse_clover,
    "COBERTURAXML": parse_cobertura,
    "JACOCOXML": parse_jacoco,
    "SIMPLECOV": parse_simplecov,
}
