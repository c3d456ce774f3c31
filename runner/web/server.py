"""Serving the dashboard with uvicorn: a listening socket of our own (port 0 = any free port)."""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import uvicorn

from runner.errors import UsageError
from runner.store import Store
from runner.web.app import create_app
from runner.web.security import Guard, new_token


def listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host.strip("[]"), port))
    except OSError as e:
        sock.close()
        if e.errno == errno.EADDRINUSE:
            raise UsageError(f"port {port} is in use on {host}: choose another with --port") from e
        raise UsageError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    sock.listen(128)
    return sock


def server(app: Any, graceful_s: int | None = None) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=graceful_s,
    )
    return uvicorn.Server(config)


@contextmanager
def in_thread(
    store: Store, home: Path, config_path: Path | None = None, token: str | None = None
) -> Iterator[tuple[str, str]]:
    """The dashboard on a free loopback port in a thread (tests, benchmarks): (base URL, token)."""
    sock = listen("127.0.0.1", 0)
    port = sock.getsockname()[1]
    guard = Guard(token or new_token(), port)
    served = server(create_app(store, guard, home=home, config_path=config_path), graceful_s=1)
    thread = threading.Thread(target=served.run, kwargs={"sockets": [sock]}, name="runner-ui", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not served.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    try:
        if not served.started:
            raise RuntimeError("the dashboard did not start")
        yield f"http://127.0.0.1:{port}", guard.token
    finally:
        served.should_exit = True
        thread.join(timeout=20)
        sock.close()
