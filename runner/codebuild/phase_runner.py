"""Runs one buildspec phase in fresh containers and returns its outcome as data.

Normally a phase is one container. If the shell ends early (a command ran `exit`,
or `set -e` stopped it), what is left of the phase (the remaining commands after a
successful exit, or `finally` after a failure) continues in a fresh container from
the state the shell left, exactly as it would have continued in CodeBuild's one shell.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from runner.adapters.executor import Executor, File, Mount, Running, RunOutcome, RunRequest
from runner.codebuild.buildlog import BuildLog
from runner.codebuild.buildspec import Phase
from runner.codebuild.phase_ahead import Ahead, Gate
from runner.codebuild.phases import FAILED, FAULT, STOPPED, SUCCEEDED, TIMED_OUT
from runner.codebuild.shell import (
    COMMANDS,
    FINALLY,
    Item,
    Marker,
    MarkerSplitter,
    StateSaving,
    phase_script,
    shell_binary,
)
from runner.errors import EngineError


@dataclass(frozen=True, slots=True)
class PhaseSetup:
    """Everything a phase needs from its build: plain values, and where its containers run."""

    executor: Executor
    image: str
    env: dict[str, str]
    mounts: tuple[Mount, ...]
    workdir: str
    user: str | None
    privileged: bool
    labels: dict[str, str]
    shell: str
    tmp_host: Path
    tmp_container: str
    nonce: str
    snapshot_ref: str  # repository:tag prefix for committed snapshots
    snapshot_labels: dict[str, str]  # the labels of committed snapshots
    memory: str | None = None
    exported: tuple[str, ...] = ()
    network: str | None = None
    shell_per_command: bool = False  # buildspec 0.1: each command in its own shell instance
    saving: StateSaving = field(default_factory=StateSaving)  # secrets left out of the state, its reader


@dataclass(frozen=True, slots=True)
class PhaseOutcome:
    status: str
    started: float
    ended: float
    image_after: str  # the snapshot the next phase starts from
    state_dir: str  # container path of the shell state this phase left
    status_code: str = ""
    message: str = ""
    exit_code: int = 0
    snapshots: tuple[str, ...] = ()

    @property
    def context(self) -> list[dict[str, str]]:
        return [{"status_code": self.status_code, "message": self.message}]


@dataclass
class _Run:
    """What one container of the phase did, read from its markers."""

    started: list[tuple[str, int]] = field(default_factory=list)
    ended: dict[tuple[str, int], int] = field(default_factory=dict)
    exit_status: int | None = None


class StopSignal:
    """Ctrl-C here (`event`) or `runner stop` from another process (`check`, asked rarely)."""

    def __init__(self, check: Callable[[], bool] = lambda: False) -> None:
        self.event = threading.Event()
        self.check = check

    def requested(self) -> bool:
        return self.event.is_set() or self.check()


class Deadline:
    """Kills the running container when the build's time is up (TIMED_OUT)."""

    def __init__(self, at: float) -> None:
        self.at = at
        self.expired = False

    def remaining(self) -> float:
        return self.at - time.monotonic()


def run_phase(
    phase: Phase,
    attempt: int,
    setup: PhaseSetup,
    state_in: str | None,
    refreshed: dict[str, str],
    log: BuildLog,
    deadline: Deadline,
    stop_requested: StopSignal,
    ahead: Ahead | None = None,
    upcoming: Sequence[tuple[str, RunRequest]] = (),
) -> PhaseOutcome:
    """Run the phase's commands; `upcoming` (the next phases' first containers) are
    prepared by `ahead` once this phase's container runs (runner/codebuild/phase_ahead.py)."""
    started = time.time()
    items = [Item(COMMANDS, i, "") for i in range(len(phase.commands))]
    items += [Item(FINALLY, i, "") for i in range(len(phase.finally_commands))]
    texts = {(COMMANDS, i): c for i, c in enumerate(phase.commands)}
    texts |= {(FINALLY, i): c for i, c in enumerate(phase.finally_commands)}
    base = f"{phase.name}-{attempt}"
    commands = tuple(
        each
        for (section, index), text in texts.items()
        for each in _command_files(setup, f"{base}-{section}{index}.sh", text)
    )
    items = [
        Item(i.section, i.index, f"{setup.tmp_container}/cmd/{base}-{i.section}{i.index}.sh") for i in items
    ]
    image, failure, part = setup.image, None, 0
    snapshots: list[str] = []
    state_dir = state_in
    while items:
        part += 1
        state_out = f"{setup.tmp_container}/state/{base}-{part}"
        script = phase_script(
            setup.shell,
            items,
            state_dir,
            state_out,
            setup.workdir,
            setup.nonce,
            refreshed,
            setup.exported,
            setup.saving,
        )
        script_file = File(f"{setup.tmp_container}/{base}-{part}.sh", script.encode())
        try:
            run, outcome, snapshot = _run_container(
                setup,
                image,
                (script_file, *commands),
                f"{base}-{part}",
                texts,
                log,
                deadline,
                stop_requested,
                (ahead, upcoming),
            )
        except EngineError as e:
            if not setup.user or f"unable to find user {setup.user}:" not in str(e):
                raise
            return _no_such_user(setup, started, image, state_dir or "", tuple(snapshots))
        if snapshot:
            image = snapshot
            snapshots.append(snapshot)
        if run.exit_status is None or outcome.oom_killed:
            # Killed (timeout, stop, OOM, engine trouble), or the kernel's OOM killer took a
            # command while the shell lived on: a FAULT that names memory, not "exit status 137".
            return _abnormal(outcome, deadline, stop_requested, started, image, state_out, snapshots)
        last = run.started[-1] if run.started else None
        if last is not None and last not in run.ended and run.exit_status:
            # `exit N`, `set -e` or a syntax error ended the shell inside this command.
            log.container(f"Command did not exit successfully {texts[last]} exit status {run.exit_status}")
        state_dir = state_out
        failure, items = _progress(run, items, texts, failure)
    status = FAILED if failure else SUCCEEDED
    return PhaseOutcome(
        status,
        started,
        time.time(),
        image,
        state_dir or "",
        "COMMAND_EXECUTION_ERROR" if failure else "",
        failure[0] if failure else "",
        failure[1] if failure else 0,
        tuple(snapshots),
    )


