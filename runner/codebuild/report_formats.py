"""Test report parsers: JUnit, Cucumber JSON, NUnit 2 and 3, TestNG and TRX files into test cases.

Each parser takes a file's bytes and returns its cases with CodeBuild's test-case statuses
(SUCCEEDED, FAILED, ERROR, SKIPPED, UNKNOWN:
https://docs.aws.amazon.com/codebuild/latest/APIReference/API_TestCase.html). A file that
is not the format its report names raises FormatError (or the XML/JSON parser's error).
"""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

SUCCEEDED, FAILED, ERROR, SKIPPED, UNKNOWN = "SUCCEEDED", "FAILED", "ERROR", "SKIPPED", "UNKNOWN"
MESSAGE_CHARS = 500


class FormatError(ValueError):
    """A well-formed file whose structure is not the report format it was read as."""


@dataclass(frozen=True, slots=True)
class Case:
    name: str
    suite: str
    status: str  # SUCCEEDED | FAILED | ERROR | SKIPPED | UNKNOWN
    message: str = ""
    duration_s: float = 0.0


# Shared helpers (also used by runner/codebuild/coverage_formats.py).


def xml_root(data: bytes, *tags: str) -> ET.Element:
    """The document's root, namespaces dropped, if its tag is one of `tags`."""
    root = ET.fromstring(data)
    for element in root.iter():
        element.tag = element.tag.rsplit("}", 1)[-1]
    if root.tag not in tags:
        raise FormatError(f"expected <{'> or <'.join(tags)}> at the top, got <{root.tag}>")
    return root


def expect(value: Any, kind: type, what: str) -> Any:
    if not isinstance(value, kind):
        expected = "an object" if kind is dict else "a list" if kind is list else kind.__name__
        raise FormatError(f"{what}: expected {expected}, got {type(value).__name__}")
    return value


def number(text: str | None, what: str) -> int:
    """A count (0 when absent)."""
    if text is None or text.strip().isdigit():
        return int(text or 0)
    raise FormatError(f"{what}: expected a whole number, got {text!r}")


def first_line(text: str | None) -> str:
    for line in (text or "").splitlines():
        if line.strip():
            return line.strip()[:MESSAGE_CHARS]
    return ""


def _seconds(text: str | None, scale: float = 1.0) -> float:
    """Durations are informative only: one written as `0,25` (a comma locale) counts as 0."""
    try:
        return float(text or 0) * scale
    except ValueError:
        return 0.0


def _child_text(element: ET.Element, *paths: str) -> str:
    for path in paths:
        found = element.find(path)
        if found is not None and first_line(found.text):
            return first_line(found.text)
    return ""


# JUnit XML: <testsuites> or a <testsuite> that may nest others.


def parse_junit(data: bytes) -> list[Case]:
    root = xml_root(data, "testsuites", "testsuite")
    return [
        _junit_case(case, suite.get("name", ""))
        for suite in root.iter("testsuite")
        for case in suite.findall("testcase")
    ]


def _junit_case(case: ET.Element, suite: str) -> Case:
    name = case.get("name", "?")
    if case.get("classname"):
        name = f"{case.get('classname')}.{name}"
    duration = _seconds(case.get("time"))
    for tag, status in (("failure", FAILED), ("error", ERROR), ("skipped", SKIPPED)):
        child = case.find(tag)
        if child is not None:
            message = (child.get("message") or first_line(child.text))[:MESSAGE_CHARS]
            return Case(name, suite, status, message, duration)
    return Case(name, suite, SUCCEEDED, "", duration)


# Cucumber JSON: a list of features; each scenario is a case, its steps decide its status.
# Backgrounds (cucumber-jvm, cucumber-ruby) come as their own element before each scenario.

_STEP_STATUSES = {"failed": FAILED, "undefined": UNKNOWN, "pending": UNKNOWN, "ambiguous": UNKNOWN}


def parse_cucumber(data: bytes) -> list[Case]:
    cases = []
    for feature in expect(json.loads(data), list, "the file (a list of features)"):
        expect(feature, dict, "a feature")
        background: list[dict[str, Any]] = []
        for element in expect(feature.get("elements", []), list, "elements"):
            steps = list(_steps(expect(element, dict, "an element")))
            if element.get("type") == "background":
                background = steps
            else:
                cases.append(_scenario(str(feature.get("name", "")), element, background + steps))
                background = []
    return cases


