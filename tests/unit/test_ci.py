"""tests/ci.py: what counts as CI, and a missing prerequisite there (a failure, never a skip)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from tests.ci import LONGEST_WAIT_S, TEST_TIMEOUT_S, missing, under_ci


@pytest.mark.parametrize(
    ("value", "ci"),
    [("true", True), ("TRUE", True), ("1", True), ("yes", True), (" True ", True),
     ("", False), ("false", False), ("0", False), (None, False)],
)  # fmt: skip
def test_ci_values(monkeypatch: pytest.MonkeyPatch, value: str | None, ci: bool) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    assert under_ci() is ci


@pytest.mark.parametrize("value", ["true", "1", "TRUE"])
def test_missing_prerequisite_fails_under_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="CI cannot skip this test: no tool: install it"):
        missing("no tool: install it")


def test_missing_prerequisite_skips_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no tool: install it"):
        missing("no tool: install it")


def test_the_per_test_timeout_is_above_every_tests_own_longest_wait() -> None:
    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert pyproject["tool"]["pytest"]["ini_options"]["timeout"] == TEST_TIMEOUT_S > LONGEST_WAIT_S
