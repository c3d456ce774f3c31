"""A dashboard re-run of a plain build keeps its secondary sources (from the stored result)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from runner.codebuild.build import BuildRequest
from runner.codebuild.secondary_sources import SecondarySource
from runner.store import Store
from tests.web import fixtures
from tests.web.test_api import wait_job


def plain_build_with(store: Store, number: int, app: Path, secondary: dict[str, Path]) -> str:
    result = {"secondary_sources": {ident: {"path": str(path)} for ident, path in secondary.items()}}
    build_id = fixtures.build(
        store, number, "SUCCEEDED", fixtures.NOW, id=f"app:{number}", service=None, result=result
    )
    store.execute("UPDATE builds SET source_dir=? WHERE id=?", (str(app), build_id))
    return build_id


def test_the_rerun_gets_the_same_secondary_sources(
    client: TestClient, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    app, lib = tmp_path / "app", tmp_path / "lib"
    app.mkdir(), lib.mkdir()
    (app / "buildspec.yml").write_text("version: 0.2\n")
    asked: list[BuildRequest] = []

    def run_build(request: BuildRequest, store: Store, show: Any) -> dict[str, str]:
        asked.append(request)
        return {"status": "SUCCEEDED"}

    monkeypatch.setattr("runner.codebuild.build.run_build", run_build)
    started = client.post(f"/api/builds/{plain_build_with(store, 50, app, {'lib': lib})}/rerun")
    assert started.status_code == 202, started.text
    assert wait_job(client, started.json())["status"] == "Succeeded"
    assert [r.secondary_sources for r in asked] == [(SecondarySource("lib", lib),)]

    gone = plain_build_with(store, 51, app, {"lib": tmp_path / "removed"})
    refused = client.post(f"/api/builds/{gone}/rerun")
    assert refused.status_code == 409
    assert refused.json()["error"] == (
        f"cannot re-run: the secondary source lib ({tmp_path / 'removed'}) is gone"
    )


@pytest.mark.docker
def test_a_rerun_is_the_same_build(
    client: TestClient, store: Store, home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`runner build -d --env … --timeout … --memory … --region …`, then the dashboard's re-run:
    the same request is stored and run (only the initiator differs), and the build sees the flags."""
    from runner import cli
    from runner.codebuild.build_control import stored_request
    from runner.store.builds import get_build, list_builds

    app = tmp_path / "app"
    app.mkdir()
    (app / "buildspec.yml").write_text(
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        '      - echo "greeting=$GREETING region=$AWS_REGION"\n'
        "      - test -S /var/run/docker.sock && echo privileged-socket\n"
    )
    monkeypatch.setenv("RUNNER_HOME", str(home))
    flags = ["-d", "--env", "GREETING=hi", "--timeout", "7", "--memory", "256m", "--region", "eu-west-3"]
    assert cli.main(["build", "-s", str(app), "--project", "rerun-same", *flags]) == 0
    first = next(b for b in list_builds(store, limit=100) if b.project == "rerun-same")
    started = client.post(f"/api/builds/{first.id}/rerun")
    assert started.status_code == 202, started.text
    job = started.json()
    for _ in range(600):
        job = client.get(f"/api/jobs/{job['id']}").json()
        if job["status"] != "InProgress":
            break
        time.sleep(0.1)
    assert job["status"] == "Succeeded", job
    again = get_build(store, job["result"]["id"])
    assert again is not None and again.id != first.id and again.status == "SUCCEEDED"
    asked, rerun = stored_request(first), stored_request(again)
    assert asked is not None and rerun is not None
    assert (asked.privileged, dict(asked.overrides), asked.timeout_min, asked.memory, asked.region) == (
        True,
        {"GREETING": "hi"},
        7.0,
        "256m",
        "eu-west-3",
    )
    assert replace(rerun, initiator=asked.initiator) == asked and rerun.initiator == "ui"
    lines = store.query("SELECT text FROM log_lines WHERE build_id=?", (again.id,))
    log = "\n".join(r["text"] for r in lines)
    assert "greeting=hi region=eu-west-3" in log and "privileged-socket" in log
