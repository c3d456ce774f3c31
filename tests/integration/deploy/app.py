"""A tiny service for deploy tests: /health, /version, and 500s when built with APP_FAIL=1.

GET, HEAD and POST answer alike (POST reads its body first).

Standard library only (it runs in runner/python:bookworm). HTTP/1.1 keep-alive with
Nagle off (without it every response waits ~44 ms), and SIGTERM finishes in-flight
requests before exiting.
"""

import json
import os
import signal
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("APP_VERSION", "0")


class Server(ThreadingHTTPServer):
    # The default listen backlog (5) overflows when a freshly started slot takes its first
    # burst of router connections after a flip: those wait for a 1 s SYN retry.
    request_queue_size = 128
    daemon_threads = True


FAIL = os.environ.get("APP_FAIL") == "1"
HEALTH_FAIL = os.environ.get("APP_HEALTH_FAIL") == "1"
SICKEN_AFTER_S = float(os.environ.get("APP_HEALTH_FAIL_AFTER_S") or 0)  # healthy, then not
STARTED = time.monotonic()
LATENCY_S = int(os.environ.get("APP_LATENCY_MS") or 0) / 1000


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if self.path == "/health":
            failing = HEALTH_FAIL or (SICKEN_AFTER_S > 0 and time.monotonic() - STARTED > SICKEN_AFTER_S)
            if failing:
                print("health check failing on purpose", flush=True)
            self.reply(500 if failing else 200, {"ok": not failing})
            return
        if self.path.startswith("/env/"):  # what the slot's environment holds (task secrets)
            self.reply(200, {"value": os.environ.get(self.path[5:])})
            return
        if self.path.startswith("/local/"):  # a neighbour on localhost: a task's shared namespace
            self.reply(*local(int(self.path[7:])))
            return
        if LATENCY_S:
            time.sleep(LATENCY_S)
        body = {
            "version": VERSION,
            "slot": os.environ.get("RUNNER_SLOT"),
            "tag": os.environ.get("RUNNER_IMAGE_TAG"),
            "path": self.path,
            "env": os.environ.get("RUNNER_ENVIRONMENT"),
        }
        self.reply(500 if FAIL else 200, body)

    do_HEAD = do_GET  # reply() leaves the body out

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.do_GET()

    def reply(self, code: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


def local(port: int) -> tuple[int, dict]:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://127.0.0.1:{port}/", timeout=2) as answer:
            return 200, {"reached": port, "status": answer.status}
    except OSError as e:
        return 502, {"error": str(e)}


def main() -> None:
    server = Server(("0.0.0.0", int(os.environ.get("PORT", "8000"))), Handler)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown).start())
    print(f"version {VERSION} listening", flush=True)
    server.serve_forever()
    sys.exit(0)


if __name__ == "__main__":
    main()
