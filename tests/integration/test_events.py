"""State-change events for real: `runner build`, a batch and `runner pipeline run` as
subprocesses on real Docker (and compose and nginx for the deployment), their events in
AWS's documented shapes, delivered to a command and a loopback webhook; a runner killed
with -9 in the middle of a delivery loses nothing."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from runner.events import shapes
from runner.store import Store, deliveries
from tests.ci import LONGEST_WAIT_S
from tests.events_shape import assert_shape
from tests.integration.deploy.helpers import free_ports

pytestmark = [pytest.mark.docker]

APP = Path(__file__).resolve().parent / "deploy" / "app.py"
SECRET = "s3cr3t-Value-42"
FAILING = f"""\
version: 0.2
env:
  parameter-store:
    TOKEN: /events/token
phases:
  build:
    commands:
      - echo "{SECRET}" > /dev/null && exit 1
"""
PIPELINE = """\
app: {app}
services: {{web: {{path: web, port: 8000, health: /health}}}}
environments: [{{name: staging, port: {port}, test_port: {test_port}, termination_wait: 0s}}]
default_notifications: false
"""


class _Hook(BaseHTTPRequestHandler):
    """Records every POST; while `hold` is set, keeps the request waiting (a hung target)."""

    received: list[dict[str, Any]]
    hold: threading.Event

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append(body)
        deadline = time.time() + 60
        while type(self).hold.is_set() and time.time() < deadline:
            time.sleep(0.05)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": [], "hold": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", handler
    handler.hold.clear()
    server.shutdown()
    server.server_close()


def _project(root: Path, rules: str, buildspec: str = FAILING) -> tuple[Path, dict[str, str]]:
    root.mkdir(parents=True, exist_ok=True)
    port, test_port = free_ports(2)
    text = PIPELINE.format(app=f"ev{uuid.uuid4().hex[:6]}", port=port, test_port=test_port)
    (root / "pipeline.yml").write_text(text + rules)
    (root / "buildspec.yml").write_text(buildspec)
    (root / "secrets.yml").write_text(f"parameter-store:\n  /events/token: {SECRET}\n")
    env = {
        **os.environ,
        "RUNNER_HOME": str(root / "home"),
        "NO_COLOR": "1",
        "RUNNER_SECRETS": str(root / "secrets.yml"),
    }
    return root, env


def _runner(root: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args], cwd=root, env=env, capture_output=True, text=True,
        timeout=LONGEST_WAIT_S,
    )  # fmt: skip


def _events(root: Path, env: dict[str, str]) -> list[dict[str, Any]]:
    listed = _runner(root, env, "events", "--json", "--since", "1h")
    assert listed.returncode == 0, listed.stderr
    return [json.loads(line) for line in listed.stdout.splitlines()]


def _store(env: dict[str, str]) -> Store:
    return Store(Path(env["RUNNER_HOME"]) / "state.db")


def _wait(condition: Any, what: str) -> None:
    deadline = time.time() + LONGEST_WAIT_S
    while not condition():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def test_a_failed_build_reaches_a_command_and_a_loopback_webhook(tmp_path: Path, hook: Any) -> None:
    url, handler = hook
    rules = (
        "notifications:\n"
        "  - name: failed-builds\n"
        "    pattern: {source: [aws.codebuild], detail-type: [CodeBuild Build State Change], "
        "detail: {build-status: [FAILED]}}\n"
        "    targets:\n"
        '      - command: "cat > got.json; echo $RUNNER_EVENT_DETAIL_BUILD_STATUS > got.status"\n'
        f"      - webhook: {url}\n"
    )
    root, env = _project(tmp_path / "p", rules)
    built = _runner(root, env, "build")
    assert built.returncode == 1, built.stdout + built.stderr
    # the build's own process delivered both before it exited
    by_command = json.loads((root / "got.json").read_text())
    assert (root / "got.status").read_text().strip() == "FAILED"
    [by_webhook] = handler.received
    assert by_command == by_webhook
    assert by_command["detail"]["build-status"] == "FAILED" and by_command["account"] == "000000000000"
    events = _events(root, env)
    assert [e["detail-type"] for e in events].count(shapes.BUILD_STATE) == 2  # IN_PROGRESS, FAILED
    phases = [e["detail"]["completed-phase"] for e in events if e["detail-type"] == shapes.BUILD_PHASE]
    assert phases[:3] == ["SUBMITTED", "PROVISIONING", "DOWNLOAD_SOURCE"] and "BUILD" in phases
    for event in events:
        assert_shape(event)
    failed_phase = next(e for e in events if e["detail"].get("completed-phase") == "BUILD")["detail"]
    assert failed_phase["completed-phase-status"] == "FAILED"
    assert "***" in failed_phase["completed-phase-context"]
    assert all(SECRET not in json.dumps(e) for e in events)  # masked, as in the log
    assert by_command["id"] == events[-1]["id"]
    store = _store(env)
    try:
        assert [d["status"] for d in deliveries.of_event(store, by_command["id"])] == [
            "DELIVERED",
            "DELIVERED",
        ]
    finally:
        store.close()


def test_a_runner_killed_mid_delivery_loses_nothing(tmp_path: Path, hook: Any) -> None:
    url, handler = hook
    rules = (
        "notifications:\n"
        "  - name: failed-builds\n"
        "    pattern: {source: [aws.codebuild], detail: {build-status: [FAILED]}}\n"
        f"    targets: [{{webhook: '{url}'}}]\n"
    )
    root, env = _project(tmp_path / "p", rules)
    handler.hold.set()  # the target takes the request and does not answer
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "build"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(lambda: handler.received, "the webhook's first request")
        os.kill(process.pid, signal.SIGKILL)  # after the state change, before its delivery is recorded
    finally:
        process.wait(timeout=30)
    handler.hold.clear()
    event_id = handler.received[0]["id"]
    store = _store(env)
    try:
        [row] = deliveries.of_event(store, event_id)
        assert row["status"] == "PENDING" and row["attempts"] == 1
        assert store.query("SELECT ended FROM delivery_attempts")[0][0] is None  # the attempt never ended
        listed = _runner(root, env, "events")  # the next runner command delivers it
        assert listed.returncode == 0, listed.stderr
        assert [body["id"] for body in handler.received] == [event_id, event_id]  # at least once
        [row] = deliveries.of_event(store, event_id)
        assert row["status"] == "DELIVERED" and row["attempts"] == 2
    finally:
        store.close()


def test_a_target_that_keeps_failing_is_listed_with_its_reason(tmp_path: Path) -> None:
    rules = (
        "notifications:\n"
        "  - name: broken\n"
        "    pattern: {detail-type: [CodeBuild Build State Change], detail: {build-status: [FAILED]}}\n"
        "    targets: [{command: 'echo no route to pager >&2; exit 7'}]\n"
    )
    root, env = _project(tmp_path / "p", rules)
    assert _runner(root, env, "build").returncode == 1
    store = _store(env)
    try:  # the first retries ran before the build's process exited (5 s drain); the rest now, at once
        store.execute("UPDATE deliveries SET next_attempt=0 WHERE status='PENDING'")
        for _ in range(5):
            _runner(root, env, "events")
            store.execute("UPDATE deliveries SET next_attempt=0 WHERE status='PENDING'")
        [failed] = deliveries.listed(store)
    finally:
        store.close()
    assert failed["status"] == "FAILED" and len(failed["attempts"]) == 5
    assert failed["reason"] == "the command exited 7: no route to pager (gave up after 5 attempts)"
    shown = _runner(root, env, "events", "--failed-deliveries")
    assert (
        "rule broken, command echo no route to pager >&2; exit 7: failed after 5 attempt(s): " in shown.stdout
    )
    as_json = [
        json.loads(line)
        for line in _runner(root, env, "events", "--failed-deliveries", "--json").stdout.splitlines()
    ]
    assert [d["reason"] for d in as_json] == [failed["reason"]]


def test_batch_tasks_name_their_batch(tmp_path: Path) -> None:
    batch = (
        "version: 0.2\nbatch:\n  build-list:\n    - identifier: one\n    - identifier: two\n"
        "phases:\n  build:\n    commands: [true]\n"
    )
    root, env = _project(tmp_path / "p", "", buildspec=batch)
    done = _runner(root, env, "build", "--batch", "--json")
    assert done.returncode == 0, done.stderr
    batch_id = json.loads(done.stdout)["batch_id"]
    states = [e for e in _events(root, env) if e["detail-type"] == shapes.BUILD_STATE]
    assert len(states) == 4  # each task: IN_PROGRESS, SUCCEEDED
    named = {
        (e["detail"]["additional-information"]["batch-build-identifier"], e["detail"]["build-status"])
        for e in states
    }
    assert named == {
        ("one", "IN_PROGRESS"),
        ("one", "SUCCEEDED"),
        ("two", "IN_PROGRESS"),
        ("two", "SUCCEEDED"),
    }
    arns = {e["detail"]["additional-information"]["build-batch-arn"] for e in states}
    assert arns == {f"arn:aws:codebuild:us-east-1:000000000000:build-batch/{batch_id}"}


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
    )


@pytest.mark.slow
def test_a_pipeline_execution_and_its_deployment_announce_every_state(tmp_path: Path) -> None:
    from runner.images.base import PYTHON

    root, env = _project(tmp_path / "repo", "account: '123456789012'\n", buildspec="")
    (root / "buildspec.yml").unlink()
    web = root / "web"
    web.mkdir()
    shutil.copy(APP, web / "app.py")
    (web / "Dockerfile").write_text(
        f'FROM {PYTHON}\nCOPY app.py /app/app.py\nCMD ["python3", "/app/app.py"]\n'
    )
    (web / "buildspec.yml").write_text("version: 0.2\nphases:\n  build:\n    commands: [true]\n")
    (root / ".gitignore").write_text("home/\nsecrets.yml\n")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", ".")
    _git(root, "commit", "-qm", "v1")
    try:
        run = _runner(root, env, "pipeline", "run", "--json")
        assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
        events = _events(root, env)
    finally:
        _runner(root, env, "down", "--all")
    for event in events:
        assert_shape(event)
        assert event["account"] == "123456789012"
    execution = json.loads(run.stdout)["id"]
    flow = [
        (e["detail-type"].split()[1], e["detail"].get("stage", ""), e["detail"]["state"])
        for e in events
        if e["source"] == "aws.codepipeline"
    ]
    assert flow[0] == ("Pipeline", "", "STARTED") and flow[-1] == ("Pipeline", "", "SUCCEEDED")
    for stage in ("Source", "Build", "Deploy-staging"):
        assert [f[0] + ":" + f[2] for f in flow if f[1] == stage] == [
            "Stage:STARTED", "Action:STARTED", "Action:SUCCEEDED", "Stage:SUCCEEDED",
        ]  # fmt: skip
    assert {e["detail"]["execution-id"] for e in events if e["source"] == "aws.codepipeline"} == {execution}
    deploy = [e["detail"] for e in events if e["detail-type"] == shapes.DEPLOYMENT_STATE]
    assert [(d["application"], d["deploymentGroup"], d["state"]) for d in deploy] == [
        ("web", "staging", "START"),
        ("web", "staging", "SUCCESS"),
    ]
    builds = [e["detail"]["build-status"] for e in events if e["detail-type"] == shapes.BUILD_STATE]
    # the service build, reopened for its image step (the store records it IN_PROGRESS again)
    assert builds == ["IN_PROGRESS", "SUCCEEDED", "IN_PROGRESS", "SUCCEEDED"]
