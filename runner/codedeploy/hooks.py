"""appspec hooks (decision 9): resolve a hook name to a command and run it within its timeout.

A name resolves to `services.<svc>.hooks.<name>` in pipeline.yml, else to an executable
file `<service path>/hooks/<name>` (or `.sh` / `.py`). It runs in a container of the
build image on the environment's network (service directory read-only at /hook), or on
the host when pipeline.yml says `on: host`. Exit 0 within the timeout = Succeeded.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from runner.adapters.docker.executor import DockerExecutor
from runner.adapters.executor import Executor, Mount, RunRequest
from runner.core.config import Service
from runner.errors import UsageError

SUCCEEDED = "Succeeded"
FAILED = "Failed"
MOUNT = "/hook"
TAIL_LINES = 40


@dataclass(frozen=True, slots=True)
class HookPlan:
    """What a hook name resolved to."""

    event: str
    name: str
    argv: tuple[str, ...]
    on: str  # container | host
    origin: str  # where the command came from, for messages


@dataclass(frozen=True, slots=True)
class HookRun:
    """Where and with what a hook runs."""

    build_image: str
    network: str | None  # the platform's hook network (None: the engine's default)
    service_dir: Path
    env: Mapping[str, str]
    host_env: Mapping[str, str]  # the same, with host URLs for `on: host`
    timeout_s: float
    labels: Mapping[str, str] = field(default_factory=dict)
    executor: Executor = field(default_factory=DockerExecutor)  # where `on: container` hooks run


@dataclass(frozen=True, slots=True)
class HookResult:
    event: str
    name: str
    status: str
    exit_code: int | None
    duration_s: float
    output: tuple[str, ...]
    reason: str = ""


def function_name(value: str) -> str:
    """A Lambda hook's function name: `arn:aws:lambda:region:acct:function:NAME[:alias]` → NAME."""
    parts = value.split(":")
    if value.startswith("arn:") and len(parts) > 6 and parts[5] == "function":
        return parts[6]
    return value


def resolve(service: Service, event: str, name: str, source_dir: Path) -> HookPlan:
    """The command of a hook name (or of a Lambda function's name, from its ARN), or UsageError
    naming where it was looked for."""
    short = function_name(name)
    key = name if name in service.hooks else short
    if key in service.hooks:
        hook = service.hooks[key]
        origin = f"pipeline.yml services.{service.name}.hooks" + (f", for {name}" if short != name else "")
        return HookPlan(event, short, ("sh", "-c", hook.command), hook.on, origin)
    directory = source_dir / service.path / "hooks"
    for candidate in (short, f"{short}.sh", f"{short}.py"):
        path = directory / candidate
        if path.is_file():
            origin = f"{service.path}/hooks/{candidate}" + (f", for {name}" if short != name else "")
            return HookPlan(event, short, _file_argv(path, candidate), "container", origin)
    raise UsageError(
        f"appspec hook {event}: {name!r} is neither services.{service.name}.hooks.{short} in pipeline.yml "
        f"nor an executable {service.path}/hooks/{short}[.sh|.py]"
    )


def _file_argv(path: Path, name: str) -> tuple[str, ...]:
    inside = f"{MOUNT}/hooks/{name}"
    if os.access(path, os.X_OK):
        return (inside,)
    return ("python3", inside) if name.endswith(".py") else ("sh", inside)


def run(
    plan: HookPlan, how: HookRun, should_stop: Callable[[], bool], show: Callable[[str], None]
) -> HookResult:
    started = time.monotonic()
    output: list[str] = []

    def collect(line: str) -> None:
        output.append(line)
        show(f"    {plan.name}: {line}")

    if plan.on == "host":
        code, why = _run_host(plan, how, should_stop, collect)
    else:
        code, why = _run_container(plan, how, should_stop, collect)
    status = SUCCEEDED if code == 0 and not why else FAILED
    reason = why or ("" if code == 0 else f"hook {plan.name} ({plan.event}) exited with code {code}")
    return HookResult(
        plan.event, plan.name, status, code, time.monotonic() - started, tuple(output[-TAIL_LINES:]), reason
    )


def _run_container(
    plan: HookPlan, how: HookRun, should_stop: Callable[[], bool], collect: Callable[[str], None]
) -> tuple[int | None, str]:
    request = RunRequest(
        image=how.build_image,
        command=list(plan.argv),
        env=dict(how.env),
        labels=dict(how.labels),
        workdir=MOUNT,
        mounts=(Mount(str(how.service_dir), MOUNT, read_only=True),),
        network=how.network,
    )
    container = how.executor.start(request)
    try:
        reader = threading.Thread(target=_pump, args=(_lines(container.output()), collect), daemon=True)
        reader.start()
        result: list[int] = []
        waiter = threading.Thread(target=lambda: result.append(container.wait()), daemon=True)
        waiter.start()
        why = _supervise(waiter, how.timeout_s, should_stop, plan)
        if why:
            container.kill()
        waiter.join(10)
        reader.join(2)
        return (result[0] if result else None), why
    finally:
        container.remove()


def _run_host(
    plan: HookPlan, how: HookRun, should_stop: Callable[[], bool], collect: Callable[[str], None]
) -> tuple[int | None, str]:
    process = subprocess.Popen(
        list(plan.argv),
        cwd=how.service_dir,
        env={**os.environ, **how.host_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert process.stdout is not None
    reader = threading.Thread(target=_pump, args=(_lines(process.stdout), collect), daemon=True)
    reader.start()
    waiter = threading.Thread(target=process.wait, daemon=True)
    waiter.start()
    why = _supervise(waiter, how.timeout_s, should_stop, plan)
    if why:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)  # the hook's whole process group (its own session)
    process.wait()
    reader.join(2)
    process.stdout.close()
    return process.returncode, why


def _supervise(
    waiter: threading.Thread, timeout_s: float, should_stop: Callable[[], bool], plan: HookPlan
) -> str:
    """Wait for the hook; a reason when it must be killed (timeout, or the deployment stops)."""
    deadline = time.monotonic() + timeout_s
    while waiter.is_alive():
        if time.monotonic() > deadline:
            return f"hook {plan.name} ({plan.event}) did not finish within {timeout_s:g}s"
        if should_stop():
            return f"hook {plan.name} ({plan.event}) was stopped: the deployment is stopping"
        waiter.join(0.05)
    return ""


def _lines(chunks: Iterable[bytes]) -> Iterable[str]:
    pending = b""
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            yield line.decode(errors="replace").rstrip("\r")
    if pending:
        yield pending.decode(errors="replace")


def _pump(lines: Iterable[str], collect: Callable[[str], None]) -> None:
    for line in lines:
        collect(line)
