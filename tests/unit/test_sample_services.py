"""The sample services as processes: /health, /version, fault injection, SIGTERM, the shop end to end.

They run as their images run them: from the bundle their build makes (tools/bundle.py: the
service's files plus lib/kit.py beside app.py), and from the source tree with lib/ on PYTHONPATH.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "sample-services"
SERVICES = ("catalog", "offers", "web")
Bundles = dict[str, Path]
RUNNER_ENV = {
    "RUNNER_SERVICE": "catalog",
    "RUNNER_ENVIRONMENT": "staging",
    "RUNNER_SLOT": "green",
    "RUNNER_IMAGE_TAG": "catalog:0123456789ab",
    "RUNNER_IMAGE_ID": "sha256:" + "f" * 64,
    "RUNNER_COMMIT": "0123456789ab" + "0" * 28,
}


@dataclass
class Running:
    process: subprocess.Popen[str]
    url: str
    port: int


def base_env(**extra: str) -> dict[str, str]:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOST": "127.0.0.1", "PORT": "0"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env | extra


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Bundles:
    """Each service's bundle, made by the tool its build runs."""
    root = tmp_path_factory.mktemp("bundles")
    for name in SERVICES:
        made = subprocess.run(
            [sys.executable, str(SAMPLE / "tools" / "bundle.py"), str(SAMPLE / name), str(root / name)],
            env=base_env(),
            capture_output=True,
            text=True,
        )
        assert made.returncode == 0, made.stderr
    return {name: root / name for name in SERVICES}


