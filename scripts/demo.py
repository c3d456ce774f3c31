"""`make demo`: the sample services through build, staging and a blue-green/canary prod deploy.

1. a scratch git repository is made from sample-services/ (it is a complete project);
2. `runner pipeline run` ships its first commit to staging and prod (stock is deployed from
   its ECS task definition and appspec.yaml, unchanged);
3. the post-commit hook is installed; a visible change to one service is committed and
   the hook ships it (only that service is rebuilt) while a small load runs against
   prod: the canary shift must not fail a single request;
4. a faulty version is committed: the prod alarm fires and the deployment rolls back,
   while the router retries the GETs it failed on the old version (0 failed GETs);
5. a summary: stages, durations, versions live, URLs, and how to stop.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RUNNER = str(Path(sys.executable).parent / "runner")
DEMO = Path(os.environ.get("RUNNER_DEMO_DIR", "/tmp/runner-demo"))
CHANGED = "catalog"
WAIT_S = 300


def sh(*args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        args, cwd=DEMO, check=check, text=True, capture_output=capture, env={**os.environ, "NO_COLOR": "1"}
    )


def runner(*args: str, check: bool = True, capture: bool = False) -> subprocess.CompletedProcess[str]:
    return sh(RUNNER, *args, check=check, capture=capture)


def runner_json(*args: str) -> Any:
    return json.loads(runner(*args, "--json", capture=True).stdout)


def title(text: str) -> None:
    print(f"\n=== {text} ===", flush=True)


def git_commit(message: str) -> str:
    sh("git", "add", "-A")
    sh("git", "-c", "user.name=Demo", "-c", "user.email=demo@example.com", "commit", "-qm", message)
    return sh("git", "rev-parse", "HEAD", capture=True).stdout.strip()


def prepare() -> None:
    if (DEMO / "pipeline.yml").exists():
        runner("down", "--all", check=False)
    shutil.rmtree(DEMO, ignore_errors=True)
    shutil.copytree(ROOT / "sample-services", DEMO, ignore=shutil.ignore_patterns(".runner", "__pycache__"))
    sh("git", "init", "-q", "-b", "main")
    git_commit("sample services v1")


def edit_settings(service: str, **changes: Any) -> None:
    path = DEMO / service / "settings.json"
    settings = json.loads(path.read_text())
    settings.update(changes)
    path.write_text(json.dumps(settings, indent=2) + "\n")


class Load:
    """A small keep-alive load on the prod port, without retries: every failure counts."""

    def __init__(self, port: int, path: str, clients: int = 4) -> None:
        self.port, self.path = port, path
        self.ok = self.failed = 0
        self.versions: dict[str, int] = {}
        self.first_seen: dict[str, float] = {}
        self.last_seen: dict[str, float] = {}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(5)

    def _client(self) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        while not self.stop.is_set():
            try:
                connection.request("GET", self.path)
                response = connection.getresponse()
                body = response.read()
                good = 200 <= response.status < 300
            except (OSError, http.client.HTTPException):
                good, body = False, b""
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            with self.lock:
                if good:
                    self.ok += 1
                    version = _version_of(body)
                    self.versions[version] = self.versions.get(version, 0) + 1
                    now = time.monotonic()
                    self.first_seen.setdefault(version, now)
                    self.last_seen[version] = now
                else:
                    self.failed += 1
            time.sleep(0.01)


def _version_of(body: bytes) -> str:
    try:
        return str(json.loads(body).get("version", "?"))
    except (ValueError, AttributeError):
        return "?"


def wait_for_execution(commit: str) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        for execution in runner_json("pipeline", "status", "--limit", "10"):
            if execution["commit"] == commit and execution["status"] != "InProgress":
                return dict(execution)
        time.sleep(0.5)
    raise SystemExit(f"demo: no finished execution for {commit[:12]} within {WAIT_S}s")


def prod_port() -> int:
    environments = runner_json("status")["environments"]
    url = next(e for e in environments if e["name"] == "prod")["live_url"]
    return int(url.rsplit(":", 1)[1])


def summary(executions: list[tuple[str, dict[str, Any]]], timings: dict[str, float]) -> None:
    title("Summary")
    for label, execution in executions:
        print(f"{label}: execution {execution['id'][:8]} {execution['status']}")
        for stage in execution["stages"]:
            duration = f"{stage['duration_s']:.1f}s" if stage["duration_s"] is not None else "-"
            print(f"    {stage['name']:<16} {stage['status']:<10} {duration:>7}")
    for name, value in timings.items():
        print(f"{name}: {value:.1f}s")
    runner("status")
    print(f"\nThe environments keep running. Stop them with:\n  cd {DEMO} && {RUNNER} down --all")


def main() -> int:
    title(f"Scratch repository {DEMO} from sample-services/")
    prepare()
    title("First commit: build every service, deploy staging, test, deploy prod")
    first = wait_or_run_first()
    executions = [("commit 1 (all services)", first)]
    port = prod_port()
    ecs_answer = stock_items(port)
    print(f"prod stock (from taskdef.json + appspec.yaml) answers GET /stock/items: {ecs_answer}")

    title(f"Install the post-commit hook; commit a visible change to {CHANGED} (1.0.0 -> 1.1.0)")
    runner("hook", "install")
    edit_settings(CHANGED, version="1.1.0")
    with Load(port, f"/{CHANGED}/version") as load:
        committed = time.monotonic()
        second = wait_for_execution(git_commit(f"{CHANGED}: version 1.1.0"))
        time.sleep(0.5)
    print(f"prod load during the canary: {load.ok} ok, {load.failed} failed; versions seen {load.versions}")
    timings = {
        "commit -> first 1.1.0 response on prod (canary 10%)": load.first_seen.get("1.1.0", 0) - committed,
        "commit -> 100% of prod on 1.1.0": load.last_seen.get("1.0.0", committed) - committed,
    }
    executions.append((f"commit 2 ({CHANGED} changed)", second))

    title(f"Commit a {CHANGED} that fails every request in prod: the alarm rolls the canary back")
    edit_settings(CHANGED, version="1.2.0-faulty", error_rate=1.0, fault_environments=["prod"])
    with Load(port, f"/{CHANGED}/items") as faulty_load:
        third = wait_for_execution(git_commit(f"{CHANGED}: faulty in prod"))
    print(
        f"prod GET load during the faulty canary: {faulty_load.ok} ok, {faulty_load.failed} failed GET "
        "requests (what the canary failed was retried on the old version; the alarm still counted it)"
    )
    executions.append(("commit 3 (faulty in prod)", third))
    live = live_version(port)
    print(f"prod {CHANGED} after the rollback answers version {live}")
    summary(executions, timings)
    ok = first["status"] == "Succeeded" and second["status"] == "Succeeded" and load.failed == 0
    ok = ok and third["status"] == "Failed" and live == "1.1.0" and faulty_load.failed == 0
    ok = ok and ecs_answer.get("warehouse") == "north"
    print("\ndemo: " + ("OK" if ok else "something did not go as expected (see above)"))
    return 0 if ok else 1


def live_version(port: int) -> str:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", f"/{CHANGED}/version")
    return _version_of(connection.getresponse().read())


def stock_items(port: int) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    connection.request("GET", "/stock/items")
    answer = connection.getresponse()
    body = answer.read()
    return dict(json.loads(body)) if answer.status == 200 else {"status": answer.status}


def wait_or_run_first() -> dict[str, Any]:
    runner("pipeline", "run")
    return dict(runner_json("pipeline", "status", "--limit", "1")[0])


if __name__ == "__main__":
    sys.exit(main())
