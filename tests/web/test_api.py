"""The JSON API over fixture rows: the same objects as the CLI, and actions through the adapter."""

from __future__ import annotations

import json
import sys
import threading
import time
import types
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from runner.cli import main
from runner.errors import RunnerError
from runner.store import Store
from runner.store.builds import append_logs, finish_build
from runner.web.security import TOKEN_HEADER
from tests.web import fixtures
from tests.web.conftest import TOKEN, make_client
from tests.web.fixtures import pipeline_yml


def cli_json(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, home: Path, *argv: str
) -> Any:
    monkeypatch.setenv("RUNNER_HOME", str(home))
    capsys.readouterr()
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


# ------------------------------------------------------------------ builds and logs


def test_builds_are_the_objects_runner_history_prints(
    client: TestClient, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    response = client.get("/api/builds")
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "2"
    assert response.json() == cli_json(capsys, monkeypatch, home, "history", "--json")


def test_history_filters_and_pages(client: TestClient, rows: dict[str, str]) -> None:
    failed = client.get("/api/builds", params={"status": "failed"}).json()
    assert [b["id"] for b in failed] == [rows["finished"]]
    assert [b["id"] for b in client.get("/api/builds", params={"service": "offers"}).json()] == [
        rows["running"]
    ]
    page = client.get("/api/builds", params={"limit": 1, "offset": 1})
    assert page.headers["X-Total-Count"] == "2" and [b["number"] for b in page.json()] == [1]
    assert client.get("/api/builds", params={"q": "00000002"}).json()[0]["id"] == rows["running"]
    assert client.get("/api/builds", params={"since": fixtures.NOW - 120}).json()[0]["id"] == rows["running"]
    assert client.get("/api/builds/facets").json() == {
        "services": ["catalog", "offers"],
        "projects": ["demo"],
        "statuses": ["FAILED", "IN_PROGRESS"],
    }


def test_build_page_data(client: TestClient, rows: dict[str, str]) -> None:
    build = client.get(f"/api/builds/{rows['finished']}").json()
    assert build["status"] == "FAILED" and build["log_lines"] == 4
    assert [(p["name"], p["status"]) for p in build["phases"]][2] == ("BUILD", "FAILED")
    assert build["phases"][2]["status_code"] == "COMMAND_EXECUTION_ERROR"
    assert build["phases"][2]["duration_s"] == 7
    assert build["result"]["reports"][0]["failures"][0]["name"] == "test_price"
    assert build["result"]["exported_variables"]["TOKEN"] == "***"
    running = client.get("/api/builds/demo:2").json()  # project:number works like `runner logs`
    assert running["id"] == rows["running"] and running["result"] is None and running["ended"] is None
    assert client.get("/api/builds/nope").json() == {"error": "no build 'nope'"}


def test_log_pages(client: TestClient, rows: dict[str, str]) -> None:
    url = f"/api/builds/{rows['finished']}/logs"
    assert [seq for seq, _ in client.get(url, params={"tail": 2}).json()["lines"]] == [3, 4]
    page = client.get(url, params={"after": 1, "limit": 2}).json()
    assert page["lines"] == [[2, "make test"], [3, fixtures.SECRET_LOOKING]]
    assert (page["first_seq"], page["last_seq"]) == (1, 4)
    assert [s for s, _ in client.get(url, params={"before": 3, "limit": 5}).json()["lines"]] == [1, 2]
    text = client.get(f"/api/builds/{rows['finished']}/logs.txt").text
    assert text.splitlines()[-1] == "<b>not html</b>" and text.count("\n") == 4


def sse_events(body: str) -> list[tuple[str, Any]]:
    events = []
    for block in body.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if not line.startswith(":"))
        if "event" in fields:
            events.append((fields["event"], json.loads(fields["data"])))
    return events


def test_log_stream_of_an_ended_build_sends_its_lines_then_end(
    client: TestClient, rows: dict[str, str]
) -> None:
    response = client.get(f"/api/builds/{rows['finished']}/logs/stream", params={"after": 2})
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert events == [
        ("lines", [[3, fixtures.SECRET_LOOKING], [4, "<b>not html</b>"]]),
        ("end", {"status": "FAILED"}),
    ]


def test_log_stream_follows_a_running_build_until_it_ends(
    client: TestClient, store: Store, rows: dict[str, str]
) -> None:
    def runner_side() -> None:
        for seq in (1, 2, 3):
            time.sleep(0.3)
            append_logs(store, rows["running"], seq, [(time.time(), f"line {seq}")])
        finish_build(store, rows["running"], "SUCCEEDED", {"id": rows["running"], "status": "SUCCEEDED"})

    writer = threading.Thread(target=runner_side)
    writer.start()
    response = client.get(f"/api/builds/{rows['running']}/logs/stream", headers={"Last-Event-ID": "0"})
    writer.join()
    events = sse_events(response.text)
    lines = [text for name, batch in events if name == "lines" for _, text in batch]
    assert lines == ["line 1", "line 2", "line 3"]
    assert events[-1] == ("end", {"status": "SUCCEEDED"})


