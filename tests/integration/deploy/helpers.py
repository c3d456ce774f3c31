"""Helpers for deploy integration tests: tiny service images, a project, a keep-alive load generator."""

from __future__ import annotations

import http.client
import json
import socket
import textwrap
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from runner.adapters.docker import client as docker_client
from runner.adapters.docker import images
from runner.codedeploy import ImageRef
from runner.core import config_loader
from runner.core.config import PipelineConfig
from runner.images.base import PYTHON

APP = Path(__file__).with_name("app.py")


def build_app(
    tag: str,
    version: str,
    *,
    fail: bool = False,
    health_fail: bool = False,
    latency_ms: int = 0,
    sicken_after_s: float = 0,
) -> ImageRef:
    """An image of app.py (labelled for cleanup); `fail` makes every non-health request a 500,
    `latency_ms` delays every non-health request."""
    dockerfile = textwrap.dedent(
        f"""\
        FROM {PYTHON}
        COPY app.py /app/app.py
        ENV APP_VERSION={version} APP_FAIL={int(fail)} APP_HEALTH_FAIL={int(health_fail)} \\
            APP_LATENCY_MS={latency_ms} APP_HEALTH_FAIL_AFTER_S={sicken_after_s}
        CMD ["python3", "/app/app.py"]
        """
    )
    image_id = images.build_image(
        APP.parent,
        tag,
        docker_client.labels("test-image", commit=version),
        dockerfile_text=dockerfile,
    )
    return ImageRef(tag, image_id)


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def write_project(root: Path, text: str, files: dict[str, str] | None = None) -> PipelineConfig:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pipeline.yml").write_text(textwrap.dedent(text))
    for name, content in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    return config_loader.load(root / "pipeline.yml")


def get(port: int, path: str, timeout: float = 5.0) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        body = response.read()
        try:
            return response.status, json.loads(body)
        except ValueError:
            return response.status, {"text": body.decode(errors="replace")}
    finally:
        connection.close()


def sample(port: int, path: str, count: int, workers: int = 4) -> Counter[str]:
    """`count` keep-alive GETs over `workers` connections: how many each version/status answered."""
    seen: Counter[str] = Counter()
    lock = threading.Lock()

    def work(n: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        for _ in range(n):
            connection.request("GET", path)
            response = connection.getresponse()
            body = response.read()
            key = (
                json.loads(body).get("version", "?")
                if response.status == 200
                else f"status {response.status}"
            )
            with lock:
                seen[str(key)] += 1
        connection.close()

    threads = [threading.Thread(target=work, args=(count // workers,)) for _ in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return seen


@dataclass
class Load:
    """Keep-alive clients without retries at a bounded rate; every answer and error is recorded."""

    port: int
    path: str
    rate: float = 250.0  # requests per second, all connections together
    connections: int = 5
    results: list[tuple[float, int, str]] = field(default_factory=list)  # (epoch, status, version/error)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> Load:
        for _ in range(self.connections):
            thread = threading.Thread(target=self._run, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> Load:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)
        return self

    def _run(self) -> None:
        interval = self.connections / self.rate
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        next_at = time.monotonic()
        while not self._stop.is_set():
            status, what = self._one(connection)
            if status == 0:  # a broken connection is a failure; a new one is opened for the next request
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            with self._lock:
                self.results.append((time.time(), status, what))
            next_at += interval
            delay = next_at - time.monotonic()
            if delay > 0:
                self._stop.wait(delay)
            else:
                next_at = time.monotonic()
        connection.close()

    def _one(self, connection: http.client.HTTPConnection) -> tuple[int, str]:
        try:
            connection.request("GET", self.path)
            response = connection.getresponse()
            body = response.read()
        except (OSError, http.client.HTTPException) as e:
            return 0, f"{type(e).__name__}: {e}"
        try:
            version = str(json.loads(body).get("version"))
        except ValueError:
            version = body[:80].decode(errors="replace")
        return response.status, version

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.results)

    def failures(self) -> list[tuple[float, int, str]]:
        with self._lock:
            return [r for r in self.results if not 200 <= r[1] < 300]
