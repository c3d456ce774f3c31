"""The Docker engine's client: the docker SDK, imported at its first use, its errors
translated into one-line EngineErrors, and the labels on everything the runner creates.

Every container, image, network and volume the runner creates carries the label
`runner.managed=1` plus a `runner.kind`, so orphans can be found and removed after a crash.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from runner.adapters.docker import engine_api
from runner.errors import EngineError, RunnerError

if TYPE_CHECKING:
    import docker
    import docker.errors


class _DeferredSDK:
    """The docker SDK, imported at its first use: it costs ~100 ms, more than a whole
    "inputs unchanged" decision, which reads the engine through runner/adapters/docker/engine_api.py."""

    def __getattr__(self, name: str) -> Any:
        import docker  # its package imports docker.errors and the models too

        return getattr(docker, name)


if not TYPE_CHECKING:
    docker = _DeferredSDK()

P = ParamSpec("P")
R = TypeVar("R")

MANAGED = "runner.managed"
KIND = "runner.kind"
ENGINE_HINT = "start it with `make setup` (or start Docker Desktop), then retry"


@dataclass(frozen=True, slots=True)
class Tls:
    """A tcp:// engine's TLS files (pipeline.yml `engines:`); all None: plain TCP."""

    ca: str | None = None
    cert: str | None = None
    key: str | None = None


_tls_of_host: dict[str, Tls] = {}  # DOCKER_HOST value -> its TLS files, set by use_engine


def use_engine(url: str, tls: Tls = Tls()) -> None:
    """Make `url` this process's engine, as the docker CLI's -H does: DOCKER_HOST is set before
    the first client is made (engine_api.py reads it too, so a Unix socket follows it)."""
    if _client_of.cache_info().currsize:
        raise RuntimeError("use_engine after the first client was made")
    os.environ["DOCKER_HOST"] = url
    _tls_of_host[url] = tls


def tls_config(tls: Tls, shown: str) -> Any:
    """The SDK's TLS settings for these files; False when there are none."""
    if not (tls.ca or tls.cert):
        return False
    files = {"tls_ca": tls.ca, "tls_cert": tls.cert, "tls_key": tls.key}
    for key, path in files.items():
        if path and not os.path.isfile(path):  # the SDK's own message names neither the key nor the file
            raise EngineError(f"engine {shown}: {key} {path}: no such file")
    cert = (tls.cert, tls.key) if tls.cert and tls.key else None
    return docker.tls.TLSConfig(client_cert=cert, ca_cert=tls.ca, verify=tls.ca or True)


@contextlib.contextmanager
def on_engine(url: str, tls: Tls = Tls()) -> Iterator[None]:
    """Within this thread, talk to `url` instead of this process's engine (a build fleet's
    builds run side by side on different engines; DOCKER_HOST is one per process)."""
    _tls_of_host[url] = tls
    token = engine_api.CHOSEN.set(url)
    try:
        yield
    finally:
        engine_api.CHOSEN.reset(token)


def client() -> docker.DockerClient:
    """This thread's engine: on_engine's, else DOCKER_HOST's, else the default socket."""
    return _client_of(engine_api.docker_host())


def forget_clients() -> None:
    """Tests that change DOCKER_HOST: the next client() is made anew."""
    _client_of.cache_clear()


@functools.cache
def _client_of(host: str) -> docker.DockerClient:
    try:
        if host in _tls_of_host or host.startswith("ssh://"):
            engine = docker.DockerClient(
                base_url=host,
                timeout=300,
                tls=tls_config(_tls_of_host.get(host, Tls()), host),
                use_ssh_client=host.startswith("ssh://"),  # the user's ssh, config and agent
            )
        else:
            engine = docker.from_env(timeout=300)
        engine.ping()
    except docker.errors.DockerException as e:
        raise EngineError(_unreachable(e)) from e
    return engine


def _unreachable(e: BaseException) -> str:
    """Name where we looked and what to do; the SDK's own text is a nested repr."""
    host = engine_api.docker_host()
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


def translate(action: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Turn docker SDK exceptions into one-line EngineErrors naming the action."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(fn)
        def inner(*args: P.args, **kwargs: P.kwargs) -> R:
            try:
                return fn(*args, **kwargs)
            except RunnerError:
                raise
            except engine_api.Unreachable as e:
                raise EngineError(_unreachable(e)) from e
            except engine_api.ApiError as e:
                raise EngineError(f"{action}: {e}") from e
            except docker.errors.ImageNotFound as e:
                raise EngineError(f"{action}: image not found ({explain(e)})") from e
            except docker.errors.DockerException as e:
                raise EngineError(f"{action}: {explain(e)}") from e
            except ConnectionError as e:
                raise EngineError(f"{action}: lost the Docker engine ({e}); {ENGINE_HINT}") from e

        return inner

    return wrap


def explain(e: docker.errors.DockerException) -> str:
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
