"""Service plumbing: settings and fault injection, /health and /version, JSON HTTP, graceful stop.

The one copy the three services share. Each service's build bundles it beside the
service's app.py (tools/bundle.py: the build's primary artifact, which the image is built
from), so every image runs `import kit` from its own directory; from the source tree, put
lib/ on PYTHONPATH. Only Python's standard library is used: the images cannot reach PyPI.
"""

from __future__ import annotations

import json
import os
import random
import select
import signal
import socket
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

OPERATIONAL = ("/health", "/version")  # never subject to error_rate / latency_ms
SHUTDOWN_GRACE_S = float(os.environ.get("SHUTDOWN_GRACE_S", "8"))
TRUE = ("1", "true", "yes", "on")
FALSE = ("0", "false", "no", "off")


# ---------------------------------------------------------------- settings and faults


@dataclass(frozen=True)
class Settings:
    """settings.json, baked into the image; FAULT_* / SERVICE_VERSION variables override it."""

    version: str = "0.0.0"
    error_rate: float = 0.0  # share of requests (not /health, /version) answered with 500
    healthy: bool = True  # False: /health answers 503
    latency_ms: int = 0  # added to every request except /health, /version
    fault_environments: tuple[str, ...] = ()  # faults only in these RUNNER_ENVIRONMENTs; () = all

    def faults_apply(self, environment: str) -> bool:
        return not self.fault_environments or environment in self.fault_environments


def load_settings(path: Path, environ: Mapping[str, str]) -> Settings:
    """Read settings.json, then apply the environment overrides; a bad value is a ValueError."""
    data = json.loads(path.read_text()) if path.is_file() else {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a JSON object")
    overrides = {
        "version": environ.get("SERVICE_VERSION"),
        "error_rate": environ.get("FAULT_ERROR_RATE"),
        "healthy": environ.get("FAULT_HEALTHY"),
        "latency_ms": environ.get("FAULT_LATENCY_MS"),
    }
    data |= {k: v for k, v in overrides.items() if v not in (None, "")}
    return Settings(
        version=str(data.get("version", "0.0.0")),
        error_rate=_rate(data.get("error_rate", 0.0)),
        healthy=_flag(data.get("healthy", True)),
        latency_ms=_non_negative_int(data.get("latency_ms", 0)),
        fault_environments=tuple(str(e) for e in data.get("fault_environments") or ()),
    )


def _rate(value: Any) -> float:
    rate = float(value)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"error_rate must be between 0 and 1, got {value!r}")
    return rate


def _flag(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if str(value).strip().lower() in TRUE:
        return True
    if str(value).strip().lower() in FALSE:
        return False
    raise ValueError(f"healthy must be true or false, got {value!r}")


def _non_negative_int(value: Any) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(f"latency_ms must be >= 0, got {value!r}")
    return number


# ---------------------------------------------------------------- requests and responses


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # without the query string, no trailing slash (except "/")
    query: dict[str, list[str]]
    body: bytes = b""
    service: Service | None = None  # the service answering (its settings and version)

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, data: Any) -> Response:
    return Response(status, (json.dumps(data, indent=1) + "\n").encode())


def html_response(status: int, text: str) -> Response:
    return Response(status, text.encode(), "text/html; charset=utf-8")


def not_found(request: Request) -> Response:
    return json_response(404, {"error": f"no route for {request.method} {request.path}"})


Handler = Callable[[Request], Response]


