#!/usr/bin/env python3
"""Run unittest tests and write a JUnit XML report (stdlib only; the build image has no pytest).

    python3 tools/run_tests.py --path ../lib --start tests --start ../lib/tests --junit r.xml --suite catalog

Discovers PATTERN in each START (default: tests) with the current directory and each
--path on sys.path (so tests import the service's modules and the shared lib/), runs
them as one suite, prints unittest's verbose output, writes the report, and exits 0
when every test passed, 1 when one failed or none was found, 2 on bad usage.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import unittest
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Case:
    classname: str
    name: str
    outcome: str  # passed | failure | error | skipped
    seconds: float
    message: str = ""
    details: str = ""


class RecordingResult(unittest.TextTestResult):
    """unittest's verbose result, remembering each test's duration."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.started: dict[str, float] = {}
        self.durations: dict[str, float] = {}
        self.order: list[unittest.TestCase] = []

    def startTest(self, test: unittest.TestCase) -> None:
        self.started[test.id()] = time.perf_counter()
        self.order.append(test)
        super().startTest(test)

    def stopTest(self, test: unittest.TestCase) -> None:
        super().stopTest(test)
        self.durations[test.id()] = time.perf_counter() - self.started.get(test.id(), time.perf_counter())


def split_id(test_id: str) -> tuple[str, str]:
    """("module.Class", "test_name") from a test id; subtests and fixture errors included."""
    base, paren, extra = test_id.partition(" (")
    if paren and "." not in base:  # a fixture error: "setUpClass (module.Class)"
        return extra.rstrip(")"), base
    module_class, _, name = base.rpartition(".")
    return module_class or "tests", name + (f" ({extra}" if paren else "")


def cases(result: RecordingResult) -> list[Case]:
    problems: dict[str, list[Case]] = {}
    for outcome, entries in (("failure", result.failures), ("error", result.errors)):
        for test, trace in entries:
            classname, name = split_id(test.id())
            owner = getattr(test, "test_case", test).id()  # a subtest belongs to its test
            case = Case(classname, name, outcome, result.durations.get(owner, 0.0), _last_line(trace), trace)
            problems.setdefault(owner, []).append(case)
    skipped = {test.id(): reason for test, reason in result.skipped}
    found: list[Case] = []
    for test in result.order:
        owner, (classname, name) = test.id(), split_id(test.id())
        seconds = result.durations.get(owner, 0.0)
        if owner in problems:
            found.extend(problems.pop(owner))
        elif owner in skipped:
            found.append(Case(classname, name, "skipped", seconds, skipped[owner]))
        else:
            found.append(Case(classname, name, "passed", seconds))
    found.extend(c for rest in problems.values() for c in rest)  # setUpClass errors and the like
    return found


def _last_line(trace: str) -> str:
    """The exception line (`AssertionError: 1 != 2`), not the diff lines unittest prints after it."""
    lines = [line for line in trace.strip().splitlines() if line.strip()]
    found = ""
    for previous, line in zip(["  ", *lines], lines, strict=False):
        if previous.startswith(" ") and not line.startswith((" ", "Traceback")):
            found = line  # the first line after a traceback's frames
    return (found or (lines[-1] if lines else ""))[:500]


def junit_xml(suite: str, found: list[Case], seconds: float) -> ET.ElementTree:
    counts = {k: sum(1 for c in found if c.outcome == k) for k in ("failure", "error", "skipped")}
    root = ET.Element("testsuites")
    element = ET.SubElement(
        root,
        "testsuite",
        name=suite,
        tests=str(len(found)),
        failures=str(counts["failure"]),
        errors=str(counts["error"]),
        skipped=str(counts["skipped"]),
        time=f"{seconds:.3f}",
        timestamp=time.strftime("%Y-%m-%dT%H:%M:%S"),
    )
    for case in found:
        node = ET.SubElement(
            element, "testcase", classname=case.classname, name=case.name, time=f"{case.seconds:.3f}"
        )
        if case.outcome in ("failure", "error"):
            ET.SubElement(node, case.outcome, message=case.message, type=case.outcome).text = case.details
        elif case.outcome == "skipped":
            ET.SubElement(node, "skipped", message=case.message)
    return ET.ElementTree(root)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--start", action="append", help="directory to discover tests in (repeatable; default: tests)"
    )
    parser.add_argument("--path", action="append", default=[], help="directory to import from (repeatable)")
    parser.add_argument("--pattern", default="test*.py", help="test file pattern (default: test*.py)")
    parser.add_argument("--junit", required=True, help="JUnit XML file to write")
    parser.add_argument("--suite", default=Path.cwd().name, help="test suite name in the report")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    args = parse(argv)
    starts = args.start or ["tests"]
    for directory in [*starts, *args.path]:
        if not Path(directory).is_dir():
            print(f"run_tests: no directory {directory!r} in {os.getcwd()}", file=sys.stderr)
            return 2
    sys.path[:0] = [os.getcwd(), *(os.path.abspath(p) for p in args.path)]
    # A loader per directory: discover() remembers its top-level directory.
    suite = unittest.TestSuite(
        unittest.TestLoader().discover(start, pattern=args.pattern, top_level_dir=start) for start in starts
    )
    runner = unittest.TextTestRunner(verbosity=2, resultclass=RecordingResult, stream=sys.stdout)
    started = time.perf_counter()
    result = runner.run(suite)
    assert isinstance(result, RecordingResult)
    found = cases(result)
    report = Path(args.junit)
    report.parent.mkdir(parents=True, exist_ok=True)
    junit_xml(args.suite, found, time.perf_counter() - started).write(
        report, encoding="utf-8", xml_declaration=True
    )
    print(f"run_tests: {len(found)} test(s), report {report}")
    if not found:
        print("run_tests: no tests found", file=sys.stderr)
        return 1
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
