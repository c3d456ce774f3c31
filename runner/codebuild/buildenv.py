"""A build's environment variables: CodeBuild's own, and the user's with their precedence.

Precedence (CODEBUILD.md decision 7): override (--env, -e FILE) > project
(pipeline.yml) > buildspec. Values are literal; nothing is expanded.
Reference: https://docs.aws.amazon.com/codebuild/latest/userguide/build-env-ref-env-vars.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runner.errors import ConfigError, Position, UsageError

LOCAL_ACCOUNT = "000000000000"
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class BuildIdentity:
    project: str
    uuid: str
    number: int
    image: str
    initiator: str
    region: str
    src_dir: str
    start_ms: int
    source_version: str | None
    resolved_source_version: str | None
    repo_url: str

    @property
    def build_id(self) -> str:
        return f"{self.project}:{self.uuid}"


def codebuild_variables(who: BuildIdentity, succeeding: bool = True) -> dict[str, str]:
    values = {
        "CODEBUILD_BUILD_ARN": f"arn:aws:codebuild:{who.region}:{LOCAL_ACCOUNT}:build/{who.build_id}",
        "CODEBUILD_BUILD_ID": who.build_id,
        "CODEBUILD_BUILD_IMAGE": who.image,
        "CODEBUILD_BUILD_NUMBER": str(who.number),
        "CODEBUILD_BUILD_SUCCEEDING": "1" if succeeding else "0",
        "CODEBUILD_CI": "true",
        "CODEBUILD_INITIATOR": who.initiator,
        "CODEBUILD_KMS_KEY_ID": f"arn:aws:kms:{who.region}:{LOCAL_ACCOUNT}:alias/aws/s3",
        "CODEBUILD_LOG_PATH": who.uuid,
        "CODEBUILD_PROJECT_NAME": who.project,
        "CODEBUILD_SOURCE_REPO_URL": who.repo_url,
        "CODEBUILD_SRC_DIR": who.src_dir,
        "CODEBUILD_START_TIME": str(who.start_ms),
        "AWS_REGION": who.region,
        "AWS_DEFAULT_REGION": who.region,
        "HOME": "/root",
    }
    if who.resolved_source_version:
        values["CODEBUILD_RESOLVED_SOURCE_VERSION"] = who.resolved_source_version
    if who.source_version:
        values["CODEBUILD_SOURCE_VERSION"] = who.source_version
    return values


def compose(
    buildspec_vars: Mapping[str, str],
    secret_vars: Mapping[str, str],
    project_vars: Mapping[str, str],
    overrides: Mapping[str, str],
    codebuild: Mapping[str, str],
) -> dict[str, str]:
    """Later sources win; CodeBuild's reserved variables always come from the runner."""
    return {**buildspec_vars, **secret_vars, **project_vars, **overrides, **codebuild}


def parse_env_file(path: Path) -> dict[str, str]:
    """`-e FILE` as the local agent reads it: NAME=VALUE lines, # comments, quotes kept."""
    try:
        lines = path.read_text().splitlines()
    except OSError as e:
        raise UsageError(f"cannot read env file {path}: {e.strerror}") from e
    values: dict[str, str] = {}
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.partition("=")
        if not sep or not _NAME.fullmatch(name.strip()):
            raise ConfigError(Position(str(path), number, 1), "", "expected NAME=VALUE")
        values[name.strip()] = value
    return values


def parse_assignment(text: str) -> tuple[str, str]:
    """`--env NAME=VALUE`."""
    name, sep, value = text.partition("=")
    if not sep or not _NAME.fullmatch(name):
        raise UsageError(f"--env {text!r}: expected NAME=VALUE")
    return name, value
