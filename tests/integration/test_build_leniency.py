"""Buildspecs as people write them, run as CodeBuild runs them, against a real Docker engine.

CODEBUILD.md decisions 17 (version 0.1), 18-20 (unknown keys, empty phases), 23-24
(variables and absolute paths in artifact and report settings, `dir/*`) and 27 (run-as).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.images.base import BUILD
from tests.integration.helpers import container, output, phase_statuses, run

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("runner-home")


def test_version_01_runs_each_command_in_its_own_shell(tmp_path: Path, home: Path) -> None:
    result, lines = run(
        tmp_path,
        home,
        """
        version: 0.1
        environment_variables:
          plaintext:
            GREETING: hello
        phases:
          build:
            commands:
              - mkdir -p sub && cd sub && pwd | sed 's|.*/||'
              - basename "$PWD"
              - MINE=set; export ALSO=set; echo "$GREETING $MINE $ALSO"
              - echo "mine=${MINE:-unset} also=${ALSO:-unset}"
              - exit 0
              - echo "an exit ends only its own shell"
          post_build:
            commands:
              - echo "post_build in $(basename "$PWD") also=${ALSO:-unset}"
        """,
    )
    assert result.status == "SUCCEEDED", lines
    assert output(lines) == [
        "sub",
        "src",
        "hello set set",
        "mine=unset also=unset",
        "an exit ends only its own shell",
        "post_build in src also=unset",
    ]
    # The log shows the commands as written, not how they are run.
    assert 'Running command basename "$PWD"' in container(lines)


def test_version_01_a_failing_command_fails_the_phase(tmp_path: Path, home: Path) -> None:
    result, lines = run(
        tmp_path,
        home,
        """
        version: 0.1
        phases:
          build:
            commands:
              - "false"
              - echo skipped
        """,
    )
    assert phase_statuses(result)["BUILD"] == "FAILED"
    assert "echo skipped" not in " ".join(output(lines))
    assert (
        "Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing command: false. "
        "Reason: exit status 1"
    ) in container(lines)


def test_commented_out_commands_are_one_empty_command_that_succeeds(tmp_path: Path, home: Path) -> None:
    """Decision 20, as observed on CodeBuild: `Running command ` and SUCCEEDED."""
    result, lines = run(
        tmp_path,
        home,
        """
        version: 0.2
        phases:
          pre_build:
            commands:
              # - npm ci
          build:
            Commands:
              - echo never
            commands:
              - echo built
        """,
    )
    assert result.status == "SUCCEEDED", lines
    said = container(lines)
    at = said.index("Entering phase PRE_BUILD")
    assert said[at + 1 : at + 3] == ["Running command ", "Phase complete: PRE_BUILD State: SUCCEEDED"]
    assert output(lines) == ["built"]


def test_variables_and_absolute_base_directories_in_artifacts_and_reports(tmp_path: Path, home: Path) -> None:
    """Decision 23: paths expand from the final shell state (exported or not); an absolute
    base-directory is read from the build container; `dir/*` takes no sub-directory."""
    out = tmp_path / "out"
    reports = tmp_path / "reports"
    junit = (
        '<testsuite name="s" tests="2"><testcase name="a"/>'
        '<testcase name="b"><failure/></testcase></testsuite>'
    )
    result, lines = run(
        tmp_path,
        home,
        f"""
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p target/classes /tmp/testArtifacts/nested /tmp/reports
              - echo jar > target/app-1.2.jar && echo class > target/classes/A.class
              - echo a > /tmp/testArtifacts/a.txt && echo b > /tmp/testArtifacts/nested/b.txt
              - ln -s /etc/passwd /tmp/testArtifacts/passwd
              - echo '{junit}' > /tmp/reports/junit.xml
              - VERSION=1.2; export OUT_DIR=target; export REPORT_DIR=/tmp/reports
        reports:
          unit:
            files: ['*.xml']
            base-directory: $REPORT_DIR
        artifacts:
          files:
            - ${{OUT_DIR}}/app-$VERSION.jar
            - $OUT_DIR/*
          name: app-$VERSION-$(echo evaluated)
          secondary-artifacts:
            container:
              files: ['**/*']
              base-directory: /tmp/testArtifacts
        """,
        artifacts_dir=out,
        reports_dir=reports,
    )
    assert phase_statuses(result)["UPLOAD_ARTIFACTS"] == "SUCCEEDED", lines
    assert result.artifacts == {
        "artifacts": ["target/app-1.2.jar"],  # target/* is not target/classes/A.class
        "container": ["a.txt", "nested/b.txt"],  # the link out of the directory is dropped
    }
    assert (out / "container" / "nested" / "b.txt").read_text() == "b\n"
    said = container(lines)
    assert "Updating artifact name as app-1.2-evaluated" in said
    assert any(
        line.startswith("Skipping 1 path(s) of /tmp/testArtifacts that point outside it") for line in said
    )
    (report,) = result.reports
    assert (report.status, report.total, report.failed, report.files) == (
        "FAILED",
        2,
        1,
        ("/tmp/reports/junit.xml",),
    )
    assert (reports / "test-unit" / "junit.xml").is_file()


def test_a_variable_that_makes_a_pattern_absolute_is_refused_naming_it(tmp_path: Path, home: Path) -> None:
    result, lines = run(
        tmp_path,
        home,
        """
        version: 0.2
        phases:
          build:
            commands: ["echo hi"]
        artifacts:
          files: [$NOT_SET/app.jar]
        """,
        artifacts_dir=tmp_path / "out",
    )
    assert phase_statuses(result)["UPLOAD_ARTIFACTS"] == "FAILED"
    assert (
        "Phase context status code: CLIENT_ERROR Message: files: '$NOT_SET/app.jar' expands to '/app.jar', "
        "an absolute path ($NOT_SET is unset); set base-directory: $NOT_SET instead"
    ) in container(lines)


def test_a_missing_base_directory_is_codebuilds_message(tmp_path: Path, home: Path) -> None:
    result, lines = run(
        tmp_path,
        home,
        """
        version: 0.2
        phases:
          build:
            commands: ["echo hi"]
        artifacts:
          files: ['**/*']
          base-directory: /tmp/never-made
        """,
        artifacts_dir=tmp_path / "out",
    )
    assert phase_statuses(result)["UPLOAD_ARTIFACTS"] == "FAILED"
    assert (
        "Phase context status code: CLIENT_ERROR Message: no matching base directory path found for "
        "/tmp/never-made"
    ) in container(lines)


def test_run_as_a_user_the_image_lacks_fails_that_phase_with_one_line(tmp_path: Path, home: Path) -> None:
    """Decision 27: the phase fails (FAILED, not an engine FAULT); a BUILD failure still
    runs POST_BUILD as root."""
    result, lines = run(
        tmp_path,
        home,
        """
        version: 0.2
        phases:
          build:
            run-as: ci-builder
            commands: ["echo never"]
          post_build:
            commands: ["echo post_build as $(whoami)"]
        """,
    )
    statuses = phase_statuses(result)
    assert (statuses["BUILD"], statuses["POST_BUILD"], result.status) == ("FAILED", "SUCCEEDED", "FAILED")
    assert (
        "Phase context status code: CLIENT_ERROR Message: run-as: user ci-builder does not exist in the "
        f"build image {BUILD}; create it in the image (RUN useradd ci-builder) or use an image that has it"
    ) in container(lines)
    assert output(lines) == ["post_build as root"]
