"""Test and coverage report parsers on small sample files of each format (runner/codebuild/report_formats.py,
runner/codebuild/coverage_formats.py). The samples in report_samples/ follow each tool's documented layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.codebuild.coverage_formats import (
    Coverage,
    parse_clover,
    parse_cobertura,
    parse_jacoco,
    parse_simplecov,
)
from runner.codebuild.report_formats import (
    Case,
    FormatError,
    parse_cucumber,
    parse_nunit2,
    parse_nunit3,
    parse_testng,
    parse_trx,
)

SAMPLES = Path(__file__).parent / "report_samples"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def summary(cases: list[Case]) -> list[tuple[str, str, str, str]]:
    return [(c.name, c.suite, c.status, c.message) for c in cases]


def test_cucumber_scenarios_take_the_status_of_their_steps_and_background() -> None:
    cases = parse_cucumber(sample("cucumber.json"))
    assert summary(cases) == [
        ("Add one item", "Shopping basket", "SUCCEEDED", ""),
        ("Total price", "Shopping basket", "FAILED", "expected 6, got 5"),
        ("Pay by card", "Checkout", "UNKNOWN", "step undefined: Given a card"),
        ("Pay later", "Checkout", "SKIPPED", ""),
    ]
    assert cases[0].duration_s == pytest.approx(0.0035)  # background 1 ms + steps 2.5 ms, in ns


def test_nunit2_results_map_to_codebuild_statuses() -> None:
    cases = parse_nunit2(sample("nunit2.xml"))
    assert summary(cases) == [
        ("Calc.AdderTests.AddsTwoNumbers", "AdderTests", "SUCCEEDED", ""),
        ("Calc.AdderTests.AddsNegatives", "AdderTests", "FAILED", "Expected: -3"),
        (
            "Calc.AdderTests.Overflows",
            "AdderTests",
            "ERROR",
            "System.OverflowException : Arithmetic operation resulted in an overflow.",
        ),
        ("Calc.AdderTests.AddsLater", "AdderTests", "SKIPPED", "not implemented yet"),
        ("Calc.AdderTests.NeedsArguments", "AdderTests", "ERROR", "No arguments were provided"),
    ]
    assert cases[1].duration_s == 0.031


def test_nunit2_before_2_5_has_only_executed_and_success() -> None:
    old = b"""<test-results total="3"><test-suite name="Fixture"><results>
      <test-case name="A.ok" executed="True" success="True"/>
      <test-case name="A.bad" executed="True" success="False">
        <failure><message>boom</message></failure>
      </test-case>
      <test-case name="A.later" executed="False"/>
    </results></test-suite></test-results>"""
    assert [(c.status, c.message) for c in parse_nunit2(old)] == [
        ("SUCCEEDED", ""),
        ("FAILED", "boom"),
        ("SKIPPED", ""),
    ]


def test_nunit3_results_and_labels() -> None:
    cases = parse_nunit3(sample("nunit3.xml"))
    assert summary(cases) == [
        ("Calc.ParserTests.ParsesNumber", "ParserTests", "SUCCEEDED", ""),
        ("Calc.ParserTests.ParsesSum", "ParserTests", "FAILED", "Expected: 5"),
        (
            "Calc.ParserTests.ParsesGarbage",
            "ParserTests",
            "ERROR",
            "System.FormatException : Input string was not in a correct format.",
        ),
        ("Calc.ParserTests.ParsesHex", "ParserTests", "SKIPPED", "hex is next"),
        ("Calc.ParserTests.ParsesUnicode", "ParserTests", "UNKNOWN", "locale not installed"),
    ]
    assert cases[0].duration_s == 0.0125


def test_testng_methods_without_configuration_methods() -> None:
    cases = parse_testng(sample("testng.xml"))
    assert summary(cases) == [
        ("com.example.calc.CalculatorTest.adds", "Calc suite", "SUCCEEDED", ""),
        ("com.example.calc.CalculatorTest.divides", "Calc suite", "FAILED", "expected [2] but found [3]"),
        (
            "com.example.calc.CalculatorTest.overflows",
            "Calc suite",
            "FAILED",
            "java.lang.ArithmeticException",
        ),
        ("com.example.calc.CalculatorTest.multiplies", "Calc suite", "SKIPPED", ""),
    ]
    assert cases[1].duration_s == 0.25


def test_trx_outcomes_with_class_names_from_the_definitions() -> None:
    cases = parse_trx(sample("results.trx"))
    assert summary(cases) == [
        ("Money.Tests.PriceTests.Formats", "Money.Tests.PriceTests", "SUCCEEDED", ""),
        (
            "Money.Tests.PriceTests.Rounds",
            "Money.Tests.PriceTests",
            "FAILED",
            "Assert.AreEqual failed. Expected:<2.5>. Actual:<2>.",
        ),
        ("Money.Tests.PriceTests.Converts", "Money.Tests.PriceTests", "SKIPPED", ""),
        ("TimesOut", "", "ERROR", ""),  # no definition: the name as the result gives it
    ]
    assert [c.duration_s for c in cases] == [0.0151234, 1.5, 0.001, 5.0]


@pytest.mark.parametrize(
    ("parse", "data", "message"),
    [
        (parse_nunit3, b"<testsuites/>", "expected <test-run> at the top, got <testsuites>"),
        (parse_nunit2, b"<test-run/>", "expected <test-results> at the top, got <test-run>"),
        (parse_testng, b"<testsuite/>", "expected <testng-results> at the top, got <testsuite>"),
        (parse_trx, b"<TestRunResults/>", "expected <TestRun> at the top, got <TestRunResults>"),
        (parse_cucumber, b'{"name": "x"}', "the file (a list of features): expected a list, got dict"),
        (parse_cucumber, b'[{"elements": {}}]', "elements: expected a list, got dict"),
        (
            parse_cucumber,
            b'[{"elements": [{"steps": [{"result": 3}]}]}]',
            "a step's result: expected an object, got int",
        ),
    ],
)
def test_a_file_of_another_format_is_a_format_error(parse: object, data: bytes, message: str) -> None:
    with pytest.raises(FormatError) as info:
        parse(data)  # type: ignore[operator]
    assert str(info.value) == message


def test_cobertura_totals_from_the_root() -> None:
    coverage = parse_cobertura(sample("cobertura.xml"))
    assert coverage == Coverage(8, 2, 3, 1)
    assert (coverage.line_percentage, coverage.branch_percentage) == (80.0, 75.0)


def test_cobertura_1_9_is_counted_from_its_lines() -> None:
    # Line 5 of Calc.java appears in two classes: counted once, covered if either hit it.
    assert parse_cobertura(sample("cobertura-1.9.xml")) == Coverage(2, 2, 1, 3)


def test_jacoco_report_counters() -> None:
    coverage = parse_jacoco(sample("jacoco.xml"))
    assert coverage == Coverage(3, 2, 1, 1)
    assert coverage.as_json() == {
        "line_coverage_percentage": 60.0,
        "lines_covered": 3,
        "lines_missed": 2,
        "branch_coverage_percentage": 50.0,
        "branches_covered": 1,
        "branches_missed": 1,
    }


def test_jacoco_without_branches_has_zero_branches() -> None:
    data = b'<report name="r"><counter type="LINE" missed="1" covered="2"/></report>'
    coverage = parse_jacoco(data)
    assert (coverage, coverage.branch_percentage) == (Coverage(2, 1, 0, 0), None)


def test_clover_statements_and_conditionals_of_the_project() -> None:
    coverage = parse_clover(sample("clover.xml"))
    assert coverage == Coverage(9, 3, 3, 1)
    assert coverage.summary() == (
        "line coverage 75.00% (9 covered, 3 missed); branch coverage 75.00% (3 covered, 1 missed)"
    )


def test_simplecov_coverage_json_skips_null_and_ignored_lines() -> None:
    assert parse_simplecov(sample("simplecov-coverage.json")) == Coverage(8, 1, 1, 1)


def test_simplecov_resultset_merges_its_commands() -> None:
    # Line 3 and the `then` arm are missed by RSpec but hit by Cucumber.
    assert parse_simplecov(sample("simplecov-resultset.json")) == Coverage(3, 1, 1, 1)


def test_simplecov_without_branch_coverage_and_old_resultsets() -> None:
    lines_only = b'{"meta": {}, "coverage": {"/a.rb": {"lines": [1, 0, null]}}}'
    coverage = parse_simplecov(lines_only)
    assert (coverage, coverage.summary()) == (
        Coverage(1, 1),
        "line coverage 50.00% (1 covered, 1 missed)",
    )
    old = b'{"RSpec": {"coverage": {"/a.rb": [1, 1, 1, 0]}, "timestamp": 1}}'
    assert parse_simplecov(old) == Coverage(3, 1)


def test_nothing_to_cover_has_no_percentage() -> None:
    assert Coverage(0, 0).as_json()["line_coverage_percentage"] is None
    assert Coverage(0, 0, 0, 0).summary() == (
        "line coverage n/a (0 covered, 0 missed); branch coverage n/a (0 covered, 0 missed)"
    )


@pytest.mark.parametrize(
    ("parse", "data", "message"),
    [
        (parse_cobertura, b'<coverage clover="4"/>', "<coverage> has no line-rate (not a Cobertura report)"),
        (parse_clover, b'<coverage line-rate="1"/>', "no <project><metrics> element (not a Clover report)"),
        (
            parse_cobertura,
            b'<coverage line-rate="1" lines-valid="2" lines-covered="3"/>',
            "lines-covered=3 does not fit lines-valid=2",
        ),
        (
            parse_jacoco,
            b'<report><counter type="LINE" covered="x"/></report>',
            "covered: expected a whole number, got 'x'",
        ),
        (parse_jacoco, b"<coverage/>", "expected <report> at the top, got <coverage>"),
        (parse_simplecov, b"[]", "the file: expected an object, got list"),
        (
            parse_simplecov,
            b'{"coverage": {"/a.rb": {"lines": {}}}}',
            "/a.rb: lines: expected a list, got dict",
        ),
    ],
)
def test_a_coverage_file_of_another_format_is_a_format_error(
    parse: object, data: bytes, message: str
) -> None:
    with pytest.raises(FormatError) as info:
        parse(data)  # type: ignore[operator]
    assert str(info.value) == message
