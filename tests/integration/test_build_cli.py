"""`runner build` as a user runs it (a subprocess): exit codes, --json, -e/--env, -m,
Ctrl-C, `runner stop`, --timeout, a killed runner, and `runner debug`."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.ci import LONGEST_WAIT_S
from tests.integration.helpers import write_project

pytestmark = pytest.mark.docker

SLEEPER = """
version: 0.2
phases:
  build:
    commands:
      - echo started
      - sleep 60
"""


def runner(*args: str, stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=timeout,
        env=dict(os.environ),  # RUNNER_HOME (runner_home fixture) and RUNNER_LABELS
    )


class Background:
    """`runner build` running in the background; its output lines arrive in a queue."""

    def __init__(self, *args: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "runner", "build", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=dict(os.environ),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if line == text:
                return
        self.process.kill()
        self.finish()
        raise AssertionError(f"{text!r} never came: {self.seen}")

    def finish(self, timeout: float = 60) -> tuple[int, list[str]]:
        code = self.process.wait(timeout=timeout)
        self.reader.join(timeout=10)  # it ends with the pipe
        assert self.process.stdout is not None
        self.process.stdout.close()
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return code, self.seen


def history() -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = json.loads(runner("history", "--json").stdout)
    return found


def containers_of(build_id: str) -> list[str]:
    out = subprocess.run(
        ["docker", "ps", "-a", "-q", "--filter", f"label=runner.build={build_id}"],
        capture_output=True,
        text=True,
    ).stdout
    return out.split()


def test_exit_codes_and_json_shape(tmp_path: Path, runner_home: Path) -> None:
    ok = write_project(
        tmp_path / "ok",
        """
        version: 0.2
        env:
          exported-variables: [OUT]
        phases:
          build:
            commands: [OUT=value, echo x > x.txt]
        artifacts:
          files: [x.txt]
          secondary-artifacts:
            again: {files: [x.txt]}
        """,
    )
    done = runner("build", "-s", str(ok), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # stdout is the JSON object alone; the log went to stderr
    assert set(result) == {
        "id",
        "number",
        "status",
        "phases",
        "exported_variables",
        "artifacts",
        "reports",
        "secondary_sources",
    }
    assert result["status"] == "SUCCEEDED" and result["id"].startswith("ok:") and result["number"] == 1
    assert [p["name"] for p in result["phases"]] == [
        "SUBMITTED",
        "PROVISIONING",
        "DOWNLOAD_SOURCE",
        "INSTALL",
        "PRE_BUILD",
        "BUILD",
        "POST_BUILD",
        "UPLOAD_ARTIFACTS",
        "FINALIZING",
    ]
    for phase in result["phases"]:
        assert {"name", "status", "duration_s", "context"} <= set(phase)
        assert isinstance(phase["duration_s"], float) and isinstance(phase["context"], str)
    assert result["exported_variables"] == {"OUT": "value"}
    assert result["artifacts"] == {"primary": ["x.txt"], "secondary": {"again": ["x.txt"]}}
    assert result["reports"] == [] and result["secondary_sources"] == {}
    assert "Phase complete: BUILD State: SUCCEEDED" in done.stderr

    failing = write_project(
        tmp_path / "failing", "version: 0.2\nphases:\n  build:\n    commands: ['false']\n"
    )
    failed = runner("build", "-s", str(failing), "--json")
    assert failed.returncode == 1 and json.loads(failed.stdout)["status"] == "FAILED"

    bad = write_project(
        tmp_path / "bad", "version: 0.2\nphases:\n  build:\n    commands:\n      - echo a: b\n"
    )
    refused = runner("build", "-s", str(bad), "--json")
    assert refused.returncode == 2 and refused.stdout == ""
    assert refused.stderr.endswith(
        "buildspec.yml:5:9: phases.build.commands[0]: expected a string, got a mapping "
        "(a command with ': ' in it must be quoted)\n"
    )
    assert len(refused.stderr.splitlines()) == 1
    assert runner("build", "-s", str(tmp_path / "missing")).returncode == 2
    assert runner("build", "-s", str(ok), "--env", "NOT-AN-ASSIGNMENT").returncode == 2
    assert [b["status"] for b in history()] == ["FAILED", "SUCCEEDED"]  # a refused build is not recorded


def test_validate_warns_on_unknown_keys_and_refuses_malformed_values(tmp_path: Path) -> None:
    """Decisions 9 and 18: unknown keys are a warning with file:line:col; malformed values exit 2."""
    good = tmp_path / "buildspec.yml"
    good.write_text("version: 0.2\nreport-groups: {}\nphases:\n  build:\n    commands: [make]\n")
    checked = runner("validate", str(good))
    assert checked.returncode == 0 and checked.stdout == f"{good}: ok\n"
    assert checked.stderr == (
        f"warning: {good}:2:1: report-groups: In the section (top level), "
        "the following keys cannot be identified: report-groups (did you mean reports?)\n"
    )
    bad = tmp_path / "bad.yml"
    bad.write_text("version: 0.2\nphases:\n  build:\n    on-failure: SOMETIMES\n    commands: [make]\n")
    refused = runner("validate", str(bad))
    assert refused.returncode == 2
    assert refused.stderr.startswith(
        f"runner: error: {bad}:4:17: phases.build.on-failure: expected ABORT, CONTINUE"
    )


def test_env_file_and_env_flags_override_the_buildspec(tmp_path: Path, runner_home: Path) -> None:
    """Decision 7 through the CLI: --env > -e FILE > buildspec; quotes kept literally."""
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        env:
          variables: {A: buildspec, B: buildspec, C: buildspec}
        phases:
          build:
            commands: ['echo "A=$A B=$B C=$C D=$D"']
        """,
    )
    env_file = tmp_path / "build.env"
    env_file.write_text('# local overrides\nB="from file"\nC=from-file\n\nD=$HOME\n')
    done = runner("build", "-s", str(root), "-e", str(env_file), "--env", "C=from-flag")
    assert done.returncode == 0, done.stderr
    assert 'A=buildspec B="from file" C=from-flag D=$HOME' in done.stdout.splitlines()


