"""One bench run: its label on everything it creates, its scratch directory, and the cleanup.

RUNNER_LABELS=runner.bench=<run id> is set before any runner module is imported, so every
container, network, volume and image the runner makes (here or in a runner subprocess,
which inherits the environment) carries it; `sweep()` removes them by that label.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUNNER = str(Path(sys.executable).parent / "runner")
GIT = ["git", "-c", "user.email=bench@example.com", "-c", "user.name=bench"]


class Session:
    def __init__(self, smoke: bool = False) -> None:
        self.smoke = smoke  # `--smoke`: every figure once at tiny sizes (see size())
        self.run_id = uuid.uuid4().hex[:10]
        self.label = f"runner.bench={self.run_id}"
        os.environ["RUNNER_LABELS"] = self.label
        self.tmp = Path(tempfile.mkdtemp(prefix=f"runner-bench-{self.run_id}-"))
        self.homes: list[Path] = []  # runner homes whose worker/watch must be stopped at the end
        self.processes: list[subprocess.Popen[bytes]] = []
        self._cleanups: list[Callable[[], None]] = []
        self.cache: dict[str, object] = {}  # shared set-ups (a built sample project, a tiny environment)

    def size(self, full: int, smoke: int = 1) -> int:
        """How many samples, rounds, builds … a figure takes: `full` normally, `smoke` with --smoke.
        Every figure reads its sizes here, so a new figure gets a quick smoke run for free."""
        return smoke if self.smoke else full

    def seconds(self, full: float, smoke: float = 1.0) -> float:
        """A duration (wrk runs, waits) the same way as size()."""
        return smoke if self.smoke else full

    # ------------------------------------------------------------ environment

    def env(self, home: Path | None = None) -> dict[str, str]:
        """The environment of a runner subprocess: our label, its RUNNER_HOME, no colours."""
        env = {**os.environ, "RUNNER_LABELS": self.label, "NO_COLOR": "1"}
        if home is not None:
            env["RUNNER_HOME"] = str(home)
        return env

    @contextlib.contextmanager
    def environ(self) -> Iterator[None]:
        """Figures (and code they import) may set RUNNER_HOME & co.: put os.environ back after one."""
        saved = dict(os.environ)
        try:
            yield
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def home(self, name: str) -> Path:
        path = self.tmp / name / "home"
        path.mkdir(parents=True, exist_ok=True)
        self.homes.append(path)
        return path

    def on_cleanup(self, action: Callable[[], None]) -> None:
        self._cleanups.append(action)

    def spawn(self, args: list[str], **options: object) -> subprocess.Popen[bytes]:
        process = subprocess.Popen(args, **options)  # type: ignore[call-overload]
        self.processes.append(process)
        return process  # type: ignore[no-any-return]

    # ------------------------------------------------------------ git

    def git(self, root: Path, *args: str, env: dict[str, str] | None = None) -> str:
        done = subprocess.run(
            [*GIT, *args], cwd=root, check=True, capture_output=True, text=True, env=env or self.env()
        )
        return done.stdout.strip()

    def init_repo(self, root: Path) -> str:
        ignore = root / ".gitignore"
        ignore.write_text((ignore.read_text() if ignore.exists() else "") + ".runner/\n__pycache__/\n")
        self.git(root, "init", "-q", "-b", "main")
        self.git(root, "add", "-A")
        self.git(root, "commit", "-q", "-m", "bench: initial")
        return self.git(root, "rev-parse", "HEAD")

    # ------------------------------------------------------------ cleanup

    def close(self, interrupted: bool = False) -> None:
        """Everything this run created goes: set-ups, processes, labelled Docker objects, files."""
        for process in self.processes:  # first what could still create things
            stop_process(process)
        for home in self.homes:
            stop_worker(home, idle_s=0.0 if interrupted else 8.0)
        for action in reversed(self._cleanups):
            with contextlib.suppress(Exception):
                action()
        self._cleanups.clear()
        sweep(self.label)
        shutil.rmtree(self.tmp, ignore_errors=True)


def stop_process(process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """Interrupt, then terminate, then kill (only this process, by its pid)."""
    if process.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGINT, grace_s), (signal.SIGTERM, 3.0), (signal.SIGKILL, 3.0)):
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(wait_s)
            return


def stop_worker(home: Path, idle_s: float = 8.0, grace_s: float = 20.0) -> None:
    """The worker a post-commit hook started for this home exits once idle; else interrupt it."""
    if _worker_gone(home, idle_s):
        return
    from runner.triggers import post_commit

    held = post_commit.holder(str(home))
    if held is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(held[0], signal.SIGINT)  # the worker our commit started: Ctrl-C stops its execution
    _worker_gone(home, grace_s)


def _worker_gone(home: Path, timeout_s: float) -> bool:
    from runner.triggers import post_commit

    deadline = time.monotonic() + timeout_s
    while post_commit.holder(str(home)) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def labelled(kind: str, label: str) -> list[str]:
    args = {
        "containers": ["ps", "-aq"],
        "networks": ["network", "ls", "-q"],
        "volumes": ["volume", "ls", "-q"],
        "images": ["images", "-q"],
    }[kind]
    out = subprocess.run(
        ["docker", *args, "--filter", f"label={label}"], capture_output=True, text=True
    ).stdout
    return sorted(set(out.split()))


def sweep(label: str) -> dict[str, int]:
    """Remove every container, network, volume and image carrying `label`; how many of each."""
    removed = {}
    for kind, command in (
        ("containers", ["rm", "-f", "-v"]),
        ("networks", ["network", "rm"]),
        ("volumes", ["volume", "rm", "-f"]),
        ("images", ["rmi", "-f"]),
    ):
        ids = labelled(kind, label)
        if ids:
            subprocess.run(["docker", *command, *ids], capture_output=True)
        removed[kind] = len(ids)
    return removed


def container_events(label: str, since: float, until: float) -> list[str]:
    """Container lifecycle events (create, start, …) of objects carrying `label` in [since, until]."""
    out = subprocess.run(
        [
            "docker",
            "events",
            "--since",
            f"{since:.3f}",
            "--until",
            f"{until:.3f}",
            "--filter",
            "type=container",
            "--filter",
            f"label={label}",
            "--format",
            "{{.Action}}",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout
    return out.split()
