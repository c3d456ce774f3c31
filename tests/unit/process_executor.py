"""A fake Executor for unit tests of the build loop: a "container" is a host process.

No image, no isolation, no mounts: the container paths a test uses are host paths, so the
files a request carries are written where they say (as an engine that does not share our
filesystem would copy them in). Every behaviour it stands in for is proven against real
Docker by tests/integration.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from runner.adapters.executor import File, RunOutcome, RunRequest


def _write(files: Sequence[File]) -> None:
    for each in files:
        path = Path(each.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(each.data)
        path.chmod(each.mode)


class ProcessRun:
    """A started "container": its command as a host process."""

    def __init__(self, request: RunRequest) -> None:
        self.request = request
        self.killed = self.removed = False
        _write(request.files)
        self.process = subprocess.Popen(
            request.command,
            cwd=request.workdir,
            env=request.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )

    @property
    def id(self) -> str:
        return f"process-{self.process.pid}"

    def output(self) -> Iterator[bytes]:
        assert self.process.stdout is not None
        while chunk := os.read(self.process.stdout.fileno(), 65536):  # what is there, as it comes
            yield chunk

    def wait(self, timeout_s: float | None = None) -> int:
        return self.process.wait(timeout_s)

    def finish(self, exit_code: int) -> RunOutcome:
        return RunOutcome(exit_code, oom_killed=False, changed=False, container_id=self.id)

    def oom_killed_eventually(self, timeout_s: float) -> bool:
        return False

    def kill(self) -> None:
        self.killed = True
        self.process.kill()

    def commit(self, ref: str, snapshot_labels: dict[str, str], blank_env: tuple[str, ...] = ()) -> str:
        raise AssertionError("a host process changes no image: nothing to commit")

    def put_files(self, files: Sequence[File]) -> None:
        _write(files)

    def get_archive(self, path: str) -> Iterator[bytes] | None:
        if not os.path.lexists(path):
            return None
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            tar.add(path, arcname=os.path.basename(path))
        return iter([buffer.getvalue()])

    def remove(self) -> None:
        self.removed = True
        if self.process.stdout is not None:
            self.process.stdout.close()


class ProcessExecutor:
    """Runs every request as a host process; remembers what it started."""

    shares_files = False  # no mounts: files go in with the request

    def __init__(self) -> None:
        self.started: list[ProcessRun] = []

    def start(self, request: RunRequest) -> ProcessRun:
        run = ProcessRun(request)
        self.started.append(run)
        return run

    def has_image(self, ref: str) -> bool:
        return True

    def read_image_file(self, image: str, path: str) -> bytes | None:
        return None

    def interactive(self, request: RunRequest) -> int:
        raise AssertionError("no terminal in unit tests")

    def release(self) -> None:
        pass  # its processes leave nothing behind
