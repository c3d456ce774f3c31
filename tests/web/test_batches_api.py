"""Batches in the dashboard's API: task builds carry `batch` as in `runner history --json`,
and a batch opens to its tasks (never-run ones included), as a page and as JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from runner.cli import main
from runner.store import Store, batches


def test_a_batch_and_its_task_builds(
    client: TestClient,
    store: Store,
    rows: dict[str, str],
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    made = batches.create_batch(
        store, "demo", "build-graph", "buildspec.yml", [("a", (), {}), ("b", ("a",), {})], 1, {}
    )
    batches.link_build(store, made.id, "a", rows["finished"])
    batches.finish_batch(store, made.id, "FAILED")
    listed = {b["id"]: b for b in client.get("/api/builds").json()}
    assert listed[rows["finished"]]["batch"] == {"id": "demo:batch-1", "identifier": "a"}
    assert "batch" not in listed[rows["running"]]
    monkeypatch.setenv("RUNNER_HOME", str(home))
    capsys.readouterr()
    assert main(["history", "--json"]) == 0
    assert list(listed.values()) == json.loads(capsys.readouterr().out)
    got = client.get("/api/batches/batch-1").json()
    assert (got["batch_id"], got["status"], got["kind"]) == ("demo:batch-1", "FAILED", "build-graph")
    assert [(t["identifier"], t["build_id"], t["status"], t["depends_on"]) for t in got["builds"]] == [
        ("a", rows["finished"], "FAILED", []),
        ("b", None, "STOPPED", ["a"]),
    ]
    assert got["builds"][1]["number"] is None
    assert client.get("/api/batches/batch-9").status_code == 404
    page = client.get("/batches/demo:batch-1")
    assert page.status_code == 200 and "batch" in page.text
