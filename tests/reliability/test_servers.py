"""Servers listen on 127.0.0.1 only, and the dashboard's mutations need the session token.

Checked on the real processes: `ss -ltnp` for what a `runner ui` process listens on, and
every POST route of its OpenAPI document called without the token, with a cookie only and
from another origin.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.reliability.helpers import RUNNER, free_port

TOKEN_HEADER = "X-Runner-Token"


@dataclass(frozen=True)
class Dashboard:
    process: subprocess.Popen[str]
    port: int
    token: str

    def request(self, method: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, str]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}{path}",
            method=method,
            data=b'{"summary": "reliability"}' if method == "POST" else None,
            headers={"Content-Type": "application/json", **(headers or {})},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()


@pytest.fixture
def dashboard(tmp_path: Path) -> Iterator[Dashboard]:
    port = free_port()
    process = subprocess.Popen(
        [*RUNNER, "ui", "--port", str(port)],
        cwd=tmp_path,
        env={**os.environ, "RUNNER_HOME": str(tmp_path / "home")},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        match = re.fullmatch(rf"runner ui: http://127\.0\.0\.1:{port}/\?token=(\S+)", first)
        assert match, first
        yield Dashboard(process, port, match.group(1))
    finally:
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 130 and "Traceback" not in err


def listeners(pid: int) -> list[str]:
    """Local addresses the process listens on (TCP), from `ss -ltnp`."""
    out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True, check=True).stdout
    return [line.split()[3] for line in out.splitlines() if f"pid={pid}," in line]


def test_dashboard_listens_on_loopback_only(dashboard: Dashboard) -> None:
    assert listeners(dashboard.process.pid) == [f"127.0.0.1:{dashboard.port}"]


def test_every_dashboard_mutation_needs_the_token(dashboard: Dashboard) -> None:
    status, body = dashboard.request("GET", "/api/openapi.json", {TOKEN_HEADER: dashboard.token})
    assert status == 200
    paths = json.loads(body)["paths"]
    mutations = sorted(
        re.sub(r"\{[^}]+\}", "reliability-x", path) for path, ops in paths.items() if "post" in ops
    )
    assert len(mutations) >= 4  # approve, reject, rollback, re-run …
    cookie = {"Cookie": f"runner-token-{dashboard.port}={dashboard.token}"}
    assert dashboard.request("GET", "/api/session", cookie)[0] == 200  # the cookie is a valid one
    for path in mutations:
        for headers in (
            {},
            {TOKEN_HEADER: "not-the-token"},
            cookie,  # a cookie is sent by any page the browser has open: not enough
            {TOKEN_HEADER: dashboard.token, "Origin": "http://evil.example"},
        ):
            status, body = dashboard.request("POST", path, headers)
            assert status == 403, (path, headers, status, body)
        status, _ = dashboard.request("POST", path, {TOKEN_HEADER: dashboard.token})
        assert status != 403, path  # the token is what the guard wanted (then 404/409/501 …)
