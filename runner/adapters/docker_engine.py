"""The one module that talks to the Docker engine (docker SDK); everything else gets plain values.

Every container, image, network and volume the runner creates carries the label
`runner.managed=1` plus a `runner.kind`, so orphans can be found and removed after a crash.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import ipaddress
import json
import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from runner.adapters import engine_api
from runner.errors import EngineError, RunnerError

if TYPE_CHECKING:
    import docker
    import docker.errors
    from docker.models.containers import Container


class _DeferredSDK:
    """The docker SDK, imported at its first use: it costs ~100 ms, more than a whole
    "inputs unchanged" decision, which reads the engine through runner/adapters/engine_api.py."""

    def __getattr__(self, name: str) -> Any:
        import docker  # its package imports docker.errors and the models too

        return getattr(docker, name)


if not TYPE_CHECKING:
    docker = _DeferredSDK()

MANAGED = "runner.managed"
KIND = "runner.kind"
ENGINE_HINT = "start it with `make setup` (or start Docker Desktop), then retry"


@functools.cache
def client() -> docker.DockerClient:
    try:
        engine = docker.from_env(timeout=300)
        engine.ping()
    except docker.errors.DockerException as e:
        raise EngineError(_unreachable(e)) from e
    return engine


def _unreachable(e: BaseException) -> str:
    """Name where we looked and what to do; the SDK's own text is a nested repr."""
    host = os.environ.get("DOCKER_HOST")
    if host:
        return (
            f"cannot reach the Docker engine at DOCKER_HOST={host}: fix or unset DOCKER_HOST, "
            "or start that engine, then retry"
        )
    cause = (
        "permission denied on /var/run/docker.sock"
        if "ermission denied" in str(e)
        else "no engine answers on /var/run/docker.sock"
    )
    return f"cannot reach the Docker engine ({cause}): {ENGINE_HINT}"


