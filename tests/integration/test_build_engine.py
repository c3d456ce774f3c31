"""The build engine against a real Docker engine: CODEBUILD.md decisions, one test each."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.helpers import build, phase_statuses, write_project

pytestmark = pytest.mark.docker


def test_shell_state_survives_commands_and_phases(tmp_path: Path, runner_home: Path) -> None:
    """Decision 1: cwd, plain and exported variables carry across phases (fresh containers)."""
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          install:
            commands:
              - PLAIN=one; export EXPORTED=two; mkdir -p sub && cd sub
          build:
            commands:
              - echo "pwd=$(basename $(pwd)) plain=$PLAIN exported=$EXPORTED"
              - sh -c 'echo "child sees exported=$EXPORTED plain=${PLAIN:-unset}"'
    """,
    )
    lines: list[str] = []
    result = build(root, runner_home, lines)
    assert result.status == "SUCCEEDED", lines
    assert "pwd=sub plain=one exported=two" in lines
    assert "child sees exported=two plain=unset" in lines


def test_bash_shell_keeps_functions_and_arrays(tmp_path: Path, runner_home: Path) -> None:
    """Decision 2: env.shell bash; bash-only state (arrays, functions) carries over."""
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        env:
          shell: bash
        phases:
          pre_build:
            commands:
              - greet() { echo "hi $1"; }; ARR=(a "b c")
          build:
            commands:
              - greet there; echo "${ARR[1]}"; [[ 1 == 1 ]] && echo bash-ok
    """,
    )
    lines: list[str] = []
    assert build(root, runner_home, lines).status == "SUCCEEDED", lines
    assert {"hi there", "b c", "bash-ok"} <= set(lines)


def test_default_shell_is_sh_not_bash(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          build:
            commands:
              - '[[ 1 == 1 ]]'
    """,
    )
    lines: list[str] = []
    result = build(root, runner_home, lines)
    assert result.status == "FAILED"
    assert any("[[: not found" in line for line in lines), lines


def test_failed_command_skips_the_rest_and_finally_runs(tmp_path: Path, runner_home: Path) -> None:
    """Decision 3 and 10: CodeBuild's lines and contexts."""
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          build:
            commands:
              - echo first
              - "false"
              - echo never
            finally:
              - echo cleanup
    """,
    )
    lines: list[str] = []
    result = build(root, runner_home, lines)
    assert result.status == "FAILED"
    assert "never" not in lines and "cleanup" in lines
    assert any(line.endswith("Command did not exit successfully false exit status 1") for line in lines)
    assert any(line.endswith("Phase complete: BUILD State: FAILED") for line in lines)
    assert any(
        line.endswith(
            "Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing "
            "command: false. Reason: exit status 1"
        )
        for line in lines
    )


def test_failing_finally_fails_the_phase(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          build:
            commands: [echo ok]
            finally: ["exit 3"]
    """,
    )
    result = build(root, runner_home)
    assert phase_statuses(result)["BUILD"] == "FAILED"


def test_install_failure_skips_to_finalizing(tmp_path: Path, runner_home: Path) -> None:
    """Decision 4: no later phases, no artifact upload."""
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          install:
            commands: ["false"]
          build:
            commands: [echo built]
        artifacts:
          files: [buildspec.yml]
    """,
    )
    lines: list[str] = []
    result = build(root, runner_home, lines)
    statuses = phase_statuses(result)
    assert statuses["INSTALL"] == "FAILED"
    assert "BUILD" not in statuses and "UPLOAD_ARTIFACTS" not in statuses
    assert "FINALIZING" in statuses and "built" not in lines


def test_build_failure_runs_post_build_with_succeeding_0(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          build:
            commands: ["false"]
          post_build:
            commands:
              - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"
        artifacts:
          files: [buildspec.yml]
    """,
    )
    lines: list[str] = []
    result = build(root, runner_home, lines)
    assert "succeeding=0" in lines
    assert phase_statuses(result)["UPLOAD_ARTIFACTS"] == "SUCCEEDED"
    assert result.status == "FAILED"


def test_continue_runs_next_phase_but_build_fails(tmp_path: Path, runner_home: Path) -> None:
    """Decision 5."""
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          pre_build:
            on-failure: CONTINUE
            commands: ["false"]
          build:
            commands: ['echo "build ran succeeding=$CODEBUILD_BUILD_SUCCEEDING"']
    """,
    )
    lines: list[str] = []
    result = build(root, runner_home, lines)
    assert "build ran succeeding=0" in lines
    assert result.status == "FAILED"


def test_retry_reruns_the_phase_from_its_start(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          build:
            on-failure: RETRY-2
            commands:
              - echo attempt >> $CODEBUILD_SRC_DIR/attempts
              - test $(wc -l < $CODEBUILD_SRC_DIR/attempts) -ge 3
    """,
    )
    lines: list[str] = []
    result = build(root, runner_home, lines)
    assert result.status == "SUCCEEDED", lines
    assert sum("Retrying phase BUILD" in line for line in lines) == 2


