"""Installs the runtimes a buildspec selects where the CodeBuild agent does: in the build
image, at the end of DOWNLOAD_SOURCE, before `Entering phase INSTALL` (CODEBUILD.md 11-15).

The image's own `/codebuild/image/config/runtimes.yml` says what it has (ours or a real
CodeBuild image). The selected versions' commands run in one shell, as a phase does, so
what they export (JAVA_HOME, PATH…) carries into every phase through the shell state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from pathlib import Path

from runner.codebuild import runtimes
from runner.codebuild.buildlog import BuildLog
from runner.codebuild.buildspec import Buildspec, Phase
from runner.codebuild.phase_runner import Deadline, PhaseOutcome, PhaseSetup, StopSignal, run_phase
from runner.codebuild.phases import FAILED, SUCCEEDED
from runner.errors import PhaseError


@dataclass(frozen=True, slots=True)
class Installed:
    image: str  # what INSTALL starts from: a snapshot when the commands changed files
    state_dir: str | None  # the shell state they left; None when nothing ran


class InstallFailed(PhaseError):
    """A runtime's command failed (or the build was stopped or timed out meanwhile)."""

    def __init__(self, outcome: PhaseOutcome) -> None:
        super().__init__(outcome.message)
        self.status = outcome.status if outcome.status != SUCCEEDED else FAILED
        self.status_code = outcome.status_code


def install(
    spec: Buildspec, setup: PhaseSetup, log: BuildLog, stop: StopSignal, timeout_s: float
) -> Installed:
    install_phase = spec.phase("install")
    requested = install_phase.runtime_versions if install_phase else {}
    if install_phase and requested and not (install_phase.commands or install_phase.finally_commands):
        log.container("No commands found for phase name: install")
    log.container("Processing environment variables")
    if not requested:
        return Installed(setup.image, None)
    data = setup.executor.read_image_file(setup.image, runtimes.RUNTIMES_FILE)
    if data is None:
        log.container(runtimes.SKIP_WARNING)
        return Installed(setup.image, None)
    table = runtimes.parse(data.decode("utf-8", "replace"), setup.image)
    values = {name: runtimes.expand(value, setup.env) for name, value in requested.items()}
    for name, value in values.items():  # all of them first, then their commands (decision 14)
        log.container(runtimes.selecting_line(name, value))
    selections = runtimes.select(table, values, setup.image)
    commands = tuple(command for s in selections for command in s.commands)
    if not commands:
        return Installed(setup.image, None)
    outcome = run_phase(
        Phase("download_source", commands),
        1,
        replace(setup, user=None),  # the agent installs as root; run-as applies to phases
        None,
        {"CODEBUILD_BUILD_SUCCEEDING": "1"},
        log,
        Deadline(time.monotonic() + timeout_s),
        stop,
    )
    if outcome.status != SUCCEEDED:
        raise InstallFailed(outcome)
    # The agent then moves to the source directory: INSTALL starts there whatever they did.
    state = setup.tmp_host / Path(outcome.state_dir).relative_to(setup.tmp_container)
    (state / "cwd").write_text(setup.workdir + "\n")
    return Installed(outcome.image_after, outcome.state_dir)