def test_artifacts_download_and_path_escape(client: TestClient, rows: dict[str, str]) -> None:
    base = f"/api/builds/{rows['finished']}/artifacts"
    zipped = client.get(f"{base}/artifacts.zip")
    assert zipped.status_code == 200 and zipped.content.startswith(b"PK")
    assert "attachment" in zipped.headers["content-disposition"]
    assert client.get(f"{base}/artifacts/dist/app.txt").text == "hello artifact\n"
    for escape in ("artifacts/../../../state.db", "artifacts/%2e%2e/%2e%2e/%2e%2e/state.db", "other.zip"):
        assert client.get(f"{base}/{escape}").status_code == 404


# ------------------------------------------------------------------ pipeline, environments, metrics


def test_executions_match_runner_pipeline_status(
    client: TestClient,
    rows: dict[str, str],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    home: Path,
) -> None:
    executions = client.get("/api/executions").json()
    assert [e["id"] for e in executions] == [rows["execution"]]
    cli = cli_json(capsys, monkeypatch, home, "pipeline", "status", "--json")[0]
    for key, value in cli.items():  # every field the CLI prints, with the same value
        assert executions[0][key] == value, key
    assert executions[0]["approvals"][0]["status"] == "Pending"
    assert "secret-approval-token" not in json.dumps(executions)
    assert client.get("/api/executions/nope").status_code == 404


