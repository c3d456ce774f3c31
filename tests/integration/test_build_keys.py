"""Every buildspec key and the command/phase semantics, against a real Docker engine.

CODEBUILD.md decisions 1-5 and 9 beyond tests/integration/test_build_engine.py:
run-as (top level and per phase), env (secrets, exported-variables,
git-credential-helper), proxy, batch, runtime-versions, on-failure forms, and how
a command's status is decided.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.codebuild.build import RUNTIME_WARNING
from runner.errors import ConfigError
from runner.store import open_store
from tests.integration.helpers import container, output, phase_statuses, run

pytestmark = pytest.mark.docker


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One runner home for the module: builds share the store (numbers keep counting)."""
    yield tmp_path_factory.mktemp("runner-home")


def test_run_as_top_level_and_per_phase_with_state_across_users(tmp_path: Path, home: Path) -> None:
    result, lines = run(
        tmp_path,
        home,
        """
        version: 0.2
        run-as: builder
        phases:
          install:
            run-as: root
            commands:
              - useradd --create-home builder
              - echo "install as $(whoami)"
              - PLAIN=from-root; export EXPORTED=also; mkdir -p sub && cd sub
          build:
            commands:
              - echo "build as $(whoami) plain=$PLAIN exported=$EXPORTED in $(basename $PWD)"
              - touch "$CODEBUILD_SRC_DIR/made-by-builder" && stat -c %U "$CODEBUILD_SRC_DIR/made-by-builder"
          post_build:
            run-as: root
            commands:
              - echo "post_build as $(whoami) plain=$PLAIN"
        """,
    )
    assert result.status == "SUCCEEDED", lines
    assert output(lines) == [
        "install as root",
        "build as builder plain=from-root exported=also in sub",
        "builder",
        "post_build as root plain=from-root",
    ]


def test_secrets_and_exported_variables(tmp_path: Path, home: Path) -> None:
    secrets = tmp_path / "secrets.yml"
    secrets.write_text(
        "parameter-store:\n  /app/db/password: pw-Q7Zk\n"
        "secrets-manager:\n  prod/db: {username: admin-U8, password: sm-P4ss}\n"
        '  "arn:aws:secretsmanager:us-east-1:123456789012:secret:tok-AbCdEf": \'{"token": "tk-5150"}\'\n'
    )
    result, lines = run(
        tmp_path,
        home,
        """
        version: 0.2
        env:
          variables:
            PLAIN: "$HOME literal"
          parameter-store:
            DB_PW: /app/db/password
          secrets-manager:
            DB_USER: prod/db:username
            DB_ALL: prod/db
            TOKEN: arn:aws:secretsmanager:us-east-1:123456789012:secret:tok-AbCdEf:token:AWSCURRENT
          exported-variables: [VERSION, PLAIN, TOKEN, NEVER_SET]
        phases:
          build:
            commands:
              - '[ "$DB_PW" = pw-Q7Zk ] && [ "$DB_USER" = admin-U8 ] && echo values-ok'
              - '[ "$TOKEN" = tk-5150 ] && echo token-ok'
              - 'echo "$DB_ALL" | grep -q "\\"password\\":\\"sm-P4ss\\"" && echo json-ok'
              - VERSION=1.0
          post_build:
            commands:
              - VERSION="$VERSION.1"
        """,
        secrets_file=secrets,
    )
    assert result.status == "SUCCEEDED", lines
    assert output(lines) == ["values-ok", "token-ok", "json-ok"]
    # Final values at the end of post_build; a secret stays masked; unset names are absent.
    assert result.exported_variables == {"VERSION": "1.0.1", "PLAIN": "$HOME literal", "TOKEN": "***"}