def _command_files(setup: PhaseSetup, name: str, text: str) -> tuple[File, ...]:
    folder = f"{setup.tmp_container}/cmd"
    if not setup.shell_per_command:
        return (File(f"{folder}/{name}", (text + "\n").encode()),)
    # Version 0.1: the phase's shell starts a new shell instance for the command, so
    # no cd, variable or `exit` reaches the next command (AWS build-spec-ref, versions).
    own = File(f"{folder}/own-{name}", (text + "\n").encode())
    return own, File(f"{folder}/{name}", f"{shell_binary(setup.shell)} {own.path}\n".encode())


def _no_such_user(
    setup: PhaseSetup, started: float, image: str, state_dir: str, snapshots: tuple[str, ...]
) -> PhaseOutcome:
    """run-as names a user the image lacks: the phase fails with one line (decision 27)."""
    build_image = setup.env.get("CODEBUILD_BUILD_IMAGE", image)
    message = (  # CodeBuild's own text is unverified
        f"run-as: user {setup.user} does not exist in the build image {build_image}; "
        f"create it in the image (RUN useradd {setup.user}) or use an image that has it"
    )
    return PhaseOutcome(FAILED, started, time.time(), image, state_dir, "CLIENT_ERROR", message, 1, snapshots)


def _progress(
    run: _Run,
    items: list[Item],
    texts: dict[tuple[str, int], str],
    failure: tuple[str, int] | None,
) -> tuple[tuple[str, int] | None, list[Item]]:
    """After a container: the first failure so far, and the items still to run."""
    for key in run.started:
        status = run.ended.get(key, run.exit_status if run.exit_status is not None else 1)
        if status != 0 and failure is None:
            failure = (
                f"Error while executing command: {texts[key]}. Reason: exit status {status}",
                status,
            )
    if not run.started or all(k in run.ended for k in run.started):
        return failure, []  # the script ran to its end
    last = run.started[-1]
    died_status = run.exit_status or 0
    position = next(i for i, item in enumerate(items) if (item.section, item.index) == last)
    rest = items[position + 1 :]
    if died_status != 0:
        # The shell stopped on a failure: skip the remaining commands, keep `finally`
        # (unless it was `finally` itself that failed).
        rest = [i for i in rest if i.section == FINALLY] if last[0] == COMMANDS else []
    return failure, rest


def _run_container(
    setup: PhaseSetup,
    image: str,
    files: tuple[File, ...],
    name: str,
    texts: dict[tuple[str, int], str],
    log: BuildLog,
    deadline: Deadline,
    stop_requested: StopSignal,
    prepare: tuple[Ahead | None, Sequence[tuple[str, RunRequest]]] = (None, ()),
) -> tuple[_Run, RunOutcome, str | None]:
    """One container (its script is `files[0]`): stream and parse its output, then
    snapshot it if it changed files."""
    ahead, upcoming = prepare
    request = replace(container_request(setup, image, files[0].path), files=files)
    taken = ahead.take(name, request) if ahead is not None else None
    gate: Gate | None = None
    container: Running
    if taken is None:
        container = setup.executor.start(request)
    else:
        container, gate = taken
    if ahead is not None:
        ahead.expect(upcoming)  # after our own start: theirs must not delay it
    timer = threading.Timer(max(deadline.remaining(), 0), _expire, (deadline, container))
    timer.daemon = True
    timer.start()
    # `runner stop` kills a build's containers on the engine it reaches; one on another engine
    # is ours to kill when the stop is recorded.
    watching = None if setup.executor.shares_files else _watch_stop(stop_requested, container)
    run = _Run()
    try:
        if stop_requested.requested():
            # `runner stop` kills the containers it finds; one created after it looked is ours to kill.
            container.kill()
        splitter = MarkerSplitter(setup.nonce)
        for chunk in container.output():
            for piece in splitter.feed(chunk.decode("utf-8", "replace")):
                _handle(piece, run, texts, log)
            if stop_requested.event.is_set():
                container.kill()
        for piece in splitter.flush():
            _handle(piece, run, texts, log)
        exit_code = container.wait(timeout_s=60)
        outcome = container.finish(exit_code)
        if setup.memory and not outcome.oom_killed and 137 in (*run.ended.values(), exit_code):
            # Docker records OOMKilled from an asynchronous kernel event, and a later exit
            # event of the shell can reset it; a command SIGKILLed (137) in a memory-limited
            # container is the OOM killer's work unless we killed it (timeout/stop: checked first).
            killed = container.oom_killed_eventually(timeout_s=0.5) or 137 in run.ended.values()
            outcome = replace(outcome, oom_killed=killed)
        snapshot = _commit(container, setup, name) if outcome.changed else None
        return run, outcome, snapshot
    except BaseException:
        container.kill()
        raise
    finally:
        timer.cancel()
        if watching is not None:
            watching.set()
        log.flush()
        if gate is not None:
            gate.close()
        remove_later(container)


