"""kit: settings and their overrides, fault injection, /health and /version, graceful stop."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import tempfile
import threading
import time
import unittest
import urllib.error
import urllib.request
from pathlib import Path

import kit


def echo(request: kit.Request) -> kit.Response:
    return kit.json_response(200, {"path": request.path, "method": request.method})


def service(environ: dict[str, str] | None = None, **settings: object) -> kit.Service:
    return kit.Service("svc", echo, kit.Settings(**settings), environ or {})  # type: ignore[arg-type]


def get(url: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


class Running:
    """A ServiceServer on a free loopback port, in a thread."""

    def __init__(self, svc: kit.Service) -> None:
        self.server = kit.ServiceServer(("127.0.0.1", 0), svc)
        self.url = f"http://127.0.0.1:{self.server.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05})

    def __enter__(self) -> Running:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.request_stop()
        self.thread.join(10)
        self.server.drain(2)


class SettingsTest(unittest.TestCase):
    def write(self, data: object) -> Path:
        directory = tempfile.mkdtemp()
        path = Path(directory) / "settings.json"
        path.write_text(json.dumps(data))
        return path

    def test_file_values(self) -> None:
        path = self.write({"version": "2.0.0", "error_rate": 0.25, "healthy": False, "latency_ms": 5})
        settings = kit.load_settings(path, {})
        self.assertEqual(settings, kit.Settings("2.0.0", 0.25, False, 5))

    def test_environment_overrides_the_file(self) -> None:
        path = self.write({"version": "1.0.0"})
        environ = {
            "FAULT_ERROR_RATE": "1",
            "FAULT_HEALTHY": "false",
            "FAULT_LATENCY_MS": "7",
            "SERVICE_VERSION": "9",
        }
        self.assertEqual(kit.load_settings(path, environ), kit.Settings("9", 1.0, False, 7))

    def test_empty_override_is_ignored(self) -> None:
        self.assertEqual(
            kit.load_settings(self.write({"error_rate": 0.5}), {"FAULT_ERROR_RATE": ""}).error_rate, 0.5
        )

    def test_missing_file_gives_defaults(self) -> None:
        self.assertEqual(kit.load_settings(Path("/nonexistent/settings.json"), {}), kit.Settings())

    def test_bad_values_are_refused(self) -> None:
        for data in ({"error_rate": 2}, {"healthy": "maybe"}, {"latency_ms": -1}, ["not", "an", "object"]):
            with self.subTest(data=data), self.assertRaises(ValueError):
                kit.load_settings(self.write(data), {})

    def test_settings_file_variable_names_the_file(self) -> None:
        self.assertEqual(kit.settings_path({"SETTINGS_FILE": "/etc/shop.json"}), Path("/etc/shop.json"))
        self.assertEqual(kit.settings_path({"SETTINGS_FILE": ""}).name, "settings.json")

    def test_fault_environments_limit_where_faults_apply(self) -> None:
        settings = kit.Settings(error_rate=1.0, fault_environments=("prod",))
        self.assertTrue(settings.faults_apply("prod"))
        self.assertFalse(settings.faults_apply("staging"))
        self.assertTrue(kit.Settings(error_rate=1.0).faults_apply("staging"))


class ServiceTest(unittest.TestCase):
    def request(self, svc: kit.Service, path: str) -> kit.Response:
        return svc.respond(kit.Request("GET", path, {}))

    def test_version_reports_runner_variables(self) -> None:
        environ = {
            "RUNNER_COMMIT": "abc123",
            "RUNNER_SLOT": "green",
            "RUNNER_IMAGE_TAG": "svc:abc123abc123",
            "RUNNER_IMAGE_ID": "sha256:ff",
            "RUNNER_ENVIRONMENT": "prod",
        }
        body = json.loads(self.request(service(environ, version="1.2.3"), "/version").body)
        self.assertEqual(
            body,
            {
                "service": "svc",
                "version": "1.2.3",
                "commit": "abc123",
                "slot": "green",
                "image": "svc:abc123abc123",
                "image_id": "sha256:ff",
                "environment": "prod",
            },
        )

    def test_error_rate_one_fails_requests_but_not_health_or_version(self) -> None:
        svc = service(error_rate=1.0)
        self.assertEqual(self.request(svc, "/anything").status, 500)
        self.assertEqual(self.request(svc, "/health").status, 200)
        self.assertEqual(self.request(svc, "/version").status, 200)

    def test_error_rate_zero_never_fails(self) -> None:
        svc = service(error_rate=0.0)
        self.assertEqual({self.request(svc, "/x").status for _ in range(200)}, {200})

    def test_partial_error_rate_fails_some_requests(self) -> None:
        svc = service(error_rate=0.5)
        svc.random.seed(7)
        statuses = [self.request(svc, "/x").status for _ in range(400)]
        self.assertTrue(100 < statuses.count(500) < 300, statuses.count(500))

    def test_unhealthy_answers_503(self) -> None:
        self.assertEqual(self.request(service(healthy=False), "/health").status, 503)

    def test_faults_skip_other_environments(self) -> None:
        environ = {"RUNNER_ENVIRONMENT": "staging"}
        svc = service(environ, error_rate=1.0, healthy=False, fault_environments=("prod",))
        self.assertEqual(self.request(svc, "/x").status, 200)
        self.assertEqual(self.request(svc, "/health").status, 200)

    def test_parse_target(self) -> None:
        self.assertEqual(kit.parse_target("/items/?a=1"), ("/items", {"a": ["1"]}))
        self.assertEqual(kit.parse_target("/"), ("/", {}))


class ServerTest(unittest.TestCase):
    def test_clients_that_go_away_are_not_logged(self) -> None:
        server = kit.ServiceServer(("127.0.0.1", 0), service())
        self.addCleanup(server.server_close)
        with contextlib.redirect_stderr(io.StringIO()) as err:
            for error in (ConnectionResetError(), BrokenPipeError(), TimeoutError(), RuntimeError("x")):
                try:
                    raise error
                except Exception:
                    server.handle_error(None, ("127.0.0.1", 1))
        self.assertEqual(err.getvalue(), "error serving ('127.0.0.1', 1): RuntimeError: x\n")

    def test_serves_over_http_with_keep_alive(self) -> None:
        with Running(service(version="3.0.0")) as running:
            self.assertEqual(get(running.url + "/version")[1]["version"], "3.0.0")
            self.assertEqual(get(running.url + "/a/b?x=1"), (200, {"path": "/a/b", "method": "GET"}))

    def test_a_bug_answers_500(self) -> None:
        def broken(request: kit.Request) -> kit.Response:
            raise RuntimeError("boom")

        svc = kit.Service("svc", broken, kit.Settings(), {})
        with contextlib.redirect_stderr(io.StringIO()) as err, Running(svc) as running:
            self.assertEqual(get(running.url + "/x")[0], 500)
        self.assertEqual(err.getvalue(), "error in GET /x: RuntimeError: boom\n")

    def test_a_request_sent_on_keep_alive_as_the_stop_begins_is_answered(self) -> None:
        """The last response said keep-alive, so the client may already have sent the next request."""

        class StopAfterResponse(kit.RequestHandler):
            def dispatch(self) -> None:
                super().dispatch()
                self.server.stopping = True  # SIGTERM right after the response went out

        running = Running(service())
        running.server.RequestHandlerClass = StopAfterResponse
        with running:
            connection = http.client.HTTPConnection("127.0.0.1", running.server.port, timeout=5)
            self.addCleanup(connection.close)
            connection.request("GET", "/first")
            first = connection.getresponse()
            self.assertEqual((first.status, first.getheader("Connection")), (200, None))
            self.assertEqual(json.loads(first.read())["path"], "/first")
            connection.request("GET", "/second")
            second = connection.getresponse()
            self.assertEqual((second.status, second.getheader("Connection")), (200, "close"))
            self.assertEqual(json.loads(second.read())["path"], "/second")

    def test_stop_finishes_in_flight_requests_then_refuses(self) -> None:
        running = Running(service(latency_ms=500))
        running.thread.start()
        answers: list[tuple[int, dict[str, object]]] = []
        client = threading.Thread(target=lambda: answers.append(get(running.url + "/slow")))
        client.start()
        deadline = time.monotonic() + 5
        while not running.server._busy and time.monotonic() < deadline:
            time.sleep(0.01)
        running.server.request_stop()
        running.thread.join(10)
        self.assertEqual(running.server.drain(5), 0)
        client.join(10)
        self.assertEqual(answers, [(200, {"path": "/slow", "method": "GET"})])
        with self.assertRaises(urllib.error.URLError):
            urllib.request.urlopen(running.url + "/health", timeout=2)


if __name__ == "__main__":
    unittest.main()
