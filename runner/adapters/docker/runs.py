"""One-shot containers on the Docker engine: start one from a RunRequest (its files placed
first), stream its output, wait, learn whether it changed files, snapshot it, copy files
in and out, remove it; and `runner debug`'s interactive run through the docker CLI."""

from __future__ import annotations

import dataclasses
import functools
import json
import os
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.adapters.docker import engine_api
from runner.adapters.docker.client import client, explain, labels, translate
from runner.adapters.docker.remote_mounts import ENGINE_SOCKET, RemoteMounts
from runner.adapters.executor import File, Mount, RunOutcome, RunRequest, tar_of
from runner.errors import EngineError

if TYPE_CHECKING:
    import docker
    import docker.errors
    from docker.models.containers import Container
else:
    from runner.adapters.docker.client import docker


class RunningContainer:
    """A started one-shot container: stream its output, wait, then inspect and remove it."""

    def __init__(
        self,
        container: Container,
        mounts: tuple[Mount, ...],
        shares_files: bool = True,
        remote: RemoteMounts | None = None,
    ) -> None:
        self.container = container
        self.mounts = mounts
        self.shares_files = shares_files
        self.remote = remote  # the mounts' volumes, on an engine that does not see our files
        self.copied_out = False

    @property
    def id(self) -> str:
        return str(self.container.id)

    @translate("read container output")
    def output(self) -> Iterator[bytes]:
        # The SDK's logs() inspects the container first to learn whether it has a TTY;
        # ours never do (tty=False at create), so ask for the stream directly, of the engine
        # that runs it (a build fleet's threads use several).
        api: Any = self.container.client.api  # type: ignore[union-attr]
        params = {"stdout": 1, "stderr": 1, "follow": 1, "timestamps": 0, "tail": "all"}
        response = api._get(api._url("/containers/{0}/logs", self.id), params=params, stream=True)
        yield from api._get_result_tty(True, response, False)

    @translate("wait for container")
    def wait(self, timeout_s: float | None = None) -> int:
        result = self.container.wait(timeout=timeout_s)
        if self.remote is not None and not self.copied_out:
            self.copied_out = True
            self.remote.copy_out(self.container, self.mounts)  # the build reads its mounts next
        return int(result.get("StatusCode", -1))

    @translate("inspect container")
    def finish(self, exit_code: int) -> RunOutcome:
        self.container.reload()
        state = self.container.attrs.get("State", {})
        return RunOutcome(
            exit_code=exit_code,
            oom_killed=bool(state.get("OOMKilled")),
            changed=filesystem_changed(self.container, self.mounts, self.shares_files),
            container_id=self.id,
            error=str(state.get("Error") or ""),
        )

    def oom_killed_eventually(self, timeout_s: float) -> bool:
        """Inspect again until the engine reports OOMKilled, or the time is up."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            time.sleep(0.1)
            try:
                self.container.reload()
            except docker.errors.DockerException:
                return False
            if self.container.attrs.get("State", {}).get("OOMKilled"):
                return True
        return False

    def kill(self) -> None:
        try:
            self.container.kill()
        except docker.errors.DockerException:
            pass  # already gone or stopped: nothing to kill

    @translate("snapshot container")
    def commit(self, ref: str, snapshot_labels: dict[str, str], blank_env: tuple[str, ...] = ()) -> str:
        """An image of the container; `blank_env` (secret variables) are emptied in its
        config, which would otherwise keep the container's environment at rest."""
        repository, _, tag = ref.rpartition(":")
        changes = [f"LABEL {k}={json.dumps(v)}" for k, v in snapshot_labels.items()]
        changes += [f"ENV {name}=" for name in blank_env if name.isidentifier()]
        result = self.container.commit(repository=repository, tag=tag, changes=changes)
        return str(result.id)

    @translate("copy into container")
    def put_files(self, files: Sequence[File]) -> None:
        rest = place_on_host(files, self.mounts) if self.shares_files else tuple(files)
        if rest:
            self.container.put_archive("/", tar_of(rest))

    @translate("copy from container")
    def get_archive(self, path: str) -> Iterator[bytes] | None:
        """A tar stream of `path` in the container's filesystem; None if there is no such path."""
        try:
            stream, _ = self.container.get_archive(path)
        except docker.errors.NotFound:
            return None
        return iter(stream)

    def remove(self) -> None:
        try:
            self.container.remove(force=True, v=True)
        except docker.errors.NotFound:
            pass
        except docker.errors.DockerException as e:
            raise EngineError(f"remove container {self.id[:12]}: {explain(e)}") from e


