"""The post-commit hook's Python side: queue the commit, start a worker if none runs, return.

Run as a file (`python -I -S post_commit.py ROOT COMMIT REF`) by the hook script, with no
site-packages and nothing of the runner package imported: startup plus the sqlite insert
stay around 20 ms. It never fails the commit: every error becomes one line on stderr.
The worker lock helpers here are also what `runner worker` and `runner watch` hold.
"""

from __future__ import annotations

import fcntl
import os
import sys
from _collections_abc import Callable  # already loaded by os; collections.abc costs ~2 ms

LOCK_FILE = "worker.lock"  # held (flock) by the one process draining the queue: watch or worker
LOG_FILE = "worker.log"
SOURCE = "post-commit"


def runner_home(root: str) -> str:
    """As runner.paths.runner_home: $RUNNER_HOME, else .runner/ beside pipeline.yml."""
    configured = os.environ.get("RUNNER_HOME")
    return os.path.abspath(os.path.expanduser(configured)) if configured else os.path.join(root, ".runner")


def try_lock(home: str) -> int | None:
    """Take the worker lock without waiting; the fd holds it (the kernel drops it if we die)."""
    os.makedirs(home, exist_ok=True)
    fd = os.open(os.path.join(home, LOCK_FILE), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    return fd


def acquire(home: str, role: str, wait_s: float = 0.5) -> int | None:
    """The worker lock for `runner worker` / `runner watch`, retried for wait_s (a hook's
    liveness probe holds it for a moment); the fd holds it, None if another process does."""
    import time

    deadline = time.monotonic() + wait_s
    while (fd := try_lock(home)) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if fd is not None:
        mark_holder(fd, role)
    return fd


def mark_holder(fd: int, role: str) -> None:
    """Say in the lock file who holds it (read by `runner hook status`)."""
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {role}\n".encode(), 0)


def holder(home: str) -> tuple[int, str] | None:
    """(pid, role) of the process holding the worker lock, None if nobody holds it.

    A flock, not a pid file alone: the kernel releases it when its holder dies, so a
    stale file never makes the hook believe a dead worker is draining the queue.
    """
    if not os.path.isdir(home):
        return None
    fd = try_lock(home)
    if fd is not None:
        os.close(fd)
        return None
    try:
        with open(os.path.join(home, LOCK_FILE), encoding="utf-8") as lock:
            pid, _, role = lock.read().strip().partition(" ")
        return int(pid), role
    except (OSError, ValueError):
        return 0, "unknown"


def wake_address(home: str) -> bytes:
    """An abstract (Linux) datagram socket per RUNNER_HOME: no file, no path-length limit,
    gone with its process. A crc32 clash between two homes only costs a spurious wake-up."""
    import zlib

    return b"\0runner-wake-%08x" % zlib.crc32(os.path.realpath(home).encode())


def wake(home: str) -> None:
    """Tell the process draining the queue to look now instead of at its next poll."""
    import _socket

    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_DGRAM)
    try:
        sock.setblocking(False)
        sock.sendto(b"!", wake_address(home))
    except OSError:
        pass  # nobody listens (polling still finds the entry), or the socket buffer is full
    finally:
        sock.close()


class WakeListener:
    """The drainer's side of wake(): calls on_wake for every datagram, from its own thread."""

    def __init__(self, home: str, on_wake: Callable[[], None]) -> None:
        import socket
        import threading

        self._sock: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            self._sock.bind(wake_address(home))
        except OSError:  # not Linux, or bound by another process: the poll interval remains
            self._sock.close()
            self._sock = None
            return
        self._sock.settimeout(0.25)
        self._on_wake, self._closed = on_wake, False
        self._thread = threading.Thread(target=self._loop, name="wake-listener", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        assert self._sock is not None
        while not self._closed:
            try:
                self._sock.recv(64)
            except TimeoutError:
                continue
            except OSError:
                return
            self._on_wake()

    def close(self) -> None:
        if self._sock is not None:
            self._closed = True
            self._thread.join(2)
            self._sock.close()


def worker_env() -> dict[str, str]:
    """The hook's environment without what git set for the hook (GIT_DIR, GIT_INDEX_FILE …)."""
    keep = ("GIT_CONFIG_GLOBAL", "GIT_CONFIG_SYSTEM", "GIT_CONFIG_NOSYSTEM")
    return {k: v for k, v in os.environ.items() if not k.startswith("GIT_") or k in keep}


def spawn_worker(root: str, home: str, python: str) -> int:
    """Start `runner worker` detached (own session, stdio to the log); returns its pid."""
    log = os.open(os.path.join(home, LOG_FILE), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child execs at once
        try:
            os.setsid()
            os.nice(10)  # its imports must not slow down the hook and the commit on a busy machine
            devnull = os.open(os.devnull, os.O_RDONLY)
            os.dup2(devnull, 0)
            os.dup2(log, 1)
            os.dup2(log, 2)
            os.chdir(root)
            os.execve(python, [python, "-m", "runner", "worker"], worker_env())
        finally:
            os._exit(127)
    os.close(log)
    return pid


def main(argv: list[str]) -> int:
    commit = argv[2] if len(argv) > 2 else ""
    try:
        if len(argv) < 4 or len(commit) < 40:
            raise ValueError("git rev-parse gave no commit")
        root, ref = argv[1], argv[3]
        home = runner_home(root)
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "store"))
        import queue_fast  # type: ignore[import-not-found]  # runner/store/queue_fast.py, standalone

        outcome = queue_fast.enqueue_commit(home, commit, ref, SOURCE)
        note = ""
        if holder(home) is not None:
            wake(home)
        else:
            spawn_worker(root, home, sys.executable)
            note = f"; worker started, log: {os.path.join(home, LOG_FILE)}"
        if outcome != "duplicate":
            sys.stderr.write(f"runner: commit {commit[:12]} {outcome} for the pipeline{note}\n")
    except Exception as e:  # the commit is done: never let the runner fail or block it
        sys.stderr.write(f"runner: post-commit hook could not queue {commit[:12] or 'the commit'}: {e}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