def _steps(element: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for key in ("before", "steps", "after"):
        for step in expect(element.get(key, []), list, key):
            yield expect(step, dict, "a step")


def _scenario(feature: str, element: dict[str, Any], steps: list[dict[str, Any]]) -> Case:
    results = [expect(step.get("result", {}), dict, "a step's result") for step in steps]
    duration = sum(_seconds(str(r.get("duration", 0)), 1e-9) for r in results)  # nanoseconds
    name = str(element.get("name", "?"))
    found = [(str(r.get("status", "undefined")), step, r) for step, r in zip(steps, results, strict=True)]
    for wanted in ("failed", "undefined", "pending", "ambiguous"):
        for status, step, result in found:
            if status == wanted:
                message = first_line(str(result.get("error_message", ""))) or (
                    f"step {status}: {step.get('keyword', '')}{step.get('name', '')}".strip()
                )
                return Case(name, feature, _STEP_STATUSES[status], message[:MESSAGE_CHARS], duration)
    if any(status == "skipped" for status, _, _ in found):
        return Case(name, feature, SKIPPED, "", duration)
    return Case(name, feature, SUCCEEDED, "", duration)


# NUnit 2 XML: <test-results>, cases in <test-suite><results>.

_NUNIT2 = {
    "Success": SUCCEEDED,
    "Failure": FAILED,
    "Error": ERROR,
    "Cancelled": ERROR,
    "NotRunnable": ERROR,
    "Ignored": SKIPPED,
    "Skipped": SKIPPED,
    "Inconclusive": UNKNOWN,
}


def parse_nunit2(data: bytes) -> list[Case]:
    root = xml_root(data, "test-results")
    return [
        _nunit2_case(case, suite.get("name", ""))
        for suite in root.iter("test-suite")
        for case in suite.findall("results/test-case")
    ]


def _nunit2_case(case: ET.Element, suite: str) -> Case:
    result = case.get("result")
    if result is None:  # NUnit 2.4 and older: only executed= and success=
        result = (
            "Ignored"
            if case.get("executed") == "False"
            else ("Success" if case.get("success") == "True" else "Failure")
        )
    message = _child_text(case, "failure/message", "reason/message")
    return Case(
        case.get("name", "?"), suite, _NUNIT2.get(result, UNKNOWN), message, _seconds(case.get("time"))
    )


# NUnit 3 XML: <test-run>, nested <test-suite>s; result= plus label= (Error, Invalid, Cancelled).

_NUNIT3 = {"Passed": SUCCEEDED, "Failed": FAILED, "Skipped": SKIPPED}


def parse_nunit3(data: bytes) -> list[Case]:
    root = xml_root(data, "test-run")
    return [
        _nunit3_case(case, suite.get("name", ""))
        for suite in root.iter("test-suite")
        for case in suite.findall("test-case")
    ]


def _nunit3_case(case: ET.Element, suite: str) -> Case:
    status = _NUNIT3.get(case.get("result", ""), UNKNOWN)  # Inconclusive and Warning: UNKNOWN
    if status == FAILED and case.get("label") in ("Error", "Invalid", "Cancelled"):
        status = ERROR
    message = _child_text(case, "failure/message", "reason/message", "assertions/assertion/message")
    name = case.get("fullname") or case.get("name") or "?"
    return Case(name, suite, status, message, _seconds(case.get("duration")))


# TestNG XML: <testng-results><suite><test><class><test-method>; configuration methods
# (@BeforeClass…, is-config="true") are not test cases.

_TESTNG = {"PASS": SUCCEEDED, "FAIL": FAILED, "SKIP": SKIPPED}


def parse_testng(data: bytes) -> list[Case]:
    root = xml_root(data, "testng-results")
    cases = []
    for suite in root.iter("suite"):
        for cls in suite.iter("class"):
            for method in cls.findall("test-method"):
                if method.get("is-config") != "true":
                    cases.append(_testng_case(method, cls.get("name", ""), suite.get("name", "")))
    return cases


def _testng_case(method: ET.Element, cls: str, suite: str) -> Case:
    message = _child_text(method, "exception/message")
    exception = method.find("exception")
    if not message and exception is not None:
        message = exception.get("class", "")
    name = f"{cls}.{method.get('name', '?')}" if cls else method.get("name", "?")
    duration = _seconds(method.get("duration-ms"), 1e-3)
    return Case(name, suite, _TESTNG.get(method.get("status", ""), UNKNOWN), message, duration)


# Visual Studio TRX: <TestRun><Results><UnitTestResult outcome=…>, test classes in
# <TestDefinitions> (outcomes: Microsoft.VisualStudio.TestTools.Common.TestOutcome).

_TRX = {
    "Passed": SUCCEEDED,
    "PassedButRunAborted": SUCCEEDED,
    "Failed": FAILED,
    "Error": ERROR,
    "Timeout": ERROR,
    "Aborted": ERROR,
    "NotRunnable": ERROR,
    "Disconnected": ERROR,
    "NotExecuted": SKIPPED,
}
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d+):(\d+):(\d+(?:\.\d+)?)")


def parse_trx(data: bytes) -> list[Case]:
    root = xml_root(data, "TestRun")
    classes = {
        test.get("id", ""): method.get("className", "").split(",")[0].strip()
        for test in root.iterfind("TestDefinitions/UnitTest")
        if (method := test.find("TestMethod")) is not None
    }
    return [
        _trx_case(result, classes.get(result.get("testId", ""), ""))
        for result in root.iterfind("Results/UnitTestResult")
    ]


def _trx_case(result: ET.Element, cls: str) -> Case:
    name = result.get("testName", "?")
    if cls and not name.startswith(f"{cls}."):
        name = f"{cls}.{name}"
    status = _TRX.get(result.get("outcome", ""), UNKNOWN)  # Inconclusive, Warning, Pending…
    message = _child_text(result, "Output/ErrorInfo/Message")
    return Case(name, cls, status, message, _timespan(result.get("duration", "")))


def _timespan(text: str) -> float:
    match = _TIMESPAN.fullmatch(text.strip())
    if not match:
        return 0.0
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


TEST_PARSERS: dict[str, Callable[[bytes], list[Case]]] = {
    "JUNITXML": parse_junit,
    "CUCUMBERJSON": parse_cucumber,
    "NUNITXML": parse_nunit2,
    "NUNIT3XML": parse_nunit3,
    "TESTNGXML": parse_testng,
    "VISUALSTUDIOTRX": parse_trx,
}
