"""End to end in headless chromium: history, build and metrics pages over store rows; logs stream live.

Approvals, a canary's weights and rollback run for real in test_browser_e2e.py.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from runner.store import Store
from runner.store.builds import running_builds
from tests.integration import helpers
from tests.web import fixtures
from tests.web.browser import TOKEN, dashboard, shot


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
