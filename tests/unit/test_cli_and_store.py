"""The CLI skeleton and the store: exit codes, one-line errors, migrations."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from runner import __version__
from runner.cli import build_parser
from runner.store import open_store
from runner.store.migrations import MIGRATIONS

RUNNER = [sys.executable, "-m", "runner"]


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RUNNER, *args], capture_output=True, text=True, cwd=cwd, env={**os.environ, **(env or {})}
    )


def test_version() -> None:
    result = run("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"runner {__version__}"


def test_history_of_a_new_project_is_an_empty_list(tmp_path: Path) -> None:
    result = run("history", "--json", env={"RUNNER_HOME": str(tmp_path / "home")})
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize("home", ["", "   "])
def test_malformed_runner_home_is_a_one_line_error(home: str) -> None:
    result = run("history", env={"RUNNER_HOME": home})
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "RUNNER_HOME" in result.stderr


def test_runner_home_that_is_a_file(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    result = run("history", env={"RUNNER_HOME": str(blocker)})
    assert result.returncode == 2
    assert result.stderr == f"runner: error: RUNNER_HOME={blocker} exists and is not a directory\n"


def test_unwritable_store_is_a_one_line_error(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / "state.db").mkdir()  # something that cannot be opened as a database, even as root
    result = run("history", env={"RUNNER_HOME": str(home)})
    assert result.returncode == 2
    assert (
        result.stderr.startswith("runner: error: cannot open the state store")
        and result.stderr.count("\n") == 1
    )


def test_usage_errors_exit_2() -> None:
    assert run("no-such-command").returncode == 2
    assert run("logs").returncode == 2


def test_validate_reports_file_line_column(tmp_path: Path) -> None:
    spec = tmp_path / "buildspec.yml"
    spec.write_text("version: 0.2\nphases:\n  build:\n    commands:\n      - echo a: b\n")
    result = run("validate", "buildspec.yml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "runner: error: buildspec.yml:5:9: phases.build.commands[0]: expected a string, got a mapping "
        "(a command with ': ' in it must be quoted)\n"
    )


def test_validate_checks_every_file_and_reports_each(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text("version: 0.2\nphases:\n  build:\n    commands: [make]\n")
    (tmp_path / "warned.yml").write_text("version: 0.2\nphases:\n  build:\n    Commands: [make]\n")
    (tmp_path / "bad.yml").write_text("version: 0.2\nphases:\n  compile:\n    commands: [make]\n")
    result = run("validate", "good.yml", "bad.yml", "missing.yml", "warned.yml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == "good.yml: ok\nwarned.yml: ok\n"
    assert result.stderr == (
        "runner: error: bad.yml:3:3: phases.compile: Invalid buildspec phase name: compile. "
        "Expecting: build,install,post_build,pre_build\n"
        "runner: error: missing.yml: no such file\n"
        "warning: warned.yml:4:5: phases.build.Commands: In the section BUILD, "
        "the following keys cannot be identified: Commands (did you mean commands?)\n"
    )
    assert run("validate", "good.yml", "warned.yml", cwd=tmp_path).returncode == 0


def test_validate_json_keeps_its_contract(tmp_path: Path) -> None:
    (tmp_path / "good.yml").write_text("version: 0.2\nx: 1\nphases:\n  build:\n    commands: [make]\n")
    (tmp_path / "bad.yml").write_text("version: 0.2\nenv:\n  shell: cmd.exe\nphases: {}\n")
    result = run("validate", "--json", "good.yml", "bad.yml", cwd=tmp_path)
    assert result.returncode == 2 and result.stderr == ""
    assert json.loads(result.stdout) == [
        {
            "file": "good.yml",
            "ok": True,
            "errors": [],
            "warnings": [
                "good.yml:2:1: x: In the section (top level), the following keys cannot be identified: x"
            ],
        },
        {
            "file": "bad.yml",
            "ok": False,
            "errors": [
                "bad.yml:3:10: env.shell: cmd.exe is the shell of CodeBuild's Windows images; runner runs "
                "Linux containers only: use bash or /bin/sh, or run this buildspec on CodeBuild"
            ],
            "warnings": [],
        },
    ]
    assert run("validate", "--json", "good.yml", cwd=tmp_path).returncode == 0


def test_migrations_are_applied_once_and_recorded(tmp_path: Path) -> None:
    store = open_store(tmp_path)
    store.close()
    store = open_store(tmp_path)  # a second open applies nothing
    assert store.query("PRAGMA user_version")[0][0] == len(MIGRATIONS)
    assert store.query("PRAGMA journal_mode")[0][0] == "wal"
    assert store.integrity_ok()


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    open_store(tmp_path).close()
    with sqlite3.connect(tmp_path / "state.db") as db:
        db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    result = run("history", env={"RUNNER_HOME": str(tmp_path)})
    assert result.returncode == 2 and "written by a newer runner" in result.stderr


def test_schema_command_prints_the_pipeline_json_schema() -> None:
    result = run("schema")
    schema = json.loads(result.stdout)
    assert schema["title"] == "runner pipeline.yml"
    assert {"app", "services", "environments"} <= set(schema["required"])


def test_validate_checks_appspec_files(tmp_path: Path) -> None:
    spec = tmp_path / "appspec.yml"
    spec.write_text("version: 0.0\nHooks:\n  - Bogus: x\n")
    result = run("validate", "appspec.yml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("runner: error: appspec.yml:3:5: Hooks[0].Bogus: unknown key")


def test_validate_recognises_task_definitions_and_appspecs(tmp_path: Path) -> None:
    files = {
        "taskdef.json": '{"family": "web", "executionRoleArn": "arn:aws:iam::1:role/x",\n'
        ' "containerDefinitions": [{"name": "web", "image": "<IMAGE1_NAME>"}]}\n',
        "task-def-prod.json": '{"containerDefinitions": [{"name": "a", "image": "a",\n "cpu": ${CPU}}]}',
        "appspec.json": '{"version": 1, "Hooks": [{"AfterInstall": "arn:aws:lambda:r:1:function:f"}]}',
        "appspec.yaml": "version: 0.0\nResources:\n  - TargetService:\n      Properties:\n"
        "        LoadBalancerInfo: {ContainerName: web, ContainerPort: ${PORT}}\n",
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    result = run("validate", *files, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout == "taskdef.json: ok\nappspec.json: ok\n"
    render = "render it in the build (envsubst, sed, jq) and list the result in the build's artifacts"
    assert result.stderr.splitlines() == [
        "warning: taskdef.json:1:39: executionRoleArn: accepted, no local meaning: "
        "the containers get no AWS credentials",
        f"runner: error: task-def-prod.json:2:9: a template, not valid JSON until rendered "
        f"(unquoted ${{CPU}}): {render}",
        "warning: appspec.json:1:13: version: AWS documents 0.0; 1 is read as 0.0",
        f"runner: error: appspec.yaml:5:64: a template, not valid YAML until rendered "
        f"(unquoted ${{PORT}}): {render}",
    ]


HEAVY = ("docker", "requests", "git", "rich", "fastapi", "watchdog")


def test_the_command_line_parser_does_not_import_the_heavy_parts() -> None:
    """Building the whole parser imports every command module: docker, git, rich and the web
    framework are imported by the commands that use them, not by `runner history` or the hook."""
    code = "import sys, runner.cli; runner.cli.build_parser(); "
    code += f"print(sorted(set({HEAVY}) & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_the_worker_and_the_unchanged_decision_import_no_heavy_parts() -> None:
    """A cold trigger (the worker taking a commit and deciding what to build) and a fresh
    `runner build SERVICE` with unchanged inputs must start fast: the docker SDK (~100 ms),
    GitPython and rich wait until a container runs or the live view starts. (The decision
    itself, run in a fresh process, is checked in tests/integration/test_service_images.py.)"""
    code = (
        "import sys, runner.cli; runner.cli.build_parser(['worker']); runner.cli.build_parser(['build']); "
        "import runner.commands.worker, runner.commands._service_build, runner.triggers.dispatch, "
        "runner.triggers.post_commit, runner.codepipeline.execution, runner.codepipeline.service_build, "
        "runner.images.inputs, runner.images.tags, runner.codepipeline.recovery, runner.store.queue, "
        "runner.terminal; "
        f"print(sorted(set({HEAVY}) & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_a_command_name_builds_only_that_command_s_parser() -> None:
    parser = build_parser(["history"])
    assert parser.parse_args(["history"]).command == "history"
    with pytest.raises(SystemExit):
        parser.parse_args(["status"])  # not built: `runner status` builds its own
    assert build_parser(["--help"]).parse_args(["status"]).command == "status"
