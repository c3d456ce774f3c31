"""Under CI nothing the suite needs may be skipped: the one place that decides what counts
as CI (CI=true, CI=1, CI=TRUE, CI=yes …) and turns a missing prerequisite into a failure
there, into a skip with the same reason on a developer's machine."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

_TRUE = ("1", "true", "yes", "on")

# pytest-timeout's limit for any one test (pyproject.toml, checked by tests/unit/test_ci.py),
# and the longest a test may wait for one thing itself: below the limit, so a slow wait
# fails with the test's own message rather than pytest-timeout's stack dump. The slowest
# tests take under a minute on 2 cores (test_pipeline_e2e ~50 s).
TEST_TIMEOUT_S = 300
LONGEST_WAIT_S = 240


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in _TRUE


def missing(reason: str) -> NoReturn:
    """A prerequisite is missing: fail under CI, skip elsewhere; `reason` says what to do."""
    if under_ci():
        pytest.fail(f"CI cannot skip this test: {reason}", pytrace=False)
    pytest.skip(reason)
