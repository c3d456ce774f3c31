"""Docker engines by URL (pipeline.yml `engines:`): clients, what an engine is, whether it sees our files.

client.py talks to the default engine; this module reaches any engine (unix://, tcp://
with TLS, ssh://) through the same docker SDK. Whether an engine shares our filesystem is probed, never
guessed from its URL: a tcp:// engine on this machine may share it, a unix:// socket forwarded
from a VM may not.
"""

from __future__ import annotations

import functools
import io
import json
import os
import secrets
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from runner.adapters.docker.client import Tls, labels, tls_config
from runner.adapters.docker.ssh import HINT as SSH_HINT
from runner.errors import EngineError

if TYPE_CHECKING:
    import docker

DEFAULT_SOCKET_URL = "unix:///var/run/docker.sock"
QUICK_S = 10.0  # a listing or a probe: an engine that does not answer in this time is unreachable
TRANSFER_S = 600.0  # a load of a large image answers only when the engine has unpacked it
PROBE_KIND = "engine-probe"

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where an engine answers; url None is the default engine (DOCKER_HOST, else the socket)."""

    url: str | None = None
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None

    def shown(self) -> str:
        return self.url or os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET_URL


@dataclass(frozen=True, slots=True)
class EngineFacts:
    """What `runner engines` shows of one engine; when ok is False, error says why."""

    ok: bool
    version: str | None = None
    ncpu: int | None = None
    mem_bytes: int | None = None
    error: str | None = None


@functools.cache
def client(endpoint: Endpoint, timeout_s: float = TRANSFER_S) -> docker.DockerClient:
    """A client of that engine, its API version negotiated (engine 20.10 speaks 1.41)."""
    import docker

    try:
        if endpoint.url is None:
            return docker.from_env(timeout=int(timeout_s))
        if endpoint.url.startswith("ssh://"):
            from runner.adapters.docker import ssh

            return ssh.client(endpoint.url, timeout_s, QUICK_S)
        return docker.DockerClient(base_url=endpoint.url, timeout=int(timeout_s), tls=_tls(endpoint))
    except (docker.errors.DockerException, OSError) as e:
        raise EngineError(f"engine {endpoint.shown()}: {reason(e)}") from e


def _tls(endpoint: Endpoint) -> Any:
    return tls_config(Tls(endpoint.tls_ca, endpoint.tls_cert, endpoint.tls_key), endpoint.shown())


def reason(e: BaseException) -> str:
    """The root cause in a few words; the SDK's own text nests three libraries' reprs."""
    text = str(e)
    if "paramiko" in text:
        return SSH_HINT
    for cause in _causes(e):
        if isinstance(cause, OSError) and cause.strerror:
            return str(cause.strerror)
        if isinstance(cause, TimeoutError) or "timed out" in str(cause):
            return "timed out"
    explanation = getattr(e, "explanation", None)
    first = str(explanation) if explanation else text.splitlines()[0] if text else type(e).__name__
    return first[:300]


def _causes(e: BaseException) -> list[BaseException]:
    """e and what it wraps: causes, contexts, urllib3's `reason`, exceptions among its args."""
    found: list[BaseException] = []
    todo = [e]
    while todo and len(found) < 20:
        current = todo.pop(0)
        if any(current is seen for seen in found):
            continue
        found.append(current)
        inner = [current.__cause__, current.__context__, getattr(current, "reason", None), *current.args]
        todo.extend(item for item in inner if isinstance(item, BaseException))
    return found


def guarded(action: Callable[[Endpoint], str]) -> Callable[[Callable[..., T]], Callable[..., T]]:
    """SDK and connection errors become one-line EngineErrors naming the action and the engine."""

    def wrap(fn: Callable[..., T]) -> Callable[..., T]:
        @functools.wraps(fn)
        def inner(endpoint: Endpoint, *args: Any, **kwargs: Any) -> T:
            import docker

            try:
                return fn(endpoint, *args, **kwargs)
            except EngineError:
                raise
            except (docker.errors.DockerException, OSError) as e:
                raise EngineError(f"{action(endpoint)}: {reason(e)}") from e

        return inner

    return wrap