def test_accepted_keys_are_noted_and_the_phases_run(tmp_path: Path, home: Path) -> None:
    result, lines = run(
        tmp_path,
        home,
        """
        version: 0.2
        env:
          shell: bash
          git-credential-helper: yes
        proxy:
          upload-artifacts: yes
          logs: no
        batch:
          fast-fail: true
          build-list:
            - identifier: linux
              env:
                variables: {TARGET: linux}
            - identifier: mac
              ignore-failure: true
        phases:
          install:
            runtime-versions:
              python: 3.11
              nodejs: latest
            commands:
              - echo "installed with $BASH_VERSION" | cut -c1-16
          build:
            commands: ["echo built"]
        artifacts:
          files: [buildspec.yml]
          name: app-$(date +%Y)
          s3-prefix: builds
        x-unknown: 1
        """,
    )
    assert result.status == "SUCCEEDED", lines
    said = container(lines)
    buildspec = tmp_path / "src" / "buildspec.yml"
    line = buildspec.read_text().splitlines().index("x-unknown: 1") + 1
    assert (
        f"Warning: {buildspec}:{line}:1: x-unknown: In the section (top level), "
        "the following keys cannot be identified: x-unknown"
    ) in said
    # CodeBuild's own block follows `YAML location is` (decision 18).
    at = said.index(f"YAML location is {buildspec}")
    assert said[at + 1 : at + 5] == [
        "Found possible syntax errors in buildspec: ",
        "In the section (top level)",
        "    The following keys cannot be identified:",
        "        x-unknown",
    ]
    assert (
        "Warning: batch: a plain build runs the buildspec's phases once and ignores batch, as CodeBuild's "
        "start-build does; `runner build --batch` runs the batch"
    ) in said
    assert any(line.startswith("Warning: env.git-credential-helper: yes is recorded") for line in said)
    assert (
        "Warning: artifacts: name and s3-prefix only apply to S3 uploads; written locally as artifacts.zip"
        in said
    )
    assert RUNTIME_WARNING in said
    assert RUNTIME_WARNING == (
        "Skipping install of runtimes. Runtime version selection is not supported by this build image."
    )
    assert output(lines) == ["installed with 5", "built"]


def test_invalid_buildspec_fails_before_anything_is_recorded(tmp_path: Path, home: Path) -> None:
    before = len(open_store(home).query("SELECT id FROM builds"))
    with pytest.raises(ConfigError) as info:
        run(tmp_path, home, "version: 0.2\nphases:\n  build:\n    commands: [echo]\n  deploy: {}\n")
    assert str(info.value).endswith(
        "buildspec.yml:5:3: phases.deploy: Invalid buildspec phase name: deploy. "
        "Expecting: build,install,post_build,pre_build"
    )
    assert len(open_store(home).query("SELECT id FROM builds")) == before


def test_pre_build_failure_skips_to_finalizing(tmp_path: Path, home: Path) -> None:
    """Decision 4."""
    result, lines = run(
        tmp_path,
        home,
        """
        version: 0.2
        phases:
          pre_build:
            commands: ["exit 5"]
          build:
            commands: [echo never]
          post_build:
            commands: [echo never]
        artifacts:
          files: [buildspec.yml]
        """,
    )
    assert list(phase_statuses(result)) == [
        "SUBMITTED",
        "PROVISIONING",
        "DOWNLOAD_SOURCE",
        "INSTALL",
        "PRE_BUILD",
        "FINALIZING",
    ]
    assert phase_statuses(result)["PRE_BUILD"] == "FAILED" and result.status == "FAILED"
    assert "never" not in lines


def test_post_build_failure_still_uploads_artifacts(tmp_path: Path, home: Path) -> None:
    result, _ = run(
        tmp_path,
        home,
        """
        version: 0.2
        phases:
          build:
            commands: [echo a > a.txt]
          post_build:
            commands: ["false"]
        artifacts:
          files: [a.txt]
        """,
        artifacts_dir=tmp_path / "out",
    )
    assert phase_statuses(result)["POST_BUILD"] == "FAILED"
    assert phase_statuses(result)["UPLOAD_ARTIFACTS"] == "SUCCEEDED"
    assert (tmp_path / "out" / "artifacts" / "a.txt").read_text() == "a\n"
    assert result.status == "FAILED"