@translate("start container")
def start(
    request: RunRequest, shares_files: bool = True, remote: RemoteMounts | None = None
) -> RunningContainer:
    """Create the container, place the request's files (through a mount when the engine
    shares our filesystem, else copied in), then start it. With `remote`, the mounts are
    volumes on the engine, filled from their host directories first (remote_mounts.py)."""
    if request.privileged and not privileged_allowed(request.image):
        # A nested or rootless engine refuses privileged containers ("unable to apply caps");
        # the Docker socket a privileged build also gets is what its `docker build` needs.
        request = dataclasses.replace(request, privileged=False)
    # A list, not a dict keyed by host path: one directory may be mounted at two targets
    # (`runner build -m` with a secondary source that is the primary's directory).
    binds = [f"{m.source}:{m.target}:{'ro' if m.read_only else 'rw'}" for m in request.mounts]
    volumes = remote.host_config_mounts(request.mounts, request.labels) if remote is not None else None
    host_config = client().api.create_host_config(
        binds=None if remote is not None else binds,
        mounts=volumes,
        privileged=request.privileged,
        network_mode=request.network,
        mem_limit=request.memory,
        init=False,
    )
    created = client().api.create_container(
        image=request.image,
        command=request.command,
        environment=request.env,
        labels=request.labels,
        working_dir=request.workdir,
        user=request.user or "",
        host_config=host_config,
        entrypoint=request.entrypoint,
        name=request.name,
        stdin_open=False,
        tty=False,
    )
    container = client().containers.prepare_model({"Id": created["Id"]})  # no inspect: start needs none
    running = RunningContainer(container, request.mounts, shares_files, remote)
    try:
        if remote is not None:
            remote.copy_in(container, request.mounts, request.image)
        running.put_files(request.files)
        container.start()
    except BaseException:
        running.remove()
        raise
    return running


def place_on_host(files: Sequence[File], mounts: tuple[Mount, ...]) -> tuple[File, ...]:
    """Write each file that lands in a writable mount to its host directory; the rest is returned."""
    rest = []
    for each in files:
        host = _host_path(each.path, mounts)
        if host is None:
            rest.append(each)
            continue
        host.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(host, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, each.mode)
        with os.fdopen(fd, "wb") as out:
            out.write(each.data)
    return tuple(rest)


def _host_path(path: str, mounts: tuple[Mount, ...]) -> Path | None:
    for mount in sorted(mounts, key=lambda m: len(m.target), reverse=True):
        target = mount.target.rstrip("/")
        if path.startswith(target + "/") and not mount.read_only:
            return Path(mount.source) / path[len(target) + 1 :]
    return None


def filesystem_changed(container: Container, mounts: tuple[Mount, ...], here: bool = True) -> bool:
    """Did the container change its writable layer (files added, changed or deleted)?

    `docker diff` costs 0.4-1 s here, so on a local overlay2 engine we look at the
    container's upper directory directly; elsewhere we fall back to the size of the
    writable layer, then to `docker diff` when that size is 0 (deletions leave
    0-byte whiteouts).
    """
    data = container.attrs.get("GraphDriver", {}).get("Data") or {}
    upper = data.get("UpperDir")
    if here and upper and os.access(upper, os.R_OK):  # not `here`: a path on another machine
        return _upper_dir_changed(Path(upper), {m.target for m in mounts})
    api = client().api
    # docker-py's inspect_container has no `size` flag; the engine API does.
    sized = api._result(  # type: ignore[attr-defined]
        api._get(api._url("/containers/{0}/json", container.id), params={"size": 1}),  # type: ignore[attr-defined]
        True,
    )
    if int(sized.get("SizeRw") or 0) > 0:
        return True
    # The engine creates mount points (and their parents) in the writable layer: added (kind 1),
    # or changed (0) when the image has the parent. Not changes of the build's; anything else is.
    made = _mount_dirs({m.target for m in mounts})
    return any(c.get("Path") not in made or c.get("Kind") not in (0, 1) for c in container.diff() or ())


def _upper_dir_changed(upper: Path, mount_targets: set[str]) -> bool:
    # Docker creates mount points (and their parents) in the writable layer: those
    # empty directories are not changes. Any other entry (a file, a symlink, a
    # whiteout, a new or opaque directory) is.
    mount_dirs = _mount_dirs(mount_targets)
    pending = [(upper, "/")]
    while pending:
        directory, rel = pending.pop()
        with os.scandir(directory) as entries:
            for entry in entries:
                path = str(Path(rel) / entry.name)
                if not entry.is_dir(follow_symlinks=False) or path not in mount_dirs:
                    return True
                if _is_opaque(entry.path):
                    return True
                if path not in mount_targets:
                    pending.append((Path(entry.path), path))
    return False


