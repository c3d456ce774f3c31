"""Containers started ahead of their phase, each waiting at a gate until its phase's turn.

Starting a container costs most of a short phase (ENVIRONMENT.md: ~260 ms for a trivial
one, most of it create and start), and a naive loop pays it after the previous phase
ended. A later phase's container can start earlier only when its image is already known:
the phases after the running one start from the same image unless it leaves a snapshot.
So while a phase runs, the containers of the phases that follow it on success are
created and started from the same image, with the same request, but their shell first
waits on a FIFO in the build's tmp mount. When a phase's turn comes and its request
(image included) is the prepared one, the gate opens and the phase script runs in that
fresh container, exactly as in one started then: state files, mounts and environment
are the same. A snapshot, a retry or another next phase makes the prepared containers
not match: they are killed and removed in the background, never used.
"""

from __future__ import annotations

import contextvars
import dataclasses
import os
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.adapters.executor import Executor, Running, RunRequest

# The shell waits for one line on the gate, then becomes the phase's shell (same PID 1);
# end of file without a line (the gate closed unused) exits instead.
_WAIT = 'read -r _ < "$1" && exec "$0" "$2"'


class Gate:
    """A FIFO the prepared container reads one line from; held open by us (O_RDWR never
    blocks on Linux), so the line stays in the pipe until the container's shell reads it."""

    def __init__(self, host: Path, container: str) -> None:
        self.host, self.container = host, container
        host.unlink(missing_ok=True)
        os.mkfifo(host, 0o644)  # a run-as user must be able to read it; it carries no data
        self._fd: int | None = os.open(host, os.O_RDWR | os.O_CLOEXEC)

    def open(self) -> None:
        assert self._fd is not None
        os.write(self._fd, b"go\n")

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self.host.unlink(missing_ok=True)


@dataclass
class _Prepared:
    request: RunRequest  # what the phase would have started itself
    thread: threading.Thread | None = None
    gate: Gate | None = None
    container: Running | None = None

    def ready(self) -> None:
        if self.thread is not None:
            self.thread.join()


class Ahead:
    """The prepared containers of one build, by name (`<phase>-<attempt>-<part>`)."""

    def __init__(
        self, executor: Executor, tmp_host: Path, tmp_container: str, discard: Callable[[Running], None]
    ) -> None:
        assert executor.shares_files, "the gate is a FIFO in a mounted host directory"
        self.executor = executor
        self.tmp_host, self.tmp_container = tmp_host, tmp_container
        self._discard = discard  # kill and remove in the background
        self._prepared: dict[str, _Prepared] = {}

    def expect(self, upcoming: Sequence[tuple[str, RunRequest]]) -> None:
        """Prepare these containers; drop prepared ones whose request changed (a snapshot)."""
        wanted = dict(upcoming)
        for name, prepared in list(self._prepared.items()):
            if wanted.get(name) != prepared.request:
                self._drop(name)
        for name, request in upcoming:
            if name not in self._prepared:
                prepared = self._prepared[name] = _Prepared(request)
                prepared.thread = threading.Thread(  # in this thread's context: its engine (a fleet)
                    target=contextvars.copy_context().run,
                    args=(self._start, name, prepared),
                    name=f"ahead-{name}",
                    daemon=True,
                )
                prepared.thread.start()

    def take(self, name: str, request: RunRequest) -> tuple[Running, Gate] | None:
        """The prepared container for this request (its files put in first), its gate
        opened; None: start one as usual."""
        prepared = self._prepared.pop(name, None)
        if prepared is None:
            return None
        prepared.ready()
        expected = dataclasses.replace(request, files=())  # the phase's script is written now
        if prepared.request != expected or prepared.container is None or prepared.gate is None:
            self._release(prepared)
            return None
        try:
            prepared.container.put_files(request.files)
        except BaseException:
            self._release(prepared)
            raise
        prepared.gate.open()
        return prepared.container, prepared.gate

    def discard_all(self) -> None:
        for name in list(self._prepared):
            self._drop(name)

    def _drop(self, name: str) -> None:
        prepared = self._prepared.pop(name)
        prepared.ready()
        self._release(prepared)

    def _release(self, prepared: _Prepared) -> None:
        if prepared.container is not None:
            self._discard(prepared.container)
        if prepared.gate is not None:
            prepared.gate.close()

    def _start(self, name: str, prepared: _Prepared) -> None:
        request = prepared.request
        try:
            gate = Gate(self.tmp_host / f"gate-{name}", f"{self.tmp_container}/gate-{name}")
        except OSError:
            return  # no FIFO here: the phase starts its own container
        prepared.gate = gate
        shell, script = request.command
        waiting = dataclasses.replace(request, command=[shell, "-c", _WAIT, shell, gate.container, script])
        try:
            prepared.container = self.executor.start(waiting)
        except Exception:  # the phase starts its own container and reports any error itself
            pass