def test_no_matching_artifacts_fails_upload(tmp_path: Path, runner_home: Path) -> None:
    """Decision 6."""
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          build:
            commands: [echo hi]
        artifacts:
          files: ["nothing/**/*"]
    """,
    )
    result = build(root, runner_home)
    upload = next(p for p in result.phases if p.name == "UPLOAD_ARTIFACTS")
    assert upload.status == "FAILED"
    assert upload.context[0] == {"status_code": "CLIENT_ERROR", "message": "no matching artifact paths found"}
    assert result.status == "FAILED"


def test_variables_are_literal_and_overrides_win(tmp_path: Path, runner_home: Path) -> None:
    """Decision 7: override > project > buildspec; no expansion."""
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        env:
          variables:
            LITERAL: "$HOME/x"
            A: buildspec
            B: buildspec
            C: buildspec
        phases:
          build:
            commands:
              - echo "literal=$LITERAL a=$A b=$B c=$C"
    """,
    )
    lines: list[str] = []
    build(root, runner_home, lines, project_env={"B": "project", "C": "project"}, overrides={"C": "override"})
    assert "literal=$HOME/x a=buildspec b=project c=override" in lines


def test_codebuild_variables(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          build:
            commands:
              - env | grep -E '^(CODEBUILD_|AWS_|HOME=)' | sort
    """,
    )
    lines: list[str] = []
    result = build(root, runner_home, lines, project="demo")
    values = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("["))
    assert values["CODEBUILD_BUILD_ID"] == result.id
    assert values["CODEBUILD_BUILD_ID"].startswith("demo:")
    assert values["CODEBUILD_BUILD_NUMBER"] == str(result.number)
    assert values["CODEBUILD_SRC_DIR"].startswith("/codebuild/output/src")
    assert values["CODEBUILD_SRC_DIR"].endswith("/src")
    assert values["AWS_REGION"] == values["AWS_DEFAULT_REGION"] == "us-east-1"
    assert values["HOME"] == "/root"
    assert len(values["CODEBUILD_START_TIME"]) == 13


def test_install_changes_outside_the_workspace_reach_build(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          install:
            commands:
              - printf '#!/bin/sh\\necho tool-ran\\n' > /usr/local/bin/mytool
              - chmod +x /usr/local/bin/mytool
              - rm /usr/bin/zip
          build:
            commands:
              - mytool
              - test ! -e /usr/bin/zip && echo zip-gone
    """,
    )
    lines: list[str] = []
    result = build(root, runner_home, lines)
    assert result.status == "SUCCEEDED", lines
    assert "tool-ran" in lines and "zip-gone" in lines


def test_exit_in_a_command_keeps_state_and_finally(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          build:
            commands:
              - X=kept; set -e; false
              - echo never
            finally:
              - echo "finally X=$X"
    """,
    )
    lines: list[str] = []
    result = build(root, runner_home, lines)
    assert phase_statuses(result)["BUILD"] == "FAILED"
    assert "finally X=kept" in lines and "never" not in lines


def test_timeout_gives_timed_out_and_removes_containers(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          build:
            commands: [sleep 30]
    """,
    )
    result = build(root, runner_home, timeout_min=0.05)
    assert result.status == "TIMED_OUT"
    assert phase_statuses(result)["BUILD"] == "TIMED_OUT"


def test_exported_variables_and_artifact_layout(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        env:
          exported-variables: [VERSION]
        phases:
          build:
            commands:
              - mkdir -p out/sub && echo a > out/a.txt && echo b > out/sub/b.txt
              - VERSION=1.2.3
        artifacts:
          files: ['**/*']
          base-directory: out
          secondary-artifacts:
            flat:
              files: ['out/**/*']
              discard-paths: yes
    """,
    )
    out = tmp_path / "artifacts"
    result = build(root, runner_home, artifacts_dir=out)
    assert result.exported_variables == {"VERSION": "1.2.3"}
    assert result.artifacts["artifacts"] == ["a.txt", "sub/b.txt"]
    assert result.artifacts["flat"] == ["a.txt", "b.txt"]
    assert (out / "artifacts.zip").is_file() and (out / "artifacts" / "sub" / "b.txt").read_text() == "b\n"
    assert (out / "flat.zip").is_file() and (out / "flat" / "b.txt").is_file()