def facts(endpoint: Endpoint) -> EngineFacts:
    """Reachability, version, CPUs and memory; never raises (an unreachable engine is a fact)."""
    import docker

    try:
        info = client(endpoint, QUICK_S).info()
    except EngineError as e:
        return EngineFacts(ok=False, error=str(e).removeprefix(f"engine {endpoint.shown()}: "))
    except (docker.errors.DockerException, OSError) as e:
        return EngineFacts(ok=False, error=reason(e))
    return EngineFacts(
        ok=True,
        version=str(info.get("ServerVersion", "")),
        ncpu=int(info.get("NCPU", 0)),
        mem_bytes=int(info.get("MemTotal", 0)),
    )


@functools.cache
@guarded(lambda endpoint: f"probe whether {endpoint.shown()} sees our files")
def shares_filesystem(endpoint: Endpoint, directory: Path) -> bool:
    """Whether a file we write under `directory` is what that engine bind-mounts at its path.

    A container is created (never started) from a throwaway image with the file bind-mounted,
    and the file is read back through the API. Nothing is created on the engine's host: a
    bind source that does not exist there fails the create, which answers "not shared".
    Cached per process (engine, directory).
    """
    engine = client(endpoint, QUICK_S)
    nonce = secrets.token_hex(16)
    directory.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=directory, prefix=".engine-probe-", suffix=".txt") as probe:
        probe.write(nonce)
        probe.flush()
        os.chmod(probe.name, 0o644)
        image_id = _probe_image(engine)
        try:
            return _read_back(engine, image_id, probe.name) == nonce
        finally:
            engine.api.remove_image(image_id, force=True)


def _probe_image(engine: docker.DockerClient) -> str:
    """A one-directory image imported on the spot: the probe needs no image of ours there."""
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        entry = tarfile.TarInfo("probe")
        entry.type, entry.mode = tarfile.DIRTYPE, 0o755
        tar.addfile(entry)
    changes = [f"LABEL {key}={value}" for key, value in labels(PROBE_KIND).items()]
    output = engine.api.import_image_from_data(archive.getvalue(), repository=None, changes=changes)
    statuses = [str(json.loads(line).get("status", "")) for line in str(output).splitlines() if line.strip()]
    image_id = next((s for s in reversed(statuses) if s.startswith("sha256:")), None)
    if image_id is None:
        raise EngineError(f"import of the probe image answered {str(output)[:200]!r}")
    return image_id


def _read_back(engine: docker.DockerClient, image_id: str, path: str) -> str | None:
    import docker

    mount = docker.types.Mount("/probe/nonce", path, type="bind", read_only=True)
    try:
        created = engine.api.create_container(
            image_id,
            command=["/probe"],
            labels=labels(PROBE_KIND),
            host_config=engine.api.create_host_config(mounts=[mount], network_mode="none"),
        )
    except docker.errors.APIError as e:
        if "bind source path does not exist" in str(e.explanation or e):
            return None
        raise
    try:
        stream, _ = engine.api.get_archive(created["Id"], "/probe/nonce")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.next()
            data = tar.extractfile(member) if member is not None else None
            return None if data is None else bytes(data.read()).decode("utf-8", "replace")
    finally:
        engine.api.remove_container(created["Id"], force=True)


@guarded(lambda endpoint: f"list images on {endpoint.shown()}")
def image_ids(endpoint: Endpoint, label_filters: list[str]) -> set[str]:
    """The ids of that engine's images carrying every one of these labels (`key=value`)."""
    listed = client(endpoint, QUICK_S).api.images(filters={"label": label_filters}, quiet=True)
    return {str(image_id) for image_id in listed}


@guarded(lambda endpoint: f"count the builds running on {endpoint.shown()}")
def running_builds(endpoint: Endpoint) -> list[str]:
    """The project of each of our build containers running on that engine now (a build fleet's load).

    "Ours" by the labels every build container carries (with RUNNER_LABELS' extras: tests
    count only their own)."""
    wanted = [f"{key}={value}" for key, value in labels("build").items()]
    found = client(endpoint, QUICK_S).api.containers(filters={"label": wanted, "status": "running"})
    return [str((container.get("Labels") or {}).get("runner.project", "")) for container in found]
