"""A dashboard re-run of a plain build keeps its secondary sources (from the stored result)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from runner.build import BuildRequest
from runner.secondary_sources import SecondarySource
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

    monkeypatch.setattr("runner.build.run_build", run_build)
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
