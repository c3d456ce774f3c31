"""Buildspec 0.2: the model (frozen dataclasses), built by buildspec_loader, declared in buildspec_schema.

Reference: https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from runner.codebuild.buildspec_checks import UnknownKey
from runner.errors import Position

DEFAULT_REPORT_FORMAT = "JUNITXML"  # CodeBuild's default file-format
ON_FAILURE = r"ABORT|CONTINUE|RETRY(-\d+)?(-.+)?"
DEFAULT_RETRIES = 3


@dataclass(frozen=True, slots=True)
class OnFailure:
    """What a failed phase does next. RETRY re-runs the phase (see README, fidelity)."""

    action: str  # ABORT | CONTINUE | RETRY
    retries: int = 0
    pattern: str = ".*"


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    commands: tuple[str, ...]
    finally_commands: tuple[str, ...] = ()
    run_as: str | None = None
    on_failure: OnFailure | None = None
    runtime_versions: Mapping[str, str] = field(default_factory=dict)

    @property
    def phase_type(self) -> str:
        """CodeBuild's name for the phase in logs and the API (PRE_BUILD …)."""
        return self.name.upper()


@dataclass(frozen=True, slots=True)
class Env:
    shell: str = "sh"
    variables: Mapping[str, str] = field(default_factory=dict)
    parameter_store: Mapping[str, str] = field(default_factory=dict)
    secrets_manager: Mapping[str, str] = field(default_factory=dict)
    exported_variables: tuple[str, ...] = ()
    git_credential_helper: bool = False


@dataclass(frozen=True, slots=True)
class ArtifactSpec:
    files: tuple[str, ...]
    name: str | None = None
    discard_paths: bool = False
    base_directory: str | None = None
    exclude_paths: tuple[str, ...] = ()
    enable_symlinks: bool = False
    s3_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class Artifacts:
    primary: ArtifactSpec
    secondary: Mapping[str, ArtifactSpec] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReportSpec:
    name: str
    files: tuple[str, ...]
    file_format: str = DEFAULT_REPORT_FORMAT
    base_directory: str | None = None
    discard_paths: bool = False


@dataclass(frozen=True, slots=True)
class CacheSpec:
    paths: tuple[str, ...]
    key: str | None = None
    fallback_keys: tuple[str, ...] = ()
    action: str | None = None  # None: restore and save


@dataclass(frozen=True, slots=True)
class Buildspec:
    path: str
    version: str
    phases: tuple[Phase, ...]
    env: Env = field(default_factory=Env)
    run_as: str | None = None
    proxy: Mapping[str, bool] = field(default_factory=dict)
    batch: Mapping[str, Any] | None = None
    reports: tuple[ReportSpec, ...] = ()
    artifacts: Artifacts | None = None
    cache: CacheSpec | None = None
    warnings: tuple[str, ...] = ()
    positions: Mapping[str, Position] = field(default_factory=dict)  # of env entries, for errors
    unknown_keys: tuple[UnknownKey, ...] = ()  # also in warnings; the log shows CodeBuild's block

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)


def parse_on_failure(text: str) -> OnFailure:
    """ABORT | CONTINUE | RETRY | RETRY-<count> | RETRY-<regex> | RETRY-<count>-<regex>."""
    if text in ("ABORT", "CONTINUE"):
        return OnFailure(text)
    match = re.fullmatch(r"RETRY(?:-(\d+))?(?:-(.+))?", text)
    if match is None:  # the schema already checked the shape
        raise ValueError(text)
    count, pattern = match.groups()
    if count is None and pattern is not None and pattern.isdigit():
        count, pattern = pattern, None
    return OnFailure("RETRY", int(count) if count else DEFAULT_RETRIES, pattern or ".*")
