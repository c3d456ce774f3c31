"""A build's environment: the -e file format, --env, precedence, CodeBuild's variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.codebuild.buildenv import (
    BuildIdentity,
    codebuild_variables,
    compose,
    parse_assignment,
    parse_env_file,
)
from runner.errors import ConfigError, UsageError


def env_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "vars.env"
    path.write_text(text)
    return path


def test_env_file_format_of_the_local_agent(tmp_path: Path) -> None:
    path = env_file(
        tmp_path,
        "# a comment\n"
        "\n"
        "PLAIN=value\n"
        'QUOTED="kept with quotes"\n'
        "SINGLE='also kept'\n"
        "EQUALS=a=b=c\n"
        "EMPTY=\n"
        "SPACES=  two  spaces  \n"
        "   INDENTED=ok\n"
        "DOLLAR=$HOME/x\n"
        "  # an indented comment\n",
    )
    assert parse_env_file(path) == {
        "PLAIN": "value",
        "QUOTED": '"kept with quotes"',
        "SINGLE": "'also kept'",
        "EQUALS": "a=b=c",
        "EMPTY": "",
        "SPACES": "  two  spaces",  # the line is stripped, the value is not otherwise touched
        "INDENTED": "ok",
        "DOLLAR": "$HOME/x",  # literal: nothing is expanded
    }


def test_later_lines_win(tmp_path: Path) -> None:
    assert parse_env_file(env_file(tmp_path, "A=1\nA=2\n")) == {"A": "2"}


@pytest.mark.parametrize(
    ("text", "line"),
    [("no equals sign\n", 1), ("OK=1\n1BAD=x\n", 2), ("A=1\nexport B=2\n", 2), ("=value\n", 1)],
)
def test_bad_lines_name_the_file_and_line(tmp_path: Path, text: str, line: int) -> None:
    path = env_file(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        parse_env_file(path)
    assert str(info.value) == f"{path}:{line}:1: expected NAME=VALUE"
    assert info.value.exit_code == 2


def test_missing_env_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"cannot read env file .*missing\.env: No such file or directory"):
        parse_env_file(tmp_path / "missing.env")


def test_parse_assignment() -> None:
    assert parse_assignment("A=1") == ("A", "1")
    assert parse_assignment("A=x=y") == ("A", "x=y")
    assert parse_assignment("A=") == ("A", "")
    for bad in ("A", "=1", "A B=1", "1A=x"):
        with pytest.raises(UsageError, match="expected NAME=VALUE"):
            parse_assignment(bad)


def test_precedence_override_project_buildspec_and_reserved_names() -> None:
    env = compose(
        buildspec_vars={"A": "buildspec", "B": "buildspec", "C": "buildspec", "SECRET": "plain"},
        secret_vars={"SECRET": "from-store"},
        project_vars={"B": "project", "C": "project"},
        overrides={"C": "override", "CODEBUILD_BUILD_ID": "forged", "HOME": "/elsewhere"},
        codebuild={"CODEBUILD_BUILD_ID": "p:1", "HOME": "/root"},
    )
    assert env == {
        "A": "buildspec",
        "B": "project",
        "C": "override",
        "SECRET": "from-store",
        "CODEBUILD_BUILD_ID": "p:1",
        "HOME": "/root",
    }


def test_codebuild_variables() -> None:
    who = BuildIdentity(
        project="demo",
        uuid="1234",
        number=7,
        image="runner/build:bookworm",
        initiator="alice",
        region="eu-west-1",
        src_dir="/codebuild/output/src123456789/src",
        start_ms=1795000000123,
        source_version="main",
        resolved_source_version="a" * 40,
        repo_url="file:///repo",
    )
    values = codebuild_variables(who)
    assert values["CODEBUILD_BUILD_ID"] == "demo:1234"
    assert values["CODEBUILD_BUILD_ARN"] == "arn:aws:codebuild:eu-west-1:000000000000:build/demo:1234"
    assert values["CODEBUILD_BUILD_NUMBER"] == "7"
    assert values["CODEBUILD_BUILD_SUCCEEDING"] == "1"
    assert values["CODEBUILD_INITIATOR"] == "alice"
    assert values["CODEBUILD_RESOLVED_SOURCE_VERSION"] == "a" * 40
    assert values["CODEBUILD_SOURCE_VERSION"] == "main"
    assert values["CODEBUILD_START_TIME"] == "1795000000123"
    assert values["AWS_REGION"] == values["AWS_DEFAULT_REGION"] == "eu-west-1"
    assert values["HOME"] == "/root"
    assert codebuild_variables(who, succeeding=False)["CODEBUILD_BUILD_SUCCEEDING"] == "0"
    unresolved = codebuild_variables(
        BuildIdentity("p", "u", 1, "i", "x", "r", "/s", 0, None, None, "")
    )  # not a git source: unset, as CodeBuild leaves it for S3 sources
    assert "CODEBUILD_RESOLVED_SOURCE_VERSION" not in unresolved
    assert "CODEBUILD_SOURCE_VERSION" not in unresolved