class Service:
    """One service: its name, settings, routes (a handler) and the operational endpoints."""

    def __init__(self, name: str, handler: Handler, settings: Settings, environ: Mapping[str, str]) -> None:
        self.name = name
        self.handler = handler
        self.settings = settings
        self.environ = dict(environ)
        self.environment = self.environ.get("RUNNER_ENVIRONMENT", "")
        self.started = time.time()
        self.random = random.Random()

    def version_info(self) -> dict[str, Any]:
        env = self.environ
        return {
            "service": self.name,
            "version": self.settings.version,
            "commit": env.get("RUNNER_COMMIT", ""),
            "slot": env.get("RUNNER_SLOT", ""),
            "image": env.get("RUNNER_IMAGE_TAG", ""),
            "image_id": env.get("RUNNER_IMAGE_ID", ""),
            "environment": self.environment,
        }

    def health(self) -> Response:
        healthy = self.settings.healthy or not self.settings.faults_apply(self.environment)
        body = {
            "status": "ok" if healthy else "unhealthy",
            "service": self.name,
            "version": self.settings.version,
            "uptime_s": round(time.time() - self.started, 1),
        }
        return json_response(200 if healthy else 503, body)

    def respond(self, request: Request) -> Response:
        if request.path == "/health" and request.method in ("GET", "HEAD"):
            return self.health()
        if request.path == "/version" and request.method in ("GET", "HEAD"):
            return json_response(200, self.version_info())
        injected = self.inject_fault()
        return injected or self.handler(request)

    def inject_fault(self) -> Response | None:
        """The deliberate faults of settings.json, so a rollback can be shown."""
        settings = self.settings
        if not settings.faults_apply(self.environment):
            return None
        if settings.latency_ms:
            time.sleep(settings.latency_ms / 1000)
        if settings.error_rate and self.random.random() < settings.error_rate:
            return json_response(
                500, {"error": "injected fault", "service": self.name, "error_rate": settings.error_rate}
            )
        return None


def parse_target(target: str) -> tuple[str, dict[str, list[str]]]:
    parts = urlsplit(target)
    path = parts.path.rstrip("/") or "/"
    return path, parse_qs(parts.query)


# ---------------------------------------------------------------- HTTP server


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the router keeps upstream connections open
    disable_nagle_algorithm = True  # without it every response waits ~44 ms (delayed ACK)
    timeout = 75  # idle keep-alive connections end after this (nginx's default is 60 s)
    server: ServiceServer

    def setup(self) -> None:
        super().setup()
        self.server.opened(self)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.closed(self)

    def parse_request(self) -> bool:
        self.server.busy(self, True)  # the request line has arrived: finish it before stopping
        return super().parse_request()

    def handle_one_request(self) -> None:
        # Once stopping, send() closes the connection after its response. A response sent
        # before said keep-alive: its client may already have sent the next request, which
        # must be answered, so the connection stays open for drain() to judge.
        try:
            super().handle_one_request()
        finally:
            self.server.busy(self, False)

    def do_GET(self) -> None:
        self.dispatch()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_PATCH = do_GET

    def dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        path, query = parse_target(self.path)
        request = Request(self.command, path, query, body, self.server.service)
        try:
            response = self.server.service.respond(request)
        except Exception as e:  # a bug must answer 500, not drop the connection
            log(f"error in {self.command} {self.path}: {type(e).__name__}: {e}")
            response = json_response(500, {"error": "internal error"})
        self.send(response)

    def send(self, response: Response) -> None:
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        self.send_header("Content-Length", str(len(response.body)))
        for name, value in response.headers.items():
            self.send_header(name, value)
        if self.server.stopping:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        if self.server.log_requests:
            super().log_request(code, size)

    def log_error(self, format: str, *args: Any) -> None:
        if "timed out" not in format % args:
            super().log_error(format, *args)


