"""`runner build -H URL|NAME` (or DOCKER_HOST): the Docker engine a build runs on.

As with the docker CLI, -H makes the engine this process's one before the first client is
made. Whether that engine sees our files is probed once (a bind-mounted nonce file); when it
does not, the build's workspace goes in and out through its API. An engine that lacks the
build image gets it streamed from the engine this machine uses otherwise, with progress.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from runner.core.engines import Engine, from_argument

if TYPE_CHECKING:
    from runner.adapters.docker.executor import DockerExecutor
    from runner.adapters.docker.remote import Endpoint

DEFAULT_SOCKET_URL = "unix:///var/run/docker.sock"
_before: list[str] = []  # the engine this process used before -H: where a missing build image comes from


def choose(text: str | None) -> Engine | None:
    """-H's engine, made this process's engine; None without -H (DOCKER_HOST, else the socket)."""
    if not text:
        return None
    if "://" in text:
        engine = from_argument((), text)
    else:
        from runner.commands._engines import configured

        engine = from_argument(configured(), text)
    if engine.url is None:  # `local`: what DOCKER_HOST (else the socket) names
        return None
    from runner.adapters.docker import client

    _before.append(os.environ.get("DOCKER_HOST") or DEFAULT_SOCKET_URL)
    client.use_engine(engine.url, client.Tls(engine.tls_ca, engine.tls_cert, engine.tls_key))
    return engine


def executor_here(engine: Engine | None, work_dir: Path) -> DockerExecutor:
    """An executor on this process's engine; the local socket's is never probed (it is this machine's).
    -H's engine must answer the probe (one line when it does not); DOCKER_HOST's, when it does not,
    is taken as not sharing our files, and the build's provisioning fails on it as on the local
    socket (FAULT, with the fix)."""
    from runner.adapters.docker.executor import DockerExecutor
    from runner.adapters.docker.remote import shares_filesystem

    here = _endpoint(engine)
    if here is None:
        return DockerExecutor()
    return DockerExecutor(
        shares_files=shares_filesystem(here, work_dir) if engine else _shares_files(here, work_dir)
    )


def executor_for(engine: Engine | None, work_dir: Path, image: str) -> DockerExecutor:
    """The build's executor; an engine without the build image gets it from the one used before -H."""
    from runner.adapters.docker.remote import Endpoint

    executor = executor_here(engine, work_dir)
    here = _endpoint(engine)
    if here is not None and _lacks(executor, image):
        home = _before[0] if _before else DEFAULT_SOCKET_URL
        if home != os.environ.get("DOCKER_HOST", "").strip():
            _copy_image(Endpoint(home), image, here)
    return executor


def _lacks(executor: DockerExecutor, image: str) -> bool:
    from runner.errors import EngineError

    try:
        return not executor.has_image(image)
    except EngineError:  # unreachable: provisioning says so
        return False


def _shares_files(here: Endpoint, work_dir: Path) -> bool:
    from runner.adapters.docker.remote import shares_filesystem
    from runner.errors import EngineError

    try:
        return shares_filesystem(here, work_dir)
    except EngineError:
        return False


def _endpoint(engine: Engine | None) -> Endpoint | None:
    """This process's engine when DOCKER_HOST (or -H) names one; None for the local socket."""
    from runner.adapters.docker.remote import Endpoint

    host = os.environ.get("DOCKER_HOST", "").strip()
    if host in ("", DEFAULT_SOCKET_URL, "unix://"):
        return None
    return Endpoint(engine.url, engine.tls_ca, engine.tls_cert, engine.tls_key) if engine else Endpoint(host)


def _copy_image(source: Endpoint, image: str, target: Endpoint) -> None:
    from runner.images.on_engine import present_on
    from runner.output import TransferProgress, say

    say(f"{target.shown()} has no {image}: copying it there")
    copied = present_on(target, image, TransferProgress(f"{image} → {target.shown()}"), say, source)
    say(f"copied {image} to {target.shown()}: {copied.bytes_sent >> 20} MB in {copied.seconds:.1f}s")
