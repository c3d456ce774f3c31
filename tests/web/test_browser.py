"""End to end in headless chromium: pages show the store, actions reach the adapter, logs stream live."""

from __future__ import annotations

import sys
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.store import Store
from runner.store.builds import running_builds
from tests.integration import helpers
from tests.web import fixtures
from tests.web.browser import TOKEN, chromium, dashboard, shot

EXECUTION = fixtures.EXECUTION


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    page.close()
    assert not errors, f"JavaScript errors: {errors}"


def set_weights(store: Store, blue: int, green: int) -> None:
    store.execute(
        "UPDATE env_state SET weights=?, updated=? WHERE environment='prod' AND service='catalog'",
        (f'{{"blue": {blue}, "green": {green}}}', time.time()),
    )


def fake_pipeline(store: Store, calls: list[tuple[str, ...]]) -> types.ModuleType:
    """Stands in for runner.pipeline: approving starts the prod deployment as a canary (10 % green)."""
    module = types.ModuleType("runner.pipeline")

    def approve(_store: Store, execution_id: str, summary: str) -> str:
        calls.append(("approve", execution_id, summary))
        store.execute(
            "UPDATE approvals SET status='Approved', decided=? WHERE execution_id=?",
            (time.time(), execution_id),
        )
        store.execute(
            "UPDATE stage_executions SET status='Succeeded', ended=? "
            "WHERE execution_id=? AND stage='Approval-prod'",
            (time.time(), execution_id),
        )
        fixtures.insert(
            store,
            "stage_executions",
            execution_id=execution_id,
            stage="Deploy-prod",
            status="InProgress",
            started=time.time(),
            ended=None,
            detail={},
        )
        set_weights(store, 90, 10)
        return execution_id

    module.approve = approve  # type: ignore[attr-defined]
    return module


