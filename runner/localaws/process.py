"""Starting, finding, resetting and stopping a project's local AWS process (runner.localaws.server).

Its state directory is `<runner home>/aws`: the server writes `ready.json` there once it
listens, and its log goes to `server.log`. A lock file serialises starts, so two builds of
one project that begin together share one process. The proxy binds the address build
containers reach the host by (the Docker bridge's gateway), never all interfaces; the
control endpoint, for the runner alone, binds 127.0.0.1.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from runner.adapters.processes import pid_alive, still_running
from runner.errors import RunnerError
from runner.localaws import hosts

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
LOG_FILE = "server.log"
READY_FILE = "ready.json"  # written by the server once everything listens


@dataclass(frozen=True, slots=True)
class LocalAws:
    """A running local AWS, as its ready.json describes it."""

    pid: int
    account: str
    control_port: int
    proxy: str  # host:port build containers use as HTTPS_PROXY
    registry: str | None  # loopback address of the ECR registry, None when it could not run
    registry_problem: str
    started: float

    @property
    def control_url(self) -> str:
        return f"http://127.0.0.1:{self.control_port}"


def state_dir(home: Path) -> Path:
    return home / "aws"


def running(home: Path) -> LocalAws | None:
    try:
        data = json.loads((state_dir(home) / READY_FILE).read_text())
        found = LocalAws(
            pid=int(data["pid"]),
            account=str(data["account"]),
            control_port=int(data["control_port"]),
            proxy=str(data["proxy"]),
            registry=data.get("registry"),
            registry_problem=str(data.get("registry_problem") or ""),
            started=float(data["started"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return found if still_running(found.pid, found.started) else None


def ensure(home: Path, account: str, host: str) -> LocalAws:
    """The project's local AWS for this account, started when none runs (or another account's does)."""
    with _lock(home):
        found = running(home)
        if found is not None and found.account == account and found.proxy.startswith(f"{host}:"):
            return found
        if found is not None:
            _stop(home, found)
        return _start(home, account, host)


def stop(home: Path) -> LocalAws | None:
    """Stop the project's local AWS; the one that was running (None: nothing ran)."""
    with _lock(home):
        found = running(home)
        if found is not None:
            _stop(home, found)
        return found


def reset(home: Path) -> LocalAws | None:
    """Forget every resource (moto's reset) and every pushed image; the process keeps running."""
    found = running(home)
    if found is None:
        return None
    request = urllib.request.Request(f"{found.control_url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=30):
        pass
    (state_dir(home) / "seeded").unlink(missing_ok=True)
    if found.registry:
        os.kill(found.pid, signal.SIGHUP)
        _wait_for_registry(found.registry)
    return found


def _start(home: Path, account: str, host: str) -> LocalAws:
    directory = state_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    (directory / READY_FILE).unlink(missing_ok=True)
    (directory / "seeded").unlink(missing_ok=True)
    env = {**os.environ, "MOTO_ACCOUNT_ID": account, "MOTO_ECS_SERVICE_RUNNING": "1"}
    with (directory / LOG_FILE).open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "runner.localaws.server", str(directory), host],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            env=env,
            start_new_session=True,  # outlives the build that started it; Ctrl-C is not its business
        )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        found = running(home)
        if found is not None:
            return found
        if process.poll() is not None:
            raise RunnerError(f"the local AWS did not start: {_log_tail(directory)}")
        time.sleep(0.05)
    process.kill()
    raise RunnerError(f"the local AWS did not answer within {START_TIMEOUT_S:.0f} s: {_log_tail(directory)}")


def _stop(home: Path, found: LocalAws) -> None:
    try:
        os.kill(found.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while _alive(found.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(found.pid):
        os.kill(found.pid, signal.SIGKILL)
    if found.registry:
        hosts.remove(found.registry)
    (state_dir(home) / READY_FILE).unlink(missing_ok=True)
    (state_dir(home) / "seeded").unlink(missing_ok=True)


def _wait_for_registry(address: str) -> None:
    """After SIGHUP the server replaces its registry: wait for the new, empty one."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://{address}/v2/_catalog", timeout=1) as response:
                if json.loads(response.read()).get("repositories") == []:
                    return
        except (OSError, ValueError):
            pass
        time.sleep(0.05)
    raise RunnerError(f"the local ECR registry at {address} did not come back after the reset")


def _alive(pid: int) -> bool:
    try:
        os.waitpid(pid, os.WNOHANG)  # our own child (a test, a long-lived runner): reap it
    except ChildProcessError:
        pass
    return pid_alive(pid)


@contextmanager
def _lock(home: Path) -> Iterator[None]:
    directory = state_dir(home)
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / "lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def _log_tail(directory: Path) -> str:
    try:
        lines = (directory / LOG_FILE).read_text(errors="replace").strip().splitlines()
    except OSError:
        return "no log"
    return lines[-1] if lines else f"nothing in {directory / LOG_FILE}"