class Health(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/catalog/health" else 404)
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def live_router() -> Iterator[int]:
    """A stand-in for an environment's router on a free port, answering the catalog's health path."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def test_environments_show_slots_weights_health_and_deployments(
    store: Store,
    home: Path,
    rows: dict[str, str],
    tmp_path: Path,
    live_router: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # `runner status` refuses (e.g. no engine): the dashboard probes health itself
    monkeypatch.setitem(sys.modules, "runner.codedeploy", types.SimpleNamespace(status=_status_refused))
    with make_client(store, home, pipeline_yml(tmp_path, live_router), **{TOKEN_HEADER: TOKEN}) as client:
        envs = client.get("/api/environments").json()
        executions = client.get("/api/executions").json()
    assert [e["name"] for e in envs] == ["staging", "prod"]  # pipeline.yml's order
    prod = envs[1]["services"][0]
    assert prod["live_slot"] == "blue" and prod["live"]["tag"] == "catalog:c0ffee000000"
    assert prod["weights"] == {"blue": 100.0, "green": 0.0}
    assert prod["health"]["status"] == "healthy" and prod["health"]["url"].endswith("/catalog/health")
    assert [d["id"] for d in prod["deployments"]] == ["d-AAAAAAAA2", "d-AAAAAAAA1"]
    assert [e["name"] for e in prod["deployments"][0]["lifecycle_events"]][-1] == "AllowTraffic"
    assert "hunter2" not in json.dumps(envs)  # environment variables of a deployment are never shown
    assert [s["name"] for s in executions[0]["stages"]][-1] == "Deploy-prod"  # planned, not reached
    assert executions[0]["stages"][-1]["status"] == "Pending"


def test_health_and_slot_containers_come_from_runner_status(
    store: Store, home: Path, rows: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported = {
        "app": "demo",
        "environments": [
            {
                "name": "prod",
                "services": [
                    {
                        "service": "catalog",
                        "live_slot": "blue",
                        "health": "unhealthy (502)",
                        "slots": {
                            "blue": {"image": None, "container": "running", "health": "unhealthy (502)"},
                            "green": {"image": None, "container": "absent", "health": "absent"},
                        },
                    }
                ],
            }
        ],
        "queue": [],
    }

    def status(config: Any, store: Store, environment: str | None = None) -> dict[str, Any]:
        assert config.app == "demo"
        return reported

    monkeypatch.setitem(sys.modules, "runner.codedeploy", types.SimpleNamespace(status=status))
    with make_client(store, home, pipeline_yml(tmp_path, 9), **{TOKEN_HEADER: TOKEN}) as client:
        envs = client.get("/api/environments").json()
        assert client.get("/api/status").json() == reported  # exactly `runner status --json`
    health = envs[1]["services"][0]["health"]
    assert (health["status"], health["detail"]) == ("unhealthy", "runner status: unhealthy (502)")
    # the store still names green's image; only the engine knows its container is gone
    assert envs[1]["services"][0]["slots"]["green"]["tag"] == "catalog:0ld000000000"
    assert envs[1]["services"][0]["slot_containers"] == {"blue": "running", "green": "absent"}
    assert envs[0]["services"][0]["slot_containers"] == {}  # staging: runner status said nothing


def test_deployment_detail_and_events(client: TestClient, store: Store) -> None:
    store.event("deployment.weights", "d-AAAAAAAA2", blue=90, green=10)
    found = client.get("/api/deployments/d-AAAAAAAA2").json()
    assert found["status"] == "Failed" and found["events"][-1]["data"] == {"blue": 90, "green": 10}
    assert [d["id"] for d in client.get("/api/deployments", params={"environment": "prod"}).json()] == [
        "d-AAAAAAAA2",
        "d-AAAAAAAA1",
    ]


def test_metrics_are_what_runner_metrics_prints(
    client: TestClient, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    api = client.get("/api/metrics", params={"days": 7}).json()
    cli = cli_json(capsys, monkeypatch, home, "metrics", "--days", "7", "--json")
    assert api["groups"] == cli["groups"]
    prod = next(g for g in api["groups"] if g["environment"] == "prod" and g["service"] == "catalog")
    assert (prod["deployments"], prod["failures"], prod["change_failure_rate"]) == (1, 1, 0.5)
    assert len(prod["daily"]) in (7, 8)


def test_openapi_document_describes_the_api(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    assert {
        "/api/builds",
        "/api/builds/{build_id}/logs/stream",
        "/api/environments",
        "/api/metrics",
        "/api/executions/{execution_id}/approve",
        "/api/environments/{environment}/rollback",
    } <= set(document["paths"])
    assert "BuildSummary" in document["components"]["schemas"]
    assert client.get("/docs").status_code == 404  # no Swagger UI: it would load assets from a CDN


# ------------------------------------------------------------------ actions through the adapter


@pytest.fixture
def fake_pipeline(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    module = types.ModuleType("runner.codepipeline.execution")
    module.approve = lambda store, execution_id, summary: calls.append(("approve", execution_id, summary))  # type: ignore[attr-defined]
    module.reject = lambda store, execution_id, summary: calls.append(("reject", execution_id, summary))  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "runner.codepipeline.execution", module)
    return calls


def test_approve_and_reject_call_the_pipeline(
    client: TestClient, rows: dict[str, str], fake_pipeline: list[tuple[Any, ...]]
) -> None:
    url = f"/api/executions/{rows['execution']}"
    assert client.post(f"{url}/approve", json={"summary": "looks good"}).status_code == 200
    assert client.post(f"{url}/reject", json={"summary": ""}).status_code == 422  # a reason is required
    assert client.post(f"{url}/reject", json={"summary": "not today"}).status_code == 200
    assert fake_pipeline == [
        ("approve", rows["execution"], "looks good"),
        ("reject", rows["execution"], "not today"),
    ]


def test_approve_with_the_real_pipeline_module(
    client: TestClient, store: Store, rows: dict[str, str]
) -> None:
    response = client.post(f"/api/executions/{rows['execution']}/approve", json={"summary": "ship it"})
    assert response.status_code == 200, response.text
    assert client.get(f"/api/executions/{rows['execution']}").json()["approval"]["status"] == "Approved"
    again = client.post(f"/api/executions/{rows['execution']}/approve", json={})
    assert again.status_code == 409 and "no approval waiting" in again.json()["error"]


def _status_refused(*_args: Any) -> None:
    raise RunnerError("no engine")


def wait_job(client: TestClient, job: dict[str, Any]) -> dict[str, Any]:
    for _ in range(100):
        job = client.get(f"/api/jobs/{job['id']}").json()
        if job["status"] != "InProgress":
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job['id']} did not end")


def test_rollback_runs_the_deploy_rollback_as_a_job(
    store: Store, home: Path, rows: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[Any, ...]] = []

    def rollback(
        config: Any, store: Store, environment: str, service: str | None, say: Any
    ) -> dict[str, str]:
        say(f"flipping {service} back")
        calls.append((config.app, environment, service))
        return {"id": "d-ROLLBACK1", "status": "Succeeded"}

    monkeypatch.setitem(sys.modules, "runner.codedeploy", types.SimpleNamespace(rollback=rollback))
    with make_client(store, home, pipeline_yml(tmp_path, 9), **{TOKEN_HEADER: TOKEN}) as client:
        started = client.post("/api/environments/prod/rollback", json={"service": "catalog"})
        assert started.status_code == 202
        job = wait_job(client, started.json())
    assert calls == [("demo", "prod", "catalog")]
    assert (job["status"], job["messages"], job["result"]["id"]) == (
        "Succeeded",
        ["flipping catalog back"],
        "d-ROLLBACK1",
    )


def test_rollback_needs_a_pipeline_yml(client: TestClient, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "runner.codedeploy", types.SimpleNamespace(rollback=print))
    response = client.post("/api/environments/prod/rollback", json={})
    assert response.status_code == 409 and "no pipeline.yml" in response.json()["error"]


def test_rerun_of_a_build_whose_source_is_gone(
    client: TestClient, rows: dict[str, str], store: Store
) -> None:
    store.execute("UPDATE builds SET service=NULL WHERE id=?", (rows["finished"],))
    response = client.post(f"/api/builds/{rows['finished']}/rerun")
    assert response.status_code == 409 and "is gone" in response.json()["error"]