def test_approve_watch_the_canary_shift_then_roll_back(
    page: Any, store: Store, home: Path, rows: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[tuple[str, ...]] = []
    monkeypatch.setitem(sys.modules, "runner.pipeline", fake_pipeline(store, calls))
    rollback_calls: list[tuple[str, str | None]] = []

    def rollback(
        _config: Any, _store: Store, environment: str, service: str | None, say: Any
    ) -> dict[str, str]:
        rollback_calls.append((environment, service))
        say("traffic back on blue")
        set_weights(store, 100, 0)
        return {"id": "d-ROLLBACK1", "status": "Succeeded"}

    monkeypatch.setitem(sys.modules, "runner.deploy", types.SimpleNamespace(rollback=rollback))
    with dashboard(store, home, fixtures.pipeline_yml(tmp_path, 9)) as base:
        page.goto(f"{base}/?token={TOKEN}")
        assert "token" not in page.url  # traded for the cookie
        approval = page.locator(f'[data-execution="{EXECUTION}"] [data-stage="Approval-prod"]')
        approval.get_by_text("Waiting").wait_for()
        shot(page, "pipelines-waiting-approval")
        approval.locator("input.summary").fill("staging looks good")
        approval.get_by_role("button", name="Approve").click()
        page.locator('[data-stage="Approval-prod"] .badge.ok').wait_for()
        page.locator('[data-stage="Deploy-prod"]').get_by_text("InProgress").wait_for()
        assert calls == [("approve", EXECUTION, "staging looks good")]
        shot(page, "pipelines-approved")

        page.goto(f"{base}/environments")
        prod = page.locator('[data-environment="prod"] [data-service="catalog"]')
        prod.locator('[data-slot="green"][data-weight="10"]').wait_for()  # the canary's first step
        assert prod.locator('[data-slot="blue"]').get_attribute("data-weight") == "90"
        shot(page, "environments-canary-10")
        set_weights(store, 0, 100)  # the deployment's next step, as the deploy code records it
        prod.locator('[data-slot="green"][data-weight="100"]').wait_for()
        assert prod.locator('[data-slot="blue"]').count() == 0
        shot(page, "environments-canary-100")

        page.once("dialog", lambda dialog: dialog.accept())
        prod.get_by_role("button", name="Roll back").click()
        page.locator("#notice").get_by_text("rollback prod/catalog: Succeeded").wait_for()
        prod.locator('[data-slot="blue"][data-weight="100"]').wait_for()
        assert rollback_calls == [("prod", "catalog")]
        shot(page, "environments-rolled-back")


def test_history_build_and_metrics_pages(page: Any, store: Store, home: Path, rows: dict[str, str]) -> None:
    for number in range(3, 40):
        fixtures.build(
            store,
            number,
            "SUCCEEDED" if number % 5 else "FAILED",
            fixtures.NOW - number * 600,
            ended=fixtures.NOW - number * 600 + 42,
        )
    with dashboard(store, home) as base:
        page.goto(f"{base}/history?token={TOKEN}")
        page.locator("#history-table tbody tr").first.wait_for()
        assert page.locator("#total").inner_text().startswith("39 build(s)")
        page.locator('select[name="status"]').select_option("FAILED")
        page.get_by_role("button", name="Filter").click()
        page.locator("#total").get_by_text("8 build(s)").wait_for()
        shot(page, "history-filtered-failed")

        page.get_by_role("link", name=rows["finished"]).click()
        page.locator('[data-phase="BUILD"]').get_by_text("COMMAND_EXECUTION_ERROR").wait_for()
        page.get_by_text("test_price").wait_for()
        page.locator("#log").get_by_text("<b>not html</b>").wait_for()  # shown as text, not markup
        assert page.locator("#log b").count() == 0
        href = page.get_by_role("link", name="artifacts.zip").get_attribute("href")
        assert page.request.get(base + href).body().startswith(b"PK")
        assert page.get_by_role("cell", name="IMAGE_TAG").count() == 1
        shot(page, "build-failed-with-report")

        page.goto(f"{base}/metrics?days=7")
        prod = page.locator('[data-group="prod/catalog"]')
        prod.get_by_text("50%").wait_for()  # one failed change of two
        assert prod.locator("svg.chart rect").count() >= 2
        shot(page, "metrics-7-days")


@pytest.mark.docker
def test_live_log_lines_appear_while_the_build_runs(page: Any, tmp_path: Path, runner_home: Path) -> None:
    root = helpers.write_project(
        tmp_path / "src",
        """\
        version: 0.2
        phases:
          build:
            commands:
              - for i in $(seq 1 12); do echo "tick $i"; sleep 0.4; done
        """,
    )
    outcome: list[Any] = []
    builder = threading.Thread(target=lambda: outcome.append(helpers.build(root, runner_home)))
    store = Store(runner_home / "state.db")
    builder.start()
    try:
        build_id = wait_for_running_build(store)
        with dashboard(store, runner_home) as base:
            page.goto(f"{base}/builds/{build_id}?token={TOKEN}")
            log = page.locator("#log")
            log.get_by_text("tick 3", exact=True).wait_for(timeout=60_000)
            assert (
                store.query("SELECT ended FROM builds WHERE id=?", (build_id,))[0][0] is None
            )  # still running
            assert log.get_by_text("tick 12", exact=True).count() == 0
            shot(page, "build-live-log-running")
            log.get_by_text("tick 12", exact=True).wait_for(timeout=60_000)
            page.locator("#log[data-ended='SUCCEEDED']").wait_for(timeout=30_000)
            page.locator("#build-head .badge.ok").wait_for()
            shot(page, "build-live-log-succeeded")
    finally:
        builder.join(timeout=120)
        store.close()
    assert outcome and outcome[0].status == "SUCCEEDED"


def wait_for_running_build(store: Store) -> str:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        found = running_builds(store)
        if found:
            return found[0].id
        time.sleep(0.05)
    raise AssertionError("the build did not start")