def test_on_failure_abort_goes_straight_to_finalizing(tmp_path: Path, home: Path) -> None:
    """Decision 5: ABORT skips post_build and the artifact upload."""
    result, lines = run(
        tmp_path,
        home,
        """
        version: 0.2
        phases:
          build:
            on-failure: ABORT
            commands: ["false"]
            finally: [echo finally-still-runs]
          post_build:
            commands: [echo never]
        artifacts:
          files: [buildspec.yml]
        """,
    )
    statuses = phase_statuses(result)
    assert (
        statuses["BUILD"] == "FAILED" and "POST_BUILD" not in statuses and "UPLOAD_ARTIFACTS" not in statuses
    )
    assert output(lines) == ["finally-still-runs"]
    assert result.status == "FAILED"


def test_retry_forms(tmp_path: Path, home: Path) -> None:
    """RETRY (3 by default), RETRY-<count>-<regex> matching, RETRY-<regex> not matching."""
    result, lines = run(
        tmp_path,
        home,
        """
        version: 0.2
        phases:
          install:
            on-failure: RETRY
            commands:
              - echo x >> $CODEBUILD_SRC_DIR/attempts; test $(wc -l < $CODEBUILD_SRC_DIR/attempts) -ge 4
          pre_build:
            on-failure: RETRY-1-exit status 4$
            commands: ["exit 4"]
        """,
    )
    said = container(lines)
    assert said.count("Retrying phase INSTALL (attempt 2)") == 1
    assert said.count("Retrying phase INSTALL (attempt 4)") == 1
    assert said.count("Retrying phase PRE_BUILD (attempt 2)") == 1
    assert not any("PRE_BUILD (attempt 3)" in line for line in said)
    attempts = [(p.name, p.status, p.retried) for p in result.phases if p.name in ("INSTALL", "PRE_BUILD")]
    assert attempts == [("INSTALL", "FAILED", True)] * 3 + [
        ("INSTALL", "SUCCEEDED", False),
        ("PRE_BUILD", "FAILED", True),
        ("PRE_BUILD", "FAILED", False),
    ]
    assert result.status == "FAILED"

    result, lines = run(
        tmp_path / "2",
        home,
        """
        version: 0.2
        phases:
          build:
            on-failure: RETRY-no such message
            commands: ["false"]
          post_build:
            commands: [echo post-build-ran]
        """,
    )
    assert not any("Retrying" in line for line in lines)
    assert phase_statuses(result)["BUILD"] == "FAILED" and "post-build-ran" in output(lines)


def test_command_status_rules(tmp_path: Path, home: Path) -> None:
    """A `- |` block is one command (its last line's status); `false | true` succeeds under
    sh; `exit 0` goes on with the next command (fresh container, same state); a syntax
    error fails that command only."""
    result, lines = run(
        tmp_path,
        home,
        """
        version: 0.2
        phases:
          build:
            commands:
              - |
                false
                echo block-ends-well
              - false | true
              - X=before-exit; exit 0
              - echo "after exit X=$X"
              - "if then fi"
              - echo never
            finally:
              - echo "finally X=$X"
          post_build:
            commands:
              - |
                echo post-block
                false
              - echo never
        """,
    )
    assert output(lines) == [
        "block-ends-well",
        "after exit X=before-exit",
        # dash stops at a syntax error: the runner goes on (finally) in a fresh container
        "/codebuild/output/tmp/build-1-2.sh: 1: /codebuild/output/tmp/cmd/build-1-c4.sh: "
        'Syntax error: "then" unexpected',
        "finally X=before-exit",
        "post-block",
    ]
    said = container(lines)
    assert "Running command false\necho block-ends-well\n" in said
    assert any(line.startswith("Command did not exit successfully if then fi exit status 2") for line in said)
    build_phase = next(p for p in result.phases if p.name == "BUILD")
    assert (
        build_phase.context[0]["message"]
        == "Error while executing command: if then fi. Reason: exit status 2"
    )
    post = next(p for p in result.phases if p.name == "POST_BUILD")
    assert (
        post.context[0]["message"]
        == "Error while executing command: echo post-block\nfalse\n. Reason: exit status 1"
    )