def _short(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text[:300]


def translate(action: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn docker SDK exceptions into one-line EngineErrors naming the action."""

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except RunnerError:
                raise
            except engine_api.Unreachable as e:
                raise EngineError(_unreachable(e)) from e
            except engine_api.ApiError as e:
                raise EngineError(f"{action}: {e}") from e
            except docker.errors.ImageNotFound as e:
                raise EngineError(f"{action}: image not found ({_explain(e)})") from e
            except docker.errors.DockerException as e:
                raise EngineError(f"{action}: {_explain(e)}") from e
            except ConnectionError as e:
                raise EngineError(f"{action}: lost the Docker engine ({e}); {ENGINE_HINT}") from e

        return inner

    return wrap


def _explain(e: docker.errors.DockerException) -> str:
    if isinstance(e, docker.errors.APIError) and e.explanation:
        return str(e.explanation)
    return _short(e)


def labels(kind: str, **extra: str) -> dict[str, str]:
    """Labels for everything the runner creates; RUNNER_LABELS=k=v,… adds more (tests use it)."""
    result = {MANAGED: "1", KIND: kind, **{f"runner.{k}": v for k, v in extra.items()}}
    for pair in filter(None, os.environ.get("RUNNER_LABELS", "").split(",")):
        key, _, value = pair.partition("=")
        result[key.strip()] = value.strip()
    return result


# ---------------------------------------------------------------- images


@dataclass(frozen=True, slots=True)
class ImageInfo:
    id: str
    tags: tuple[str, ...]
    labels: dict[str, str]
    created: str
    size: int
    repo_digests: tuple[str, ...] = ()


@translate("inspect image")
def image(ref: str) -> ImageInfo | None:
    attrs = _inspect_image(ref)
    if attrs is None:
        return None
    return ImageInfo(
        id=str(attrs["Id"]),
        tags=tuple(t for t in attrs.get("RepoTags") or () if t != "<none>:<none>"),
        labels=dict(attrs.get("Config", {}).get("Labels") or {}),
        created=str(attrs.get("Created", "")),
        size=int(attrs.get("Size", 0)),
        repo_digests=tuple(attrs.get("RepoDigests") or ()),
    )


def _inspect_image(ref: str) -> dict[str, Any] | None:
    """The engine's image inspect document, None when it has no such image."""
    if engine_api.socket_path() is None:
        try:
            return dict(client().images.get(ref).attrs)
        except docker.errors.ImageNotFound:
            return None
    try:
        return dict(engine_api.request("GET", f"/images/{ref}/json")[1] or {})
    except engine_api.ApiError as e:
        if e.status == 404:
            return None
        raise


@translate("import image")
def import_tar(stream: IO[bytes], ref: str, changes: list[str]) -> str:
    """`docker import`: a root filesystem tar stream becomes an image."""
    repository, _, tag = ref.rpartition(":")
    result = client().api.import_image_from_stream(stream, repository=repository, tag=tag, changes=changes)
    if "error" in str(result).lower() and "status" not in str(result):
        raise EngineError(f"import image {ref}: {result}")
    info = image(ref)
    if info is None:
        raise EngineError(f"import image {ref}: the engine reported success but has no image")
    return str(info.id)


@translate("build image")
def build_image(
    context: Path,
    ref: str | None,
    image_labels: dict[str, str],
    dockerfile: str = "Dockerfile",
    buildargs: dict[str, str] | None = None,
    on_line: Callable[[str], None] = lambda _line: None,
    dockerfile_text: str | None = None,
    nocache: bool = False,
) -> str:
    """Build an image from a context directory, streaming its output; returns the image id."""
    api = client().api
    kwargs: dict[str, Any] = {
        "labels": image_labels,
        "buildargs": buildargs or {},
        "rm": True,
        "forcerm": True,
        "decode": True,
        "pull": False,
        "nocache": nocache,
    }
    if dockerfile_text is not None:
        kwargs |= {
            "fileobj": _context_with_dockerfile(context, dockerfile_text),
            "custom_context": True,
        }
    else:
        kwargs |= {"path": str(context), "dockerfile": dockerfile}
    image_id = ""
    for chunk in api.build(**kwargs):
        if "error" in chunk:
            raise EngineError(f"build image {ref or context}: {str(chunk['error']).strip()}")
        for line in str(chunk.get("stream", "")).splitlines():
            if line.strip():
                on_line(line)
        if "aux" in chunk and "ID" in chunk["aux"]:
            image_id = str(chunk["aux"]["ID"])
    if not image_id:
        raise EngineError(f"build image {ref or context}: the engine returned no image id")
    if ref:
        tag_image(image_id, ref)
    return image_id


def _context_with_dockerfile(context: Path, dockerfile_text: str) -> IO[bytes]:
    import io
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        if context.is_dir():
            tar.add(str(context), arcname=".")
        data = dockerfile_text.encode()
        info = tarfile.TarInfo("Dockerfile")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    buffer.seek(0)
    return buffer


@translate("tag image")
def tag_image(image_id: str, ref: str) -> None:
    repository, _, tag = ref.rpartition(":")
    if engine_api.socket_path() is not None:
        params = {"repo": repository, "tag": tag}
        tagged = engine_api.request("POST", f"/images/{image_id}/tag", params)[0] == 201
    else:
        tagged = client().api.tag(image_id, repository, tag)
    if not tagged:
        raise EngineError(f"tag image: the engine refused to tag {image_id} as {ref}")


@translate("remove image")
def remove_image(ref: str) -> bool:
    try:
        client().images.remove(ref, noprune=False)
        return True
    except docker.errors.ImageNotFound:
        return True
    except docker.errors.APIError as e:
        if e.status_code == 409:  # in use by a container: keep it
            return False
        raise


@translate("list images")
def list_images(label_filter: Iterable[str]) -> list[ImageInfo]:
    found = client().images.list(filters={"label": list(label_filter)})
    return [
        ImageInfo(
            id=str(i.id),
            tags=tuple(i.tags),
            labels=dict(i.labels or {}),
            created=str(i.attrs.get("Created", "")),
            size=int(i.attrs.get("Size", 0)),
        )
        for i in found
    ]


# ---------------------------------------------------------------- containers


@dataclass(frozen=True, slots=True)
class Mount:
    source: str
    target: str
    read_only: bool = False


@dataclass(frozen=True, slots=True)
class RunRequest:
    """What a one-shot container needs: the seam between the build engine and Docker."""

    image: str
    command: list[str]
    env: dict[str, str]
    labels: dict[str, str]
    workdir: str | None = None
    mounts: tuple[Mount, ...] = ()
    user: str | None = None
    privileged: bool = False
    network: str | None = None
    memory: str | None = None
    name: str | None = None
    entrypoint: list[str] | None = field(default_factory=lambda: [])


@dataclass(frozen=True, slots=True)
class RunOutcome:
    exit_code: int
    oom_killed: bool
    changed: bool
    container_id: str
    error: str = ""


class RunningContainer:
    """A started one-shot container: stream its output, wait, then inspect and remove it."""

    def __init__(self, container: Container, mounts: tuple[Mount, ...]) -> None:
        self.container = container
        self.mounts = mounts

    @property
    def id(self) -> str:
        return str(self.container.id)

    @translate("read container output")
    def output(self) -> Iterator[bytes]:
        # The SDK's logs() inspects the container first to learn whether it has a TTY;
        # ours never do (tty=False at create), so ask for the stream directly.
        api = client().api
        params = {"stdout": 1, "stderr": 1, "follow": 1, "timestamps": 0, "tail": "all"}
        response = api._get(api._url("/containers/{0}/logs", self.id), params=params, stream=True)  # type: ignore[attr-defined]
        yield from api._get_result_tty(True, response, False)  # type: ignore[attr-defined]

    @translate("wait for container")
    def wait(self, timeout_s: float | None = None) -> int:
        result = self.container.wait(timeout=timeout_s)
        return int(result.get("StatusCode", -1))

    @translate("inspect container")
    def finish(self, exit_code: int) -> RunOutcome:
        self.container.reload()
        state = self.container.attrs.get("State", {})
        return RunOutcome(
            exit_code=exit_code,
            oom_killed=bool(state.get("OOMKilled")),
            changed=filesystem_changed(self.container, self.mounts),
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

    @translate("copy from container")
    def archive(self, path: str) -> Iterator[bytes] | None:
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
            raise EngineError(f"remove container {self.id[:12]}: {_explain(e)}") from e


@translate("start container")
def start(request: RunRequest) -> RunningContainer:
    if request.privileged and not privileged_allowed(request.image):
        # A nested or rootless engine refuses privileged containers ("unable to apply caps");
        # the Docker socket a privileged build also gets is what its `docker build` needs.
        request = dataclasses.replace(request, privileged=False)
    # A list, not a dict keyed by host path: one directory may be mounted at two targets
    # (`runner build -m` with a secondary source that is the primary's directory).
    binds = [f"{m.source}:{m.target}:{'ro' if m.read_only else 'rw'}" for m in request.mounts]
    host_config = client().api.create_host_config(
        binds=binds,
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
    running = RunningContainer(container, request.mounts)
    try:
        container.start()
    except BaseException:
        running.remove()
        raise
    return running


def filesystem_changed(container: Container, mounts: tuple[Mount, ...]) -> bool:
    """Did the container change its writable layer (files added, changed or deleted)?

    `docker diff` costs 0.4-1 s here, so on a local overlay2 engine we look at the
    container's upper directory directly; elsewhere we fall back to the size of the
    writable layer, then to `docker diff` when that size is 0 (deletions leave
    0-byte whiteouts).
    """
    data = container.attrs.get("GraphDriver", {}).get("Data") or {}
    upper = data.get("UpperDir")
    if upper and os.access(upper, os.R_OK):
        return _upper_dir_changed(Path(upper), {m.target for m in mounts})
    api = client().api
    # docker-py's inspect_container has no `size` flag; the engine API does.
    sized = api._result(  # type: ignore[attr-defined]
        api._get(api._url("/containers/{0}/json", container.id), params={"size": 1}),  # type: ignore[attr-defined]
        True,
    )
    if int(sized.get("SizeRw") or 0) > 0:
        return True
    return bool(container.diff())


def _upper_dir_changed(upper: Path, mount_targets: set[str]) -> bool:
    # Docker creates mount points (and their parents) in the writable layer: those
    # empty directories are not changes. Any other entry (a file, a symlink, a
    # whiteout, a new or opaque directory) is.
    mount_dirs = {"/"}
    for target in mount_targets:
        parts = Path(target).parts
        mount_dirs.update(str(Path(*parts[: i + 1])) for i in range(len(parts)))
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


def _is_opaque(directory: str) -> bool:
    try:
        return os.getxattr(directory, "trusted.overlay.opaque") == b"y"
    except OSError:
        return False


@translate("list containers")
def managed_containers(filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
    label_filter = [f"{MANAGED}=1", *(f"{k}={v}" for k, v in (filters or {}).items())]
    return [
        {"id": c.id, "name": c.name, "status": c.status, "labels": dict(c.labels or {})}
        for c in client().containers.list(all=True, filters={"label": label_filter})
    ]


@translate("remove container")
def remove_container(container_id: str) -> None:
    try:
        client().containers.get(container_id).remove(force=True, v=True)
    except docker.errors.NotFound:
        pass


@translate("stop container")
def kill_container(container_id: str) -> None:
    try:
        client().containers.get(container_id).kill()
    except (docker.errors.NotFound, docker.errors.APIError):
        pass


def wait_for_engine(deadline_s: float = 5.0) -> None:
    """Fail fast with a hint instead of hanging when the engine is down."""
    start_time = time.monotonic()
    while True:
        try:
            client()
            return
        except EngineError:
            if time.monotonic() - start_time > deadline_s:
                raise
            client.cache_clear()
            time.sleep(0.2)


# ---------------------------------------------------------------- interactive (runner debug)


def interactive_run(request: RunRequest) -> int:
    """`docker run -it --rm …` through the docker CLI: the SDK has no terminal handling.

    Values are passed through the CLI's own environment (`-e NAME`), so they never
    appear on a command line that `ps` could show.
    """
    import subprocess
    import sys

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


# ---------------------------------------------------------------- pipeline


@translate("find the environment network")
def compose_network(project: str, service: str = "router") -> str | None:
    """The network a compose project's service is attached to (its first one)."""
    found = client().containers.list(
        filters={"label": [f"com.docker.compose.project={project}", f"com.docker.compose.service={service}"]}
    )
    for container in found:
        networks = container.attrs.get("NetworkSettings", {}).get("Networks") or {}
        if networks:
            return str(next(iter(networks)))
    return None


# ---------------------------------------------------------------- images (service images, gc)

# The runtime configuration that makes two images behave the same (labels and build
# history are left out: they name the build, not the content).
_CONTENT_KEYS = (
    "User",
    "Env",
    "Cmd",
    "Entrypoint",
    "WorkingDir",
    "ExposedPorts",
    "Volumes",
    "StopSignal",
    "Healthcheck",
    "Shell",
    "OnBuild",
)


@dataclass(frozen=True, slots=True)
class ImageContent:
    """What an image holds: its layers (RootFS diff ids) and its runtime configuration."""

    layers: tuple[str, ...]
    config: str  # canonical JSON of the keys above


@translate("inspect image")
def image_content(ref: str) -> ImageContent | None:
    try:
        attrs = client().images.get(ref).attrs
    except docker.errors.ImageNotFound:
        return None
    config = attrs.get("Config") or {}
    return ImageContent(
        layers=tuple((attrs.get("RootFS") or {}).get("Layers") or ()),
        config=json.dumps({k: config.get(k) for k in _CONTENT_KEYS}, sort_keys=True),
    )


@translate("read a file from an image")
def read_image_file(ref: str, path: str) -> bytes | None:
    """A regular file of an image, read from a created (never started) container; None if absent."""
    import tarfile
    api = client().api
    created = api.create_container(image=ref, command=["true"], entrypoint=[], labels=labels("probe"))
    try:
        stream, _stat = api.get_archive(created["Id"], path)
        archive = io.BytesIO(b"".join(stream))
    except docker.errors.NotFound:
        return None
    finally:
        api.remove_container(created["Id"], force=True)
    with tarfile.open(fileobj=archive) as tar:
        member = tar.next()
        content = tar.extractfile(member) if member is not None and member.isfile() else None
        return content.read() if content is not None else None


@functools.cache
def privileged_allowed(image_ref: str) -> bool:
    """Can this engine start privileged containers? (Asked once per process with a trivial one.)"""
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


@translate("push image")
def push_image(ref: str, on_line: Callable[[str], None] = lambda _line: None) -> str:
    """Push repository:tag to its registry; returns the manifest digest (sha256:…)."""
    repository, _, tag = ref.rpartition(":")
    digest = ""
    for chunk in client().api.push(repository, tag=tag, stream=True, decode=True):
        if "error" in chunk:
            raise EngineError(f"push {ref}: {str(chunk['error']).strip()}")
        if chunk.get("status") and "id" not in chunk:
            on_line(str(chunk["status"]))
        digest = str((chunk.get("aux") or {}).get("Digest") or digest)
    if not digest:
        raise EngineError(f"push {ref}: the engine reported no digest")
    return digest


# ---------------------------------------------------------------- deploy (environments, router, slots)


@dataclass(frozen=True, slots=True)
class ContainerState:
    name: str
    status: str  # created | running | restarting | exited | dead …
    exit_code: int
    image_id: str
    oom_killed: bool
    labels: dict[str, str]
    health: str = ""  # starting | healthy | unhealthy, "" without a healthcheck

    @property
    def running(self) -> bool:
        return self.status == "running"


def _container_state(container: Container) -> ContainerState:
    state = container.attrs.get("State") or {}
    return ContainerState(
        name=str(container.name),
        status=str(state.get("Status") or container.status),
        exit_code=int(state.get("ExitCode") or 0),
        image_id=str(container.attrs.get("Image") or ""),
        oom_killed=bool(state.get("OOMKilled")),
        labels=dict(container.labels or {}),
        health=str((state.get("Health") or {}).get("Status") or ""),
    )


@translate("inspect container")
def container_state(name: str) -> ContainerState | None:
    try:
        return _container_state(client().containers.get(name))
    except docker.errors.NotFound:
        return None


def container_running(name: str) -> bool:
    state = container_state(name)
    return state is not None and state.running


@translate("list containers")
def project_containers(project: str) -> dict[str, ContainerState]:
    """The containers of a compose project, by compose service name."""
    found = client().containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
    return {str(c.labels.get("com.docker.compose.service", c.name)): _container_state(c) for c in found}


@dataclass(frozen=True, slots=True)
class ContainerSummary:
    """What one list call tells about a container (no inspect per container: cheap for many)."""

    name: str
    running: bool
    labels: dict[str, str]
    ports: tuple[tuple[str, int], ...]  # published (host address, host port)


@translate("list containers")
def container_summaries(label_filter: list[str], include_stopped: bool = True) -> list[ContainerSummary]:
    """Containers carrying these labels (`key` or `key=value`), with stopped ones unless told not to."""
    found = []
    for container in client().containers.list(
        all=include_stopped, sparse=True, filters={"label": label_filter}
    ):
        attrs = container.attrs
        ports = tuple(
            (str(p.get("IP") or ""), int(p["PublicPort"]))
            for p in attrs.get("Ports") or ()
            if p.get("PublicPort")
        )
        name = str((attrs.get("Names") or ["?"])[0]).lstrip("/")
        found.append(
            ContainerSummary(name, attrs.get("State") == "running", dict(attrs.get("Labels") or {}), ports)
        )
    return found


@translate("read container logs")
def container_logs(name: str, tail: int = 20) -> str:
    try:
        data = client().containers.get(name).logs(stdout=True, stderr=True, tail=tail, stream=False)
    except docker.errors.NotFound:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else ""


@translate("run in container")
def exec_in(name: str, command: list[str]) -> tuple[int, str]:
    """`docker exec` and wait: (exit code, combined output)."""
    result = client().containers.get(name).exec_run(command, stdout=True, stderr=True)
    output = result.output if isinstance(result.output, bytes) else b""
    return int(result.exit_code or 0), output.decode(errors="replace")


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


@translate("list networks")
def network_subnets(exclude: str | None = None) -> list[str]:
    """Every IPv4/IPv6 subnet in use by a Docker network (except the one named `exclude`)."""
    subnets = []
    for network in client().networks.list():
        if network.name == exclude:
            continue
        config = (client().api.inspect_network(str(network.id)).get("IPAM") or {}).get("Config") or []
        subnets += [str(c["Subnet"]) for c in config if c.get("Subnet")]
    return subnets


@translate("inspect network")
def network_subnet(name: str) -> str | None:
    """The first IPv4 subnet of a network, or None when there is no such network."""
    try:
        config = (client().api.inspect_network(name).get("IPAM") or {}).get("Config") or []
    except docker.errors.NotFound:
        return None
    return next((str(c["Subnet"]) for c in config if c.get("Subnet") and ":" not in c["Subnet"]), None)


@translate("inspect network")
def network_gateway(name: str = "bridge") -> str | None:
    """The host's IPv4 address on a network (its gateway): where containers reach the host.
    The default bridge often records only its subnet; its gateway is then the first address."""
    try:
        config = (client().api.inspect_network(name).get("IPAM") or {}).get("Config") or []
    except docker.errors.NotFound:
        return None
    for entry in config:
        if entry.get("Gateway") and ":" not in entry["Gateway"]:
            return str(entry["Gateway"])
        if entry.get("Subnet") and ":" not in entry["Subnet"]:
            return str(next(ipaddress.ip_network(entry["Subnet"]).hosts()))
    return None
