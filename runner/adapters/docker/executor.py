"""The Docker engine as an Executor (runner/adapters/executor.py): the real one."""

from __future__ import annotations

from dataclasses import dataclass

from runner.adapters.docker import images, runs
from runner.adapters.executor import RunRequest


@dataclass(frozen=True, slots=True)
class DockerExecutor:
    """Containers on the engine DOCKER_HOST names (or the local socket).

    `shares_files`: the engine runs on this machine, so a request's files that land in a
    mount are written there directly (no copy through the API) and mounts are the
    container's own; False copies every file in through the engine's archive API.
    """

    shares_files: bool = True

    def start(self, request: RunRequest) -> runs.RunningContainer:
        return runs.start(request, self.shares_files)

    def has_image(self, ref: str) -> bool:
        return images.image(ref) is not None

    def read_image_file(self, image: str, path: str) -> bytes | None:
        return images.read_image_file(image, path)

    def interactive(self, request: RunRequest) -> int:
        return runs.interactive_run(request)
