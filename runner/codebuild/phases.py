"""CodeBuild's phase state machine and status rules, as pure functions.

CODEBUILD.md decisions 3-6: INSTALL/PRE_BUILD failures skip to FINALIZING; a BUILD
failure still runs POST_BUILD (with CODEBUILD_BUILD_SUCCEEDING=0) and UPLOAD_ARTIFACTS;
a POST_BUILD failure still uploads artifacts. `on-failure` overrides the default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from runner.codebuild.buildspec import OnFailure

INSTALL, PRE_BUILD, BUILD, POST_BUILD = "INSTALL", "PRE_BUILD", "BUILD", "POST_BUILD"
UPLOAD_ARTIFACTS, FINALIZING = "UPLOAD_ARTIFACTS", "FINALIZING"
ORDER = (INSTALL, PRE_BUILD, BUILD, POST_BUILD, UPLOAD_ARTIFACTS, FINALIZING)
COMMAND_PHASES = ORDER[:4]

SUCCEEDED, FAILED, FAULT = "SUCCEEDED", "FAILED", "FAULT"
TIMED_OUT, STOPPED, IN_PROGRESS = "TIMED_OUT", "STOPPED", "IN_PROGRESS"

# When a phase fails and no on-failure says otherwise, where does the build go?
_DEFAULT_ON_FAILURE = {
    INSTALL: FINALIZING,
    PRE_BUILD: FINALIZING,
    BUILD: POST_BUILD,
    POST_BUILD: UPLOAD_ARTIFACTS,
    UPLOAD_ARTIFACTS: FINALIZING,
}


@dataclass(frozen=True, slots=True)
class Step:
    """Where to go after a phase: the next phase, whether to retry it, and the build's health."""

    phase: str
    succeeding: bool
    retry: bool = False


def following(phase: str) -> str:
    return ORDER[min(ORDER.index(phase) + 1, len(ORDER) - 1)]


def next_step(
    phase: str,
    status: str,
    succeeding: bool,
    on_failure: OnFailure | None = None,
    message: str = "",
    attempt: int = 1,
) -> Step:
    """The phase after `phase` ended with `status` (attempt counts from 1)."""
    if status == SUCCEEDED:
        return Step(following(phase), succeeding)
    if status in (TIMED_OUT, STOPPED, FAULT):
        return Step(FINALIZING, False)
    if on_failure is not None and phase in COMMAND_PHASES:
        if (
            on_failure.action == "RETRY"
            and attempt <= on_failure.retries
            and _matches(on_failure.pattern, message)
        ):
            return Step(phase, succeeding, retry=True)
        if on_failure.action == "CONTINUE":
            return Step(following(phase), False)
        if on_failure.action == "ABORT":
            return Step(FINALIZING, False)
    return Step(_DEFAULT_ON_FAILURE.get(phase, FINALIZING), False)


def _matches(pattern: str, message: str) -> bool:
    try:
        return re.search(pattern, message) is not None
    except re.error:
        return False


def build_status(phase_statuses: Iterable[str]) -> str:
    """A build's status from its phases' statuses: the worst one wins."""
    statuses = set(phase_statuses)
    for status in (STOPPED, TIMED_OUT, FAULT, FAILED):
        if status in statuses:
            return status
    return SUCCEEDED