def _mount_dirs(mount_targets: set[str]) -> set[str]:
    """The mount points and every directory above them."""
    found = {"/"}
    for target in mount_targets:
        parts = Path(target).parts
        found.update(str(Path(*parts[: i + 1])) for i in range(len(parts)))
    return found


def _is_opaque(directory: str) -> bool:
    try:
        return os.getxattr(directory, "trusted.overlay.opaque") == b"y"
    except OSError:
        return False


def privileged_allowed(image_ref: str) -> bool:
    """Can this engine start privileged containers? (Asked once per engine with a trivial one.)"""
    return _privileged_allowed(engine_api.docker_host(), image_ref)


@functools.cache
def _privileged_allowed(host: str, image_ref: str) -> bool:
    api = client().api
    config = api.create_host_config(privileged=True)
    created = api.create_container(
        image=image_ref, command=["true"], entrypoint=[], host_config=config, labels=labels("probe")
    )
    try:
        api.start(created["Id"])
        api.wait(created["Id"], timeout=60)
        return True
    except docker.errors.APIError:
        return False
    finally:
        api.remove_container(created["Id"], force=True)


def interactive_run(request: RunRequest, remote: RemoteMounts | None = None) -> int:
    """`docker run -it --rm …` through the docker CLI: the SDK has no terminal handling.

    Values are passed through the CLI's own environment (`-e NAME`), so they never
    appear on a command line that `ps` could show. The request's files go through its
    mounts (the CLI starts the container at once). With `remote` (an engine that does not
    see our files), the mounts are volumes there, filled first through a container that
    never starts, and removed after the shell (nothing comes back).
    """
    import subprocess
    import sys

    unplaced = place_on_host(request.files, request.mounts)
    if unplaced:
        raise EngineError(f"an interactive run takes files only in its mounts, not {unplaced[0].path}")
    if remote is not None:
        try:
            return _interactive_with_volumes(request, remote)
        finally:
            remote.release()

    args = ["docker", "run", "--rm", "-i"]
    if sys.stdin.isatty():
        args.append("-t")
    for key, value in request.labels.items():
        args += ["--label", f"{key}={value}"]
    for name in request.env:
        args += ["-e", name]
    for mount in request.mounts:
        args += ["-v", f"{mount.source}:{mount.target}{':ro' if mount.read_only else ''}"]
    if request.workdir:
        args += ["-w", request.workdir]
    if request.user:
        args += ["-u", request.user]
    if request.privileged:
        args.append("--privileged")
    args += ["--entrypoint", request.command[0], request.image, *request.command[1:]]
    return subprocess.call(args, env={**os.environ, **request.env})


@translate("prepare the debug shell's volumes")
def _interactive_with_volumes(request: RunRequest, remote: RemoteMounts) -> int:
    mounts = remote.host_config_mounts(request.mounts, request.labels)
    api = client().api
    created = api.create_container(
        request.image,
        command=["true"],
        entrypoint=[],
        labels=request.labels,
        host_config=api.create_host_config(mounts=mounts, network_mode="none"),
    )
    try:
        remote.copy_in(
            client().containers.prepare_model({"Id": created["Id"]}), request.mounts, request.image
        )
    finally:
        api.remove_container(created["Id"], force=True)
    as_volumes = tuple(
        Mount(m["Source"], m["Target"], bool(m.get("ReadOnly"))) for m in mounts if m["Type"] == "volume"
    )
    binds = tuple(m for m in request.mounts if m.source == ENGINE_SOCKET)
    return interactive_run(dataclasses.replace(request, mounts=binds + as_volumes, files=()))


@translate("run a one-shot container")
def run_once(
    image_ref: str,
    command: list[str],
    mounts: tuple[tuple[str, str, bool], ...],
    labels: dict[str, str],
    timeout_s: float = 60.0,
) -> tuple[int, str]:
    """Create, start, wait for and remove a short container: (exit code, output)."""
    request = RunRequest(
        image=image_ref,
        command=command,
        env={},
        labels=labels,
        mounts=tuple(Mount(source, target, read_only) for source, target, read_only in mounts),
        entrypoint=None,
    )
    running = start(request)
    try:
        code = running.wait(timeout_s)
        output = bytes(running.container.logs(stdout=True, stderr=True)).decode(errors="replace")
        return code, output
    finally:
        running.remove()
