"""Routing events to rules and delivering them: command, loopback webhook, desktop; retries,
attempts, leases; and the `notifications:` section of pipeline.yml."""

from __future__ import annotations

import itertools
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from runner.core import config_loader
from runner.errors import ConfigError
from runner.events import delivery, shapes
from runner.events.rules import DEFAULT_RULES, Rule, Target, effective
from runner.store import Store, deliveries, outbox
from runner.store.builds import BuildRecord, create_build, finish_build

FAST = delivery.Policy(attempts=3, first_backoff_s=0.05, max_backoff_s=0.1, hold_s=30)
FAILED_BUILDS = {"source": ["aws.codebuild"], "detail": {"build-status": ["FAILED"]}}


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store(tmp_path / "state.db")
    outbox.configure(opened, shapes.Where())
    return opened


def _failed_build(store: Store) -> None:
    record = BuildRecord(
        id="proj:b1", project="proj", number=0, service=None, status="IN_PROGRESS", initiator="me",
        source_dir="/src", source_version=None, resolved_source_version=None, build_image="img",
        buildspec="buildspec.yml", started=time.time(), ended=None, pid=1, result=None,
    )  # fmt: skip
    create_build(store, record)
    finish_build(store, record.id, "FAILED", {})


def _project(tmp_path: Path, *rules: Rule) -> delivery.Project:
    return delivery.Project(shapes.Where(), rules, tmp_path)


def _drain(store: Store, project: delivery.Project, policy: delivery.Policy = FAST) -> int:
    return delivery.pump(store, project, policy, deadline=time.time() + 5)


def test_a_command_target_gets_the_event_on_stdin_and_in_variables(store: Store, tmp_path: Path) -> None:
    script = "cat > got.json; env | grep ^RUNNER_EVENT_ | sort > got.env"
    _failed_build(store)
    made = _drain(store, _project(tmp_path, Rule("failed", FAILED_BUILDS, (Target("command", script),))))
    assert made == 1  # the IN_PROGRESS event matched nothing
    event = json.loads((tmp_path / "got.json").read_text())
    assert event["detail-type"] == shapes.BUILD_STATE and event["detail"]["build-status"] == "FAILED"
    env = dict(line.split("=", 1) for line in (tmp_path / "got.env").read_text().splitlines())
    assert env["RUNNER_EVENT_ID"] == event["id"]
    assert env["RUNNER_EVENT_DETAIL_BUILD_STATUS"] == "FAILED"
    assert env["RUNNER_EVENT_RULE"] == "failed"
    assert [d["status"] for d in deliveries.of_event(store, event["id"])] == ["DELIVERED"]


class _Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, bytes]]] = []
    answers: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, body))
        code = type(self).answers.pop(0) if type(self).answers else 200
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def hook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": [], "answers": []})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def test_a_loopback_webhook_gets_the_event_or_a_slack_text(store: Store, tmp_path: Path, hook: Any) -> None:
    url, handler = hook
    targets = (Target("webhook", f"{url}/hook"), Target("webhook", f"{url}/slack", "slack"))
    _failed_build(store)
    _drain(store, _project(tmp_path, Rule("failed", FAILED_BUILDS, targets)))
    bodies = {path: json.loads(body) for path, body in handler.received}
    assert bodies["/hook"]["detail"]["build-status"] == "FAILED"
    assert set(bodies["/slack"]) == {"text"} and "CodeBuild Build State Change" in bodies["/slack"]["text"]


def test_a_failing_target_is_retried_with_backoff_and_every_attempt_recorded(
    store: Store, tmp_path: Path
) -> None:
    _failed_build(store)
    started = time.time()
    made = _drain(
        store,
        _project(tmp_path, Rule("failed", FAILED_BUILDS, (Target("command", "echo down >&2; exit 3"),))),
    )
    assert made == 3
    [failed] = deliveries.listed(store)
    assert failed["status"] == "FAILED" and failed["rule"] == "failed"
    assert failed["reason"] == "the command exited 3: down (gave up after 3 attempts)"
    attempts = failed["attempts"]
    assert [a["attempt"] for a in attempts] == [1, 2, 3] and all(a["ok"] == 0 for a in attempts)
    gaps = [b["started"] - a["ended"] for a, b in itertools.pairwise(attempts)]
    assert gaps[0] >= 0.05 and gaps[1] >= 0.1  # backoff, doubling
    assert time.time() - started < 5


def test_a_target_that_recovers_is_delivered_on_a_later_attempt(
    store: Store, tmp_path: Path, hook: Any
) -> None:
    url, handler = hook
    handler.answers.extend([503])
    _failed_build(store)
    _drain(store, _project(tmp_path, Rule("failed", FAILED_BUILDS, (Target("webhook", url),))))
    event_id = json.loads(handler.received[-1][1])["id"]
    [row] = deliveries.of_event(store, event_id)
    assert row["status"] == "DELIVERED" and row["attempts"] == 2
    assert row["last_error"] is None
    assert len(handler.received) == 2


def test_a_delivery_held_by_a_dead_process_is_taken_over(store: Store, tmp_path: Path) -> None:
    _failed_build(store)
    project = _project(tmp_path, Rule("failed", FAILED_BUILDS, (Target("command", "cat > got.json"),)))
    delivery.route_new(store, project.rules, time.time())
    store.execute("UPDATE deliveries SET holder_pid=?, held_until=?", (2**22 + 12345, time.time() + 600))
    assert _drain(store, project) == 1
    assert (tmp_path / "got.json").is_file()


