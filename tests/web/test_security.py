"""The dashboard's session token, cross-site refusals, Host check, and loopback-only binding."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from runner.commands.ui import check_host
from runner.errors import UsageError
from runner.store import Store
from runner.web.security import TOKEN_HEADER, is_loopback
from tests.web.conftest import BASE, TOKEN, make_client

APPROVE = "/api/executions/11111111-2222-3333-4444-555555555555/approve"


def test_reads_need_the_token(anonymous: TestClient) -> None:
    response = anonymous.get("/api/builds")
    assert response.status_code == 403 and "session token" in response.json()["error"]
    assert anonymous.get("/api/builds", headers={TOKEN_HEADER: "wrong"}).status_code == 403
    assert anonymous.get("/api/openapi.json").status_code == 200  # the API's description holds no data


def test_the_url_token_becomes_a_strict_httponly_cookie(anonymous: TestClient) -> None:
    page = anonymous.get("/history", params={"token": TOKEN, "service": "catalog"}, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/history?service=catalog"
    cookie = page.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "runner-token-8765=" in cookie
    assert anonymous.get("/api/builds").status_code == 200  # the client kept the cookie
    assert anonymous.get("/history").status_code == 200


def test_a_page_without_the_token_explains_what_to_do(anonymous: TestClient) -> None:
    page = anonymous.get("/pipelines")
    assert page.status_code == 403 and "runner ui" in page.text
    assert anonymous.get("/pipelines", params={"token": "guess"}).status_code == 403


def test_mutations_need_the_token_in_a_header_not_only_the_cookie(anonymous: TestClient) -> None:
    assert anonymous.post(APPROVE, json={}).status_code == 403
    anonymous.cookies.set("runner-token-8765", TOKEN)
    assert anonymous.get("/api/builds").status_code == 200
    refused = anonymous.post(APPROVE, json={})
    assert refused.status_code == 403 and TOKEN_HEADER in refused.json()["error"]
    for path in (
        "/api/environments/prod/rollback",
        "/api/builds/demo:1/rerun",
        APPROVE.replace("approve", "rerun"),
    ):
        assert anonymous.post(path, json={}).status_code == 403


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "http://evil.example"},
        {"Origin": "http://127.0.0.1:9999"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
        {"Origin": BASE, "Sec-Fetch-Site": "cross-site"},
    ],
)
def test_cross_site_mutations_are_refused(client: TestClient, headers: dict[str, str]) -> None:
    response = client.post(APPROVE, json={}, headers=headers)
    assert response.status_code == 403 and "cross-site" in response.json()["error"]


def test_same_origin_mutations_pass_the_checks(client: TestClient) -> None:
    response = client.post(APPROVE, json={}, headers={"Origin": BASE, "Sec-Fetch-Site": "same-origin"})
    assert response.status_code == 200, response.text


def test_a_foreign_host_header_is_refused(store: Store, home: Path) -> None:
    """DNS rebinding: evil.example resolving to 127.0.0.1 must not read the dashboard."""
    with make_client(store, home, **{TOKEN_HEADER: TOKEN}) as client:
        assert client.get("/api/builds", headers={"Host": "evil.example:8765"}).status_code == 403
        assert client.get("/api/builds", headers={"Host": "localhost:8765"}).status_code == 200


def test_only_loopback_without_an_explicit_host() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "localhost", "::1", "[::1]"):
        assert is_loopback(host) and check_host(host, explicit=False) is None
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.com"):
        with pytest.raises(UsageError, match=r"only 127\.0\.0\.1 unless --host"):
            check_host(host, explicit=False)
        assert "warning" in (check_host(host, explicit=True) or "")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_runner_ui_serves_on_loopback_with_a_token_url(tmp_path: Path) -> None:
    env = dict(os.environ, RUNNER_HOME=str(tmp_path / "home"))
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "ui", "--port", str(port)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith(f"runner ui: http://127.0.0.1:{port}/?token=")
        token = url.rpartition("token=")[2]
        listening = [c for c in _listeners() if c.endswith(f":{port:04X}")]
        assert listening == [f"0100007F:{port:04X}"]  # 127.0.0.1 only, in /proc/net/tcp's notation
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as http:
            assert http.get("/api/session").status_code == 403
            session = http.get("/api/session", headers={TOKEN_HEADER: token})
            assert session.status_code == 200 and session.json()["store"].endswith("state.db")
            busy = subprocess.run(
                [sys.executable, "-m", "runner", "ui", "--port", str(port)],
                cwd=tmp_path,
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            assert busy.returncode == 2 and busy.stderr.strip().endswith(
                f"port {port} is in use on 127.0.0.1: choose another with --port"
            )
    finally:
        process.send_signal(signal.SIGINT)  # Ctrl-C: the CLI's convention is exit 130 after cleanup
        _, err = process.communicate(timeout=20)
    assert process.returncode == 130 and "Traceback" not in err


def _listeners() -> list[str]:
    rows = Path("/proc/net/tcp").read_text().splitlines()[1:]
    return [r.split()[1] for r in rows if r.split()[3] == "0A"]  # 0A: LISTEN
