"""The phase loop (runner/codebuild/phase_runner.py) driven through a fake executor: its
containers are host processes, so the loop's own logic runs without Docker."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import cast

from runner.codebuild.buildlog import BuildLog
from runner.codebuild.buildspec import Phase
from runner.codebuild.phase_runner import Deadline, PhaseSetup, StopSignal, run_phase, wait_for_removals
from runner.codebuild.phases import FAILED
from runner.core.secrets import Masker
from runner.store import Store
from tests.unit.process_executor import ProcessExecutor


class MemoryLog(BuildLog):
    """The build log, kept in a list instead of the store."""

    def __init__(self) -> None:
        super().__init__(cast(Store, None), "build", Masker([]))
        self.lines: list[str] = []

    def flush(self) -> None:
        self.lines += [line for _at, line in self.pending]
        self.pending = []


def _setup(tmp_path: Path, executor: ProcessExecutor) -> PhaseSetup:
    (tmp_path / "src").mkdir()
    (tmp_path / "tmp" / "state").mkdir(parents=True)
    return PhaseSetup(
        executor=executor,
        image="no-image",
        env={"PATH": os.environ["PATH"]},
        mounts=(),
        workdir=str(tmp_path / "src"),
        user=None,
        privileged=False,
        labels={},
        shell="sh",
        tmp_host=tmp_path / "tmp",
        tmp_container=str(tmp_path / "tmp"),  # a host process: container paths are host paths
        nonce="fake0nonce",
        snapshot_ref="unused",
        snapshot_labels={},
    )


def test_a_phase_goes_through_the_executor_and_continues_after_exit(tmp_path: Path) -> None:
    executor = ProcessExecutor()
    setup = _setup(tmp_path, executor)
    phase = Phase(
        "build",
        (
            "GREETING=hello; cd ..",
            "exit 0",
            'echo "$GREETING from $(basename "$PWD")"',
            "exit 3",
            "echo skipped",
        ),
        finally_commands=("echo finally",),
    )
    log = MemoryLog()

    outcome = run_phase(phase, 1, setup, None, {}, log, Deadline(time.monotonic() + 60), StopSignal())

    assert (outcome.status, outcome.exit_code) == (FAILED, 3)
    assert outcome.message == "Error while executing command: exit 3. Reason: exit status 3"
    output = [line for line in log.lines if not line.startswith("[Container]")]
    # `exit 0` ended the first shell: the rest ran in a fresh one from the state it left
    # (variable and directory kept); `exit 3` skipped the last command, not `finally`.
    assert output == [f"hello from {tmp_path.name}", "finally"]
    assert len(executor.started) == 3
    first = executor.started[0].request
    assert first.command == ["/bin/sh", first.files[0].path]
    assert {f.path.rpartition("/")[2] for f in first.files[1:]} == {f"build-1-c{i}.sh" for i in range(5)} | {
        "build-1-f0.sh"
    }
    wait_for_removals()
    assert all(run.removed for run in executor.started)