class ServiceServer(ThreadingHTTPServer):
    """Threads per connection; stop() finishes in-flight requests and closes idle keep-alives."""

    daemon_threads = True
    block_on_close = False
    # The default listen backlog (5) overflows when a new slot takes the router's first burst
    # of connections after a flip; the dropped SYNs wait ~1 s for their retry.
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], service: Service, log_requests: bool = False) -> None:
        self.service = service
        self.log_requests = log_requests
        self.stopping = False
        self._lock = threading.Lock()
        self._open: set[RequestHandler] = set()
        self._busy: set[RequestHandler] = set()
        super().__init__(address, RequestHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away is normal (load tools, the router closing keep-alives): no traceback."""
        error = sys.exc_info()[1]
        if not isinstance(error, (ConnectionError, TimeoutError)):
            log(f"error serving {client_address}: {type(error).__name__}: {error}")

    def opened(self, handler: RequestHandler) -> None:
        with self._lock:
            self._open.add(handler)

    def closed(self, handler: RequestHandler) -> None:
        with self._lock:
            self._open.discard(handler)
            self._busy.discard(handler)

    def busy(self, handler: RequestHandler, busy: bool) -> None:
        with self._lock:
            (self._busy.add if busy else self._busy.discard)(handler)

    def request_stop(self) -> None:
        """Safe from a signal handler: serve_forever() returns soon after."""
        self.stopping = True
        threading.Thread(target=self.shutdown, daemon=True).start()

    def drain(self, grace_s: float = SHUTDOWN_GRACE_S) -> int:
        """After serve_forever(): refuse new connections, let busy requests finish; how many did not."""
        self.stopping = True
        self.socket.close()
        deadline = time.monotonic() + grace_s
        while True:
            with self._lock:
                idle = [h for h in self._open if h not in self._busy]
                waiting = len(self._busy)
            for handler in idle:
                if _readable(handler.connection):
                    waiting += 1  # a request just arrived (or the client closed): let its thread see it
                else:
                    _close(handler.connection)
            if waiting == 0 or time.monotonic() >= deadline:
                return waiting
            time.sleep(0.01)


def _readable(connection: socket.socket) -> bool:
    try:
        return bool(select.select([connection], [], [], 0)[0])
    except (OSError, ValueError):  # closed meanwhile by its own thread
        return False


def _close(connection: socket.socket) -> None:
    try:
        connection.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked reading the next request
    except OSError:
        pass  # already closed by its own thread


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def serve(service: Service, environ: Mapping[str, str]) -> int:
    """Serve until SIGTERM/SIGINT, then finish in-flight requests; the process's exit code."""
    host = environ.get("HOST", "0.0.0.0")
    port = int(environ.get("PORT", "8000"))
    server = ServiceServer((host, port), service, environ.get("LOG_REQUESTS", "") in TRUE)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: server.request_stop())
    info = service.version_info()
    log(f"{service.name} {info['version']} listening on {host}:{server.port} (slot {info['slot'] or '-'})")
    server.serve_forever(poll_interval=0.2)
    unfinished = server.drain()
    log(f"{service.name} stopped ({unfinished} request(s) cut off)")
    return 0 if unfinished == 0 else 1


def healthcheck(environ: Mapping[str, str]) -> int:
    """`python3 app.py --healthcheck`: exit 0 when this container's /health answers 200 (no curl here)."""
    url = f"http://127.0.0.1:{environ.get('PORT', '8000')}/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as answer:
            return 0 if answer.status == 200 else 1
    except (OSError, urllib.error.URLError):
        return 1


def settings_path(environ: Mapping[str, str]) -> Path:
    """SETTINGS_FILE, else the settings.json beside the service's app.py (not beside kit.py:
    in the image they share a directory, in the source tree kit.py is in lib/)."""
    if environ.get("SETTINGS_FILE"):
        return Path(environ["SETTINGS_FILE"])
    script = getattr(sys.modules.get("__main__"), "__file__", None)
    return (Path(script).resolve().parent if script else Path.cwd()) / "settings.json"


def main(name: str, make_handler: Callable[[Mapping[str, str]], Handler], argv: list[str]) -> int:
    environ = os.environ
    if "--healthcheck" in argv:
        return healthcheck(environ)
    try:
        settings = load_settings(settings_path(environ), environ)
    except ValueError as e:
        log(f"{name}: bad settings: {e}")
        return 2
    return serve(Service(name, make_handler(environ), settings, environ), environ)
