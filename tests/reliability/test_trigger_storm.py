"""100 commits in a few seconds with `runner watch` and the post-commit hook both active.

Each commit changes the service, so each one is a reason to build and deploy. The queue
may supersede or skip commits, but: the last commit is built and is what staging serves,
no commit is built twice, and no commit gets two pipeline executions. Real git, real
Docker, real compose and nginx; the project is tiny (a trivial buildspec, a stdlib server).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest

from runner.store import Store, queue
from runner.store import pipelines as records
from tests.ci import LONGEST_WAIT_S
from tests.integration.deploy.helpers import free_ports, get
from tests.reliability.helpers import run_cli, spawn, wait_for

pytestmark = [pytest.mark.docker, pytest.mark.slow]

COMMITS = 100
PIPELINE = """\
app: {app}
services:
  web:
    path: web
    health_timeout: 30s
environments:
  - name: staging
    port: {port}
    test_port: {test_port}
    termination_wait: 0s
"""
APP = """\
import json, os
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):
        body = json.dumps({"commit": os.environ.get("RUNNER_COMMIT", "")}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass

ThreadingHTTPServer(("", 8000), Handler).serve_forever()
"""
FILES = {
    "web/app.py": APP,
    "web/Dockerfile": 'FROM runner/python:bookworm\nCOPY . /app\nCMD ["python3", "/app/app.py"]\n',
    "web/buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built\n",
    "web/version.txt": "0\n",
    ".gitignore": "home/\n",
}
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(root: Path, home: Path, *args: str) -> str:
    env = {**os.environ, **GIT_ENV, "RUNNER_HOME": str(home)}  # the hook queues into this store
    return subprocess.run(
        ["git", *args], cwd=root, env=env, check=True, capture_output=True, text=True
    ).stdout.strip()


def make_repo(root: Path, home: Path, port: int, test_port: int) -> str:
    app = f"storm{uuid.uuid4().hex[:6]}"
    for name, text in {
        **FILES,
        "pipeline.yml": PIPELINE.format(app=app, port=port, test_port=test_port),
    }.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, home, "init", "-q", "-b", "main")
    git(root, home, "add", "-A")
    git(root, home, "commit", "-q", "-m", "init")
    return app


def settled(store: Store, last: str) -> bool:
    """The last commit's execution ended and nothing is queued or running any more."""
    ended = [e for e in records.list_executions(store, 1000) if e.commit_sha == last and e.ended]
    return bool(ended) and not queue.with_status(store, queue.QUEUED, queue.RUNNING)


def test_a_commit_storm_ships_the_last_commit_once(tmp_path: Path) -> None:
    root, home = tmp_path / "repo", tmp_path / "repo" / "home"
    port, test_port = free_ports(2)
    make_repo(root, home, port, test_port)
    first = git(root, home, "rev-parse", "HEAD")
    try:
        storm(root, home, port, first)
    finally:
        down = run_cli("down", "staging", cwd=root, home=home)
        assert down.returncode == 0, down.stderr


def storm(root: Path, home: Path, port: int, first: str) -> None:
    tmp_path = root.parent
    installed = run_cli("hook", "install", cwd=root, home=home)
    assert installed.returncode == 0, installed.stderr
    watch = spawn(
        "watch", "--no-tree", cwd=root, home=home, log=tmp_path / "watch.out", err=tmp_path / "watch.err"
    )
    try:
        wait_for(lambda: "watching" in (tmp_path / "watch.err").read_text(), what="runner watch")
        started = time.monotonic()
        for i in range(1, COMMITS + 1):
            (root / "web" / "version.txt").write_text(f"{i}\n")
            git(root, home, "commit", "-q", "-a", "-m", f"storm {i}")
        storm_s = time.monotonic() - started
        last = git(root, home, "rev-parse", "HEAD")
        hooked = run_cli("hook", "status", "--json", cwd=root, home=home)
        assert json.loads(hooked.stdout)["drained_by"]["role"] == "watch"  # the hook woke the watcher
        store = Store(home / "state.db")
        try:
            wait_for(
                lambda: settled(store, last),
                timeout=LONGEST_WAIT_S,
                what="the queue to settle on the last commit",
            )
            settle_s = time.monotonic() - started - storm_s
            rows = [e for e in queue.recent(store, 1000) if e.kind == queue.PIPELINE]
            sources = Counter(e.source for e in rows)
            queued = len({e.commit_sha for e in rows if e.commit_sha != first})
            assert len(rows) == len({e.commit_sha for e in rows})
        finally:
            store.close()
    finally:
        watch.send_signal(signal.SIGINT)
        code = watch.wait(timeout=120)
    log = (tmp_path / "watch.err").read_text()
    print(f"{COMMITS} commits in {storm_s:.1f}s; settled {settle_s:.1f}s later; queued by {dict(sources)}")
    assert code == 130 and "Traceback" not in log, log[-3000:]

    store = Store(home / "state.db")
    try:
        executions = records.list_executions(store, 1000)
        builds = store.query("SELECT service, resolved_source_version, status FROM builds")
        integrity = store.integrity_ok()
    finally:
        store.close()
    [final] = [e for e in executions if e.commit_sha == last]
    assert final.status == "Succeeded", log[-3000:]
    per_commit = Counter(e.commit_sha for e in executions)
    assert max(per_commit.values()) == 1, per_commit.most_common(3)  # one execution per commit
    built = Counter((b["service"], b["resolved_source_version"]) for b in builds)
    assert max(built.values()) == 1, built.most_common(3)  # no commit built twice
    assert ("web", last) in built
    assert set(sources) <= {"post-commit", "watch"} and queued == COMMITS  # each commit queued once
    status, body = get(port, "/web/")
    assert status == 200 and body["commit"] == last  # staging serves the last commit
    assert integrity
    print(f"{len(executions)} executions, {len(builds)} builds for {COMMITS} commits")