def test_desktop_is_skipped_without_notify_send(store: Store, tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    _failed_build(store)
    _drain(store, _project(tmp_path, *DEFAULT_RULES))
    rows = store.query("SELECT rule, status, last_error FROM deliveries")
    assert [tuple(r) for r in rows] == [("default-failed-builds", "SKIPPED", "notify-send is not installed")]


def test_events_older_than_the_maximum_age_are_not_delivered(store: Store, tmp_path: Path) -> None:
    _failed_build(store)
    store.execute("UPDATE outbox SET ts=ts-?", (delivery.MAX_EVENT_AGE_S + 60,))
    assert _drain(store, _project(tmp_path, Rule("failed", FAILED_BUILDS, (Target("command", "true"),)))) == 0
    assert store.query("SELECT COUNT(*) FROM deliveries")[0][0] == 0


# ---------------------------------------------------------------- pipeline.yml

PIPELINE = """\
app: shop
services: {api: {path: api}}
environments: [{name: staging, port: 8081, test_port: 9081}]
"""


def test_notifications_as_the_issue_writes_them(tmp_path: Path) -> None:
    text = PIPELINE + (
        "notifications:\n"
        "  - name: failed-builds\n"
        "    pattern: {source: [aws.codebuild], detail-type: [CodeBuild Build State Change], "
        "detail: {build-status: [FAILED]}}\n"
        "    targets:\n"
        '      - command: "python3 notify.py"       # event JSON on stdin\n'
        "      - webhook: http://127.0.0.1:9000/hook\n"
        "        format: slack\n"
        "      - desktop: true\n"
        "account: '123456789012'\n"
    )
    loaded = config_loader.loads(text, tmp_path / "pipeline.yml")
    [rule] = loaded.notifications
    assert rule.pattern == {
        "source": ["aws.codebuild"],
        "detail-type": ["CodeBuild Build State Change"],
        "detail": {"build-status": ["FAILED"]},
    }
    assert rule.targets == (
        Target("command", "python3 notify.py"),
        Target("webhook", "http://127.0.0.1:9000/hook", "slack"),
        Target("desktop"),
    )
    assert loaded.account == "123456789012" and loaded.default_notifications is True
    assert effective(loaded.notifications, loaded.default_notifications) == (*DEFAULT_RULES, rule)
    off = config_loader.loads(PIPELINE + "default_notifications: false\n", tmp_path / "pipeline.yml")
    assert effective(off.notifications, off.default_notifications) == ()
    assert config_loader.loads(PIPELINE, tmp_path / "pipeline.yml").account == "000000000000"


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            "  - name: x\n    pattern: {detail: {n: [{numeric: ['>', five]}]}}\n"
            "    targets: [{desktop: true}]\n",
            "pipeline.yml:6:38: notifications[0].pattern.detail.n[0].numeric: expected [OP, NUMBER]",
        ),
        (
            "  - name: x\n    pattern: {source: aws.codebuild}\n    targets: [{desktop: true}]\n",
            "pipeline.yml:6:23: notifications[0].pattern.source: expected a list of values",
        ),
        (
            "  - name: x\n    pattern: {source: [a]}\n    targets: [{command: x, webhook: 'http://a'}]\n",
            "pipeline.yml:7:15: notifications[0].targets[0]: expected exactly one of command, webhook",
        ),
        (
            "  - name: x\n    pattern: {source: [a]}\n    targets: [{webhook: ftp://a}]\n",
            "pipeline.yml:7:25: notifications[0].targets[0].webhook: expected an http:// or https:// URL",
        ),
        (
            "  - name: x\n    pattern: {source: [a]}\n    targets: [{command: x, format: slack}]\n",
            "pipeline.yml:7:15: notifications[0].targets[0].format: format applies to a webhook target only",
        ),
        (
            "  - {name: x, pattern: {source: [a]}, targets: [{desktop: true}]}\n"
            "  - {name: x, pattern: {source: [b]}, targets: [{desktop: true}]}\n",
            "pipeline.yml:6:12: notifications[1].name: rule 'x' is defined twice",
        ),
    ],
)
def test_bad_notifications_name_file_line_col(tmp_path: Path, section: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        config_loader.loads(PIPELINE + "notifications:\n" + section, Path("pipeline.yml"))
    assert str(caught.value).startswith(message)


# ---------------------------------------------------------------- runner events


def test_events_follow_prints_new_events_as_json_lines_until_ctrl_c(store: Store, tmp_path: Path) -> None:
    import os
    import signal
    import subprocess
    import sys

    env = {**os.environ, "RUNNER_HOME": str(store.path.parent), "RUNNER_DEFAULT_NOTIFICATIONS": "off"}
    command = [sys.executable, "-m", "runner", "events", "--follow", "--json"]
    with subprocess.Popen(command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, text=True) as follow:
        try:
            time.sleep(1.0)  # it is following
            _failed_build(store)
            assert follow.stdout is not None
            lines = [json.loads(follow.stdout.readline()) for _ in range(2)]
            assert [e["detail"]["build-status"] for e in lines] == ["IN_PROGRESS", "FAILED"]
            follow.send_signal(signal.SIGINT)
            assert follow.wait(timeout=20) == 0
        finally:
            follow.kill()


def test_since_takes_iso_8601_or_a_duration() -> None:
    from runner.commands.events import parse_since
    from runner.errors import UsageError

    assert parse_since("2026-12-01T10:00:00Z") == 1796119200.0
    assert parse_since("2026-12-01T12:00:00+02:00") == 1796119200.0
    assert parse_since("2026-12-01") == 1796083200.0
    assert abs(parse_since("10m") - (time.time() - 600)) < 2
    with pytest.raises(UsageError, match="expected an ISO 8601 time or a duration such as 10m"):
        parse_since("yesterday")