@contextmanager
def service(name: str, directory: Path, **env: str) -> Iterator[Running]:
    """The service as its image runs it (python3 app.py in DIRECTORY), on a free loopback port (PORT=0)."""
    process = subprocess.Popen(
        [sys.executable, "app.py"],
        cwd=directory,
        env=base_env(**env),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        first = process.stderr.readline()
        match = re.search(r"listening on [\d.]+:(\d+)", first)
        assert match, (
            f"{name} did not start: {first}{process.stderr.read() if process.poll() is not None else ''}"
        )
        port = int(match.group(1))
        yield Running(process, f"http://127.0.0.1:{port}", port)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


@contextmanager
def connect(port: int) -> Iterator[http.client.HTTPConnection]:
    """A keep-alive connection (urllib always closes its connections)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        yield connection
    finally:
        connection.close()


# ---------------------------------------------------------------- each service


@pytest.mark.parametrize("name", SERVICES)
def test_health_and_version_report_the_runner_variables(name: str, bundles: Bundles) -> None:
    with service(name, bundles[name], **(RUNNER_ENV | {"RUNNER_SERVICE": name})) as running:
        status, health = get(running.url + "/health")
        assert (status, health["status"], health["service"]) == (200, "ok", name)
        assert get(running.url + "/version") == (
            200,
            {
                "service": name,
                "version": json.loads((SAMPLE / name / "settings.json").read_text())["version"],
                "commit": RUNNER_ENV["RUNNER_COMMIT"],
                "slot": "green",
                "image": "catalog:0123456789ab",
                "image_id": RUNNER_ENV["RUNNER_IMAGE_ID"],
                "environment": "staging",
            },
        )


def test_error_rate_from_the_environment_fails_requests_not_health(bundles: Bundles) -> None:
    with service("catalog", bundles["catalog"], FAULT_ERROR_RATE="1") as running:
        status, body = get(running.url + "/items")
        assert (status, body["error"]) == (500, "injected fault")
        assert get(running.url + "/health")[0] == 200
        assert get(running.url + "/version")[0] == 200


def test_unhealthy_from_the_environment_fails_health(bundles: Bundles) -> None:
    with service(
        "offers", bundles["offers"], FAULT_HEALTHY="false", CATALOG_URL="http://127.0.0.1:9"
    ) as running:
        assert get(running.url + "/health")[0] == 503


def test_a_committed_settings_change_makes_a_faulty_version(tmp_path: Path, bundles: Bundles) -> None:
    copy = shutil.copytree(bundles["catalog"], tmp_path / "catalog")
    (copy / "settings.json").write_text(json.dumps({"version": "1.0.1-faulty", "error_rate": 1.0}))
    with service("catalog", copy) as running:
        assert get(running.url + "/version")[1]["version"] == "1.0.1-faulty"
        assert get(running.url + "/items")[0] == 500


def test_faults_limited_to_prod_leave_staging_alone(tmp_path: Path, bundles: Bundles) -> None:
    copy = shutil.copytree(bundles["catalog"], tmp_path / "catalog")
    faulty = {"version": "1.0.1", "error_rate": 1.0, "healthy": False, "fault_environments": ["prod"]}
    (copy / "settings.json").write_text(json.dumps(faulty))
    with service("catalog", copy, RUNNER_ENVIRONMENT="staging") as running:
        assert (get(running.url + "/items")[0], get(running.url + "/health")[0]) == (200, 200)
    with service("catalog", copy, RUNNER_ENVIRONMENT="prod") as running:
        assert (get(running.url + "/items")[0], get(running.url + "/health")[0]) == (500, 503)


def test_bad_settings_stop_the_service_with_exit_2(tmp_path: Path, bundles: Bundles) -> None:
    copy = shutil.copytree(bundles["catalog"], tmp_path / "catalog")
    (copy / "settings.json").write_text('{"error_rate": 3}')
    done = subprocess.run(
        [sys.executable, "app.py"], cwd=copy, env=base_env(), capture_output=True, text=True
    )
    assert done.returncode == 2
    assert "bad settings: error_rate must be between 0 and 1, got 3" in done.stderr


def test_from_the_source_tree_with_lib_on_the_path_settings_are_the_services(tmp_path: Path) -> None:
    """kit.py in lib/ reads the settings.json beside app.py, not beside itself."""
    copy = shutil.copytree(SAMPLE / "catalog", tmp_path / "catalog")
    (copy / "settings.json").write_text(json.dumps({"version": "7.7.7", "error_rate": 1.0}))
    with service("catalog", copy, PYTHONPATH=str(SAMPLE / "lib")) as running:
        assert get(running.url + "/version")[1]["version"] == "7.7.7"
        assert get(running.url + "/items")[0] == 500


def test_healthcheck_flag(bundles: Bundles) -> None:
    with service("catalog", bundles["catalog"]) as running:
        check = [sys.executable, "app.py", "--healthcheck"]
        env = base_env(PORT=str(running.port))
        assert subprocess.run(check, cwd=bundles["catalog"], env=env).returncode == 0
    assert subprocess.run(check, cwd=bundles["catalog"], env=env).returncode == 1


def test_sigterm_finishes_the_request_in_flight_then_exits_0(bundles: Bundles) -> None:
    latency = {"FAULT_LATENCY_MS": "1500"}
    with service("catalog", bundles["catalog"], **latency) as running, connect(running.port) as connection:
        connection.request("GET", "/health")  # keep-alive: the connection is accepted and served
        assert connection.getresponse().read()
        connection.request("GET", "/items")  # takes 1.5 s
        running.process.send_signal(signal.SIGTERM)
        answer = connection.getresponse()
        assert (answer.status, answer.getheader("Connection")) == (200, "close")
        assert len(json.loads(answer.read())["items"]) == 4
        assert running.process.wait(timeout=10) == 0
        assert running.process.stderr is not None
        assert "catalog stopped (0 request(s) cut off)" in running.process.stderr.read()
        with pytest.raises(OSError):
            urllib.request.urlopen(running.url + "/health", timeout=2)


def test_sigterm_closes_idle_keep_alive_connections(bundles: Bundles) -> None:
    env = {"CATALOG_URL": "http://127.0.0.1:9", "OFFERS_URL": "http://127.0.0.1:9"}
    with service("web", bundles["web"], **env) as running, connect(running.port) as idle:
        idle.request("GET", "/health")
        assert idle.getresponse().read()
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(timeout=10) == 0


# ---------------------------------------------------------------- the smoke hook


@pytest.mark.parametrize("name", SERVICES)
def test_smoke_hook_checks_the_replacement(name: str, bundles: Bundles) -> None:
    hook = SAMPLE / name / "hooks" / "smoke"
    with service(name, bundles[name], **(RUNNER_ENV | {"RUNNER_IMAGE_TAG": f"{name}:abc"})) as running:
        ok = subprocess.run(
            [hook], env=base_env(RUNNER_TEST_URL=running.url + "/", RUNNER_NEW_IMAGE=f"{name}:abc")
        )
        assert ok.returncode == 0
        wrong = subprocess.run(
            [hook],
            env=base_env(RUNNER_TEST_URL=running.url, RUNNER_NEW_IMAGE=f"{name}:other"),
            capture_output=True,
        )
        assert wrong.returncode == 1
        assert b"expected" in wrong.stderr


def test_smoke_hook_fails_on_an_unhealthy_replacement(bundles: Bundles) -> None:
    with service("catalog", bundles["catalog"], FAULT_HEALTHY="0") as running:
        done = subprocess.run(
            [SAMPLE / "catalog" / "hooks" / "smoke"],
            env=base_env(RUNNER_TEST_URL=running.url, SMOKE_ATTEMPTS="1"),
            capture_output=True,
        )
        assert done.returncode == 1
        assert b"/health answered 503" in done.stderr


# ---------------------------------------------------------------- the shop behind a stand-in router


class PrefixRouter(ThreadingHTTPServer):
    """Routes by path prefix and strips it, like the runner's router (decisions.md 4)."""

    daemon_threads = True

    def __init__(self) -> None:
        self.routes: dict[str, str] = {}
        super().__init__(("127.0.0.1", 0), _RouterHandler)

    def target(self, path: str) -> str | None:
        for prefix in sorted(self.routes, key=len, reverse=True):
            if prefix == "/" or path == prefix or path.startswith(prefix + "/"):
                rest = path if prefix == "/" else path[len(prefix) :] or "/"
                return self.routes[prefix] + rest
        return None


class _RouterHandler(BaseHTTPRequestHandler):
    server: PrefixRouter

    def do_GET(self) -> None:
        target = self.server.target(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else None
        request = urllib.request.Request(target or "", data=data, method=self.command)
        request.add_header("Content-Type", self.headers.get("Content-Type", "application/json"))
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:
                self.relay(answer.status, answer.read(), answer.headers)
        except urllib.error.HTTPError as e:
            self.relay(e.code, e.read(), e.headers)
        except (OSError, ValueError):
            self.relay(502, b"bad gateway", {})

    do_POST = do_GET

    def relay(self, status: int, body: bytes, headers: Any) -> None:
        self.send_response(status)
        for name in ("Content-Type", "Location"):
            if headers.get(name):
                self.send_header(name, headers[name])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def router() -> Iterator[PrefixRouter]:
    server = PrefixRouter()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_the_shop_passes_its_staging_tests_and_offers_degrade_without_catalog(
    router: PrefixRouter, tmp_path: Path, bundles: Bundles
) -> None:
    front = f"http://127.0.0.1:{router.server_address[1]}"
    env = {
        "RUNNER_ENVIRONMENT": "staging",
        "CATALOG_URL": f"{front}/catalog",
        "OFFERS_URL": f"{front}/offers",
    }
    with ExitStack() as stack:
        catalog = stack.enter_context(service("catalog", bundles["catalog"], **env))
        offers = stack.enter_context(service("offers", bundles["offers"], CATALOG_TTL_S="0", **env))
        web = stack.enter_context(service("web", bundles["web"], **env))
        router.routes = {"/catalog": catalog.url, "/offers": offers.url, "/": web.url}
        report = tmp_path / "staging-junit.xml"
        staging_tests = [sys.executable, "tools/run_tests.py", "--start", "e2e", "--junit", str(report)]
        done = subprocess.run(
            staging_tests, cwd=SAMPLE, env=base_env(RUNNER_STAGING_URL=front), capture_output=True
        )
        assert done.returncode == 0, done.stdout.decode()[-3000:]
        assert 'failures="0" errors="0" skipped="0"' in report.read_text()

        catalog.process.send_signal(signal.SIGTERM)
        assert catalog.process.wait(timeout=10) == 0
        status, body = get(f"{front}/offers/offers")
        assert (status, body["degraded"], body["catalog"]["source"]) == (200, True, "stale")
        assert len(body["offers"]) >= 4  # served from the cache, and said so
        page = urllib.request.urlopen(front + "/", timeout=5).read().decode()
        assert "Offers are degraded" in page