def test_mount_source_instead_of_copying(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          build:
            commands:
              - cat input.txt
              - echo "written by the build" > output.txt
        """,
        {"input.txt": "from the host\n"},
    )
    copied = runner("build", "-s", str(root))
    assert copied.returncode == 0 and not (root / "output.txt").exists()
    mounted = runner("build", "-s", str(root), "-m")
    assert mounted.returncode == 0, mounted.stderr
    assert "from the host" in mounted.stdout.splitlines()
    assert (root / "output.txt").read_text() == "written by the build\n"


def test_ctrl_c_stops_the_build_and_its_container(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(tmp_path / "src", SLEEPER)
    running = Background("-s", str(root))
    running.wait_for("started")
    build_id = history()[0]["id"]
    assert len(containers_of(build_id)) == 1
    running.process.send_signal(signal.SIGINT)
    code, lines = running.finish()
    assert code == 130
    assert "runner: interrupted" in lines
    assert any(line.endswith("Phase complete: BUILD State: STOPPED") for line in lines)
    assert history()[0]["status"] == "STOPPED"
    assert containers_of(build_id) == []


def test_runner_stop_from_another_process(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(tmp_path / "src", SLEEPER)
    running = Background("-s", str(root))
    running.wait_for("started")
    build_id = history()[0]["id"]
    stopped = runner("stop", build_id)
    assert stopped.returncode == 0 and f"stop requested for build {build_id}" in stopped.stderr
    code, lines = running.finish()
    assert code == 1
    assert any(
        line.endswith("Phase context status code: BUILD_STOPPED Message: Build was stopped") for line in lines
    )
    assert history()[0]["status"] == "STOPPED"
    assert containers_of(build_id) == []
    assert "already ended: STOPPED" in runner("stop", build_id).stderr


def test_timeout_flag(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(tmp_path / "src", SLEEPER)
    done = runner("build", "-s", str(root), "--timeout", "0.03", "--json")
    assert done.returncode == 1
    result = json.loads(done.stdout)
    assert result["status"] == "TIMED_OUT"
    assert next(p for p in result["phases"] if p["name"] == "BUILD")["context"] == "Build timed out"
    assert containers_of(result["id"]) == []


def test_a_killed_runner_is_repaired_by_the_next_build(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(tmp_path / "src", SLEEPER)
    running = Background("-s", str(root))
    running.wait_for("started")
    build_id = history()[0]["id"]
    running.process.kill()  # kill -9: no cleanup at all
    running.finish()
    assert len(containers_of(build_id)) == 1  # the orphan is still running
    quick = write_project(tmp_path / "quick", "version: 0.2\nphases:\n  build:\n    commands: [echo ok]\n")
    after = runner("build", "-s", str(quick))
    assert after.returncode == 0
    orphan_line = next(
        line for line in after.stderr.splitlines() if line.startswith("removed orphan container")
    )
    assert orphan_line.endswith(f"of build {build_id}")
    assert f"build {build_id} was interrupted: recorded as FAULT" in after.stderr
    assert containers_of(build_id) == []
    killed = next(b for b in history() if b["id"] == build_id)
    assert killed["status"] == "FAULT"
    logs = runner("logs", build_id).stdout.splitlines()
    assert "started" in logs and any(line.endswith("Running command sleep 60") for line in logs)


def test_debug_opens_a_shell_in_the_state_the_phase_started_with(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        env:
          variables: {FROM_SPEC: spec-value}
          parameter-store: {DB_PW: /app/pw}
        phases:
          install:
            commands:
              - mkdir -p deep/er && cd deep/er
              - PLAIN=plain-value; export EXPORTED=exported-value
              - printf '#!/bin/sh\\necho tool-output\\n' > /usr/local/bin/tool && chmod +x /usr/local/bin/tool
          build:
            commands:
              - cd /tmp; PLAIN=changed-by-build
              - "false"
        """,
    )
    (tmp_path / "secrets.yml").write_text("parameter-store: {/app/pw: debug-pw-31}\n")
    done = runner("build", "-s", str(root), "--secrets", str(tmp_path / "secrets.yml"), "--json")
    build_id = json.loads(done.stdout)["id"]
    session = runner(
        "debug",
        build_id,
        "--phase",
        "build",
        stdin='echo "cwd=$PWD"\necho "plain=$PLAIN exported=$EXPORTED spec=$FROM_SPEC pw=$DB_PW"\n'
        'echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING id=$CODEBUILD_BUILD_ID"\ntool\nexit 0\n',
    )
    assert session.returncode == 0, session.stderr
    assert session.stdout.splitlines() == [
        f"cwd=/codebuild/output/{src_dir(runner_home, build_id)}/src/deep/er",
        # The secret comes again from the secrets file: the debug record holds no value.
        "plain=plain-value exported=exported-value spec=spec-value pw=debug-pw-31",
        f"succeeding=1 id={build_id}",
        "tool-output",
    ]
    assert f"debugging {build_id} at the start of BUILD" in session.stderr
    assert containers_of(build_id) == []


def src_dir(home: Path, build_id: str) -> str:
    output = home / "work" / build_id.rpartition(":")[2] / "output"
    return next(p.name for p in output.iterdir() if p.name.startswith("src"))


@pytest.mark.slow
def test_packages_installed_in_install_are_there_in_build(tmp_path: Path, runner_home: Path) -> None:
    """Issue 3's Done means: install runs apt-get (containers reach the Debian mirror)."""
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          install:
            commands:
              - apt-get update -qq && apt-get install -y -qq --no-install-recommends jq > /dev/null
          build:
            commands:
              - "echo '{\\"version\\": {\\"major\\": 4}}' | jq .version.major"
        """,
    )
    done = runner("build", "-s", str(root), timeout=LONGEST_WAIT_S)
    assert done.returncode == 0, done.stdout[-2000:]
    assert "4" in done.stdout.splitlines()