def container_request(setup: PhaseSetup, image: str, script: str) -> RunRequest:
    return RunRequest(
        image=image,
        command=[shell_binary(setup.shell), script],
        env=setup.env,
        labels=setup.labels,
        workdir=setup.workdir,
        mounts=setup.mounts,
        user=setup.user,
        privileged=setup.privileged,
        memory=setup.memory,
        network=setup.network,
    )


def first_container(phase: Phase, setup: PhaseSetup) -> tuple[str, RunRequest]:
    """The name and request of a phase's first container (first attempt), as run_phase makes it."""
    name = f"{phase.name}-1-1"
    return name, container_request(setup, setup.image, f"{setup.tmp_container}/{name}.sh")


STOP_POLL_S = 1.0


def _watch_stop(stop_requested: StopSignal, container: Running) -> threading.Event:
    """Kill the container once a stop is recorded (asked every STOP_POLL_S); set the event to end."""
    done = threading.Event()

    def watch() -> None:
        while not done.wait(STOP_POLL_S):
            if stop_requested.requested():
                container.kill()
                return

    threading.Thread(target=watch, daemon=True).start()
    return done


def _expire(deadline: Deadline, container: Running) -> None:
    deadline.expired = True
    container.kill()


def _handle(piece: str | Marker, run: _Run, texts: dict[tuple[str, int], str], log: BuildLog) -> None:
    if isinstance(piece, str):
        log.output(piece)
        return
    key = (piece.section, piece.index)
    if piece.kind == "S":
        run.started.append(key)
        log.container(f"Running command {texts[key]}")
        log.flush()  # a quiet command (sleep, a long compile) must not hold back what came before
    elif piece.kind == "E":
        run.ended[key] = piece.status
        if piece.status != 0:
            log.container(f"Command did not exit successfully {texts[key]} exit status {piece.status}")
    elif piece.kind == "X":
        run.exit_status = piece.status


_removals: list[threading.Thread] = []


def remove_later(container: Running) -> None:
    """Removing a container costs tens of ms: overlap it with the next phase's start."""
    thread = threading.Thread(target=_quiet_remove, args=(container,), daemon=True)
    thread.start()
    _removals.append(thread)


def _quiet_remove(container: Running) -> None:
    try:
        container.remove()
    except EngineError:
        pass  # swept up by the orphan cleanup at the next start


def wait_for_removals() -> None:
    while _removals:
        _removals.pop().join(timeout=30)


def _commit(container: Running, setup: PhaseSetup, suffix: str) -> str:
    """The phase changed files outside the workspace: keep them for the next phase."""
    ref = f"{setup.snapshot_ref}-{suffix}".lower()
    return container.commit(ref, setup.snapshot_labels, blank_env=setup.saving.secrets)


def _abnormal(
    outcome: RunOutcome,
    deadline: Deadline,
    stop_requested: StopSignal,
    started: float,
    image: str,
    state_out: str,
    snapshots: list[str],
) -> PhaseOutcome:
    """The container ended without its shell's exit marker: why, in CodeBuild's words."""
    if deadline.expired:
        status, code, message = TIMED_OUT, "BUILD_TIMED_OUT", "Build timed out"
    elif stop_requested.requested():
        status, code, message = STOPPED, "BUILD_STOPPED", "Build was stopped"
    elif outcome.oom_killed:
        status, code = FAULT, "OUT_OF_MEMORY"
        message = (
            "the build container ran out of memory (OOM-killed): raise the memory limit or use less memory"
        )
    else:
        status, code = FAULT, "CONTAINER_ERROR"
        message = (
            f"the build container ended unexpectedly (exit {outcome.exit_code}"
            f"{': ' + outcome.error if outcome.error else ''})"
        )
    ended = time.time()
    return PhaseOutcome(
        status, started, ended, image, state_out, code, message, outcome.exit_code, tuple(snapshots)
    )
