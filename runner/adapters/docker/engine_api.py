"""The engine's HTTP API over its Unix socket, for the few calls a fresh process makes first.

Importing the docker SDK costs ~100 ms (requests, urllib3, their TLS set-up): more than a
whole "inputs unchanged" decision or the start of a trigger's build. The calls those paths
need (inspect an image, tag one) go straight to the local socket here, one HTTP/1.0
request per connection (no keep-alive, no chunked bodies: the engine answers and closes).
The package's other modules use the SDK for everything else and for engines reached over
TCP, TLS or SSH; nothing outside runner/adapters/docker/ calls this module.
"""

from __future__ import annotations

import json
import os
import socket
from contextvars import ContextVar
from typing import Any
from urllib.parse import quote, urlencode

DEFAULT_SOCKET = "/var/run/docker.sock"
TIMEOUT_S = 60.0

# A build fleet runs builds on several engines from one process's threads: within a thread
# (its context) this names the engine instead of DOCKER_HOST (client.on_engine sets it).
CHOSEN: ContextVar[str | None] = ContextVar("runner_docker_host", default=None)


def docker_host() -> str:
    """The engine this thread uses: the one on_engine chose, else DOCKER_HOST ("": the socket)."""
    return CHOSEN.get() or os.environ.get("DOCKER_HOST", "").strip()


class Unreachable(Exception):
    """Nothing answers on the socket (no engine, no permission, a timeout)."""


class ApiError(Exception):
    """The engine answered with an error status (4xx/5xx); message is its explanation."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def socket_path() -> str | None:
    """The engine's Unix socket as the SDK's from_env() finds it; None when DOCKER_HOST names
    another transport (tcp://, ssh://: the SDK and its TLS settings handle those)."""
    host = docker_host()
    if host in ("", "unix://"):
        return DEFAULT_SOCKET
    for scheme in ("unix://", "http+unix://"):
        if host.startswith(scheme):
            return host[len(scheme) :]
    return None


def request(method: str, path: str, params: dict[str, str] | None = None) -> tuple[int, Any]:
    """(status, decoded JSON body or None); ApiError for an error status, Unreachable when
    nothing answers. Only when socket_path() is not None."""
    target = socket_path()
    assert target is not None, "DOCKER_HOST is not a Unix socket: use the SDK"
    url = quote(path, safe="/:") + (f"?{urlencode(params)}" if params else "")
    head = f"{method} {url} HTTP/1.0\r\nHost: docker\r\nContent-Length: 0\r\n\r\n"
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(TIMEOUT_S)
            sock.connect(target)
            sock.sendall(head.encode())
            data = _read_all(sock)
    except OSError as e:
        raise Unreachable(f"{target}: {e.strerror or e}") from e
    status_line, _, rest = data.partition(b"\r\n")
    _headers, _, body = rest.partition(b"\r\n\r\n")
    try:
        status = int(status_line.split(b" ", 2)[1])
    except (IndexError, ValueError):
        raise Unreachable(f"{target}: no HTTP answer ({status_line[:60]!r})") from None
    decoded = _decode(body)
    if status >= 400:
        message = decoded.get("message") if isinstance(decoded, dict) else None
        raise ApiError(status, str(message or body.decode("utf-8", "replace").strip() or status))
    return status, decoded


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body) if body.strip() else None
    except ValueError:
        return None
