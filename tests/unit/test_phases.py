"""The phase transition rules (CODEBUILD.md decisions 3-6), exhaustively."""

from __future__ import annotations

import itertools

import pytest

from runner.codebuild.buildspec import OnFailure, parse_on_failure
from runner.codebuild.phases import (
    BUILD,
    COMMAND_PHASES,
    FAILED,
    FAULT,
    FINALIZING,
    INSTALL,
    POST_BUILD,
    PRE_BUILD,
    STOPPED,
    SUCCEEDED,
    TIMED_OUT,
    UPLOAD_ARTIFACTS,
    Step,
    build_status,
    next_step,
)

DEFAULT_FAILURE_TARGET = {
    INSTALL: FINALIZING,
    PRE_BUILD: FINALIZING,
    BUILD: POST_BUILD,
    POST_BUILD: UPLOAD_ARTIFACTS,
    UPLOAD_ARTIFACTS: FINALIZING,
}
NEXT = {
    INSTALL: PRE_BUILD,
    PRE_BUILD: BUILD,
    BUILD: POST_BUILD,
    POST_BUILD: UPLOAD_ARTIFACTS,
    UPLOAD_ARTIFACTS: FINALIZING,
}


@pytest.mark.parametrize("phase", list(NEXT))
@pytest.mark.parametrize("succeeding", [True, False])
def test_success_moves_to_the_next_phase_and_keeps_health(phase: str, succeeding: bool) -> None:
    assert next_step(phase, SUCCEEDED, succeeding) == Step(NEXT[phase], succeeding)


@pytest.mark.parametrize("phase", list(DEFAULT_FAILURE_TARGET))
def test_default_failure_targets(phase: str) -> None:
    assert next_step(phase, FAILED, True) == Step(DEFAULT_FAILURE_TARGET[phase], False)


@pytest.mark.parametrize("phase", COMMAND_PHASES)
def test_continue_runs_the_next_phase_but_the_build_stays_failed(phase: str) -> None:
    assert next_step(phase, FAILED, True, OnFailure("CONTINUE")) == Step(NEXT[phase], False)


@pytest.mark.parametrize("phase", COMMAND_PHASES)
def test_abort_goes_straight_to_finalizing(phase: str) -> None:
    assert next_step(phase, FAILED, True, OnFailure("ABORT")) == Step(FINALIZING, False)


@pytest.mark.parametrize(
    ("phase", "status"), list(itertools.product(list(NEXT), [TIMED_OUT, STOPPED, FAULT]))
)
def test_timeouts_stops_and_faults_end_the_build(phase: str, status: str) -> None:
    on_failure = OnFailure("CONTINUE")
    assert next_step(phase, status, True, on_failure) == Step(FINALIZING, False)


def test_retry_repeats_the_phase_until_the_count_is_used() -> None:
    retry = OnFailure("RETRY", retries=2, pattern=".*")
    assert next_step(BUILD, FAILED, True, retry, "x", attempt=1).retry
    assert next_step(BUILD, FAILED, True, retry, "x", attempt=2).retry
    assert next_step(BUILD, FAILED, True, retry, "x", attempt=3) == Step(POST_BUILD, False)


def test_retry_only_when_the_message_matches() -> None:
    retry = OnFailure("RETRY", retries=3, pattern="exit status 7")
    assert next_step(INSTALL, FAILED, True, retry, "Reason: exit status 7").retry
    assert next_step(INSTALL, FAILED, True, retry, "Reason: exit status 1") == Step(FINALIZING, False)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("ABORT", OnFailure("ABORT")),
        ("CONTINUE", OnFailure("CONTINUE")),
        ("RETRY", OnFailure("RETRY", 3, ".*")),
        ("RETRY-5", OnFailure("RETRY", 5, ".*")),
        ("RETRY-timeout.*", OnFailure("RETRY", 3, "timeout.*")),
        ("RETRY-2-exit status [0-9]+", OnFailure("RETRY", 2, "exit status [0-9]+")),
    ],
)
def test_on_failure_forms(text: str, expected: OnFailure) -> None:
    assert parse_on_failure(text) == expected


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        ([SUCCEEDED, SUCCEEDED], SUCCEEDED),
        ([SUCCEEDED, FAILED, SUCCEEDED], FAILED),
        ([FAILED, FAULT], FAULT),
        ([FAULT, TIMED_OUT], TIMED_OUT),
        ([TIMED_OUT, STOPPED, FAILED], STOPPED),
        ([], SUCCEEDED),
    ],
)
def test_build_status_is_the_worst_phase(statuses: list[str], expected: str) -> None:
    assert build_status(statuses) == expected
