"""The Docker engine as an Executor (runner/adapters/executor.py): the real one."""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.adapters.docker import images, runs
from runner.adapters.docker.remote_mounts import RemoteMounts
from runner.adapters.executor import RunRequest


@dataclass(frozen=True, slots=True)
class DockerExecutor:
    """Containers on the engine DOCKER_HOST names (or the local socket).

    `shares_files`: the engine sees this machine's files (found by
    remote.shares_filesystem), so mounts are binds of host directories and a request's
    files that land in one are written there directly. False: the engine sees none of
    them; each mounted host directory is a volume there, copied in and out through the
    engine's archive API (remote_mounts.py), and so are the request's files.
    """

    shares_files: bool = True
    _volumes: RemoteMounts = field(default_factory=RemoteMounts, repr=False, compare=False)

    def start(self, request: RunRequest) -> runs.RunningContainer:
        return runs.start(request, self.shares_files, None if self.shares_files else self._volumes)

    def release(self) -> None:
        """Remove what the runs left on the engine beyond their containers (the volumes)."""
        self._volumes.release()

    def has_image(self, ref: str) -> bool:
        return images.image(ref) is not None

    def read_image_file(self, image: str, path: str) -> bytes | None:
        return images.read_image_file(image, path)

    def interactive(self, request: RunRequest) -> int:
        return runs.interactive_run(request, None if self.shares_files else self._volumes)
