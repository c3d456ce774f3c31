"""Dashboard load time with 1,000 builds in history: the JSON API, and the page in headless chromium.

    .venv/bin/python -m bench.ui_load [--builds 1000] [--runs 20] [--json]

Fills a fresh store (in a temporary RUNNER_HOME) with builds shaped like real ones (8 phases,
a stored result with a report, 20 log lines each), serves the dashboard on a free loopback
port, and reports medians and p90s. The page is timed from navigation start until the
history table holds its rows (what a person waits for), in a fresh chromium profile.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner.store import Store
from runner.web.security import TOKEN_HEADER
from runner.web.server import in_thread
from tests.web.browser import CHROMIUM, CHROMIUM_ARGS  # one headless-chromium recipe

PHASES = (
    "SUBMITTED",
    "PROVISIONING",
    "DOWNLOAD_SOURCE",
    "INSTALL",
    "PRE_BUILD",
    "BUILD",
    "POST_BUILD",
    "FINALIZING",
)


# The builds, their phases and log lines are generated inside SQLite (a recursive CTE):
# 100,000 builds take seconds, not the minutes of row-by-row inserts from Python.
_NUMBERS = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
_BUILDS = _NUMBERS + """
INSERT INTO builds (id, project, number, service, status, initiator, source_dir, source_version,
                    resolved_source_version, build_image, buildspec, started, ended, pid, result)
SELECT id, 'bench', i, service, status, 'bench', '/src', 'main', printf('%040x', i * 2654435761),
       'runner/build:bookworm', 'buildspec.yml', started, started + 42, NULL,
       json_object('id', id, 'number', i, 'status', status, 'phases', json('[]'),
                   'exported_variables', json('{}'),
                   'artifacts', json('{"primary": [], "secondary": {}}'),
                   'reports', json_array(json_object(
                       'name', 'bench-unit', 'status', status, 'total', 40, 'passed', 40, 'failed', 0,
                       'skipped', 0, 'files', json('[]'), 'failures', json('[]'),
                       'file_format', 'JUNITXML', 'problem', '')))
FROM (SELECT i, printf('bench:00000000-0000-4000-8000-%012d', i) AS id,
             CASE i % 3 WHEN 0 THEN 'catalog' WHEN 1 THEN 'offers' ELSE 'web' END AS service,
             CASE WHEN i % 7 = 0 THEN 'FAILED' ELSE 'SUCCEEDED' END AS status,
             ? - (? - i) * 300.0 AS started
      FROM n)
"""
_PHASES = """
INSERT INTO phases (build_id, idx, name, status, started, ended, context)
SELECT b.id, p.key, p.value, 'SUCCEEDED', b.started + p.key, b.started + p.key + 1, '[]'
FROM builds AS b, json_each(?) AS p WHERE b.project = 'bench'
"""
_LOG_LINES = _NUMBERS + """
INSERT INTO log_lines (build_id, seq, ts, text)
SELECT b.id, n.i, b.started + n.i, printf('[Container] line %d of build %d', n.i, b.number)
FROM builds AS b, n WHERE b.project = 'bench'
"""


def fill(store: Store, count: int, log_lines: int = 20) -> str:
    """`count` finished builds over the last days (8 phases, a stored result with a report,
    `log_lines` log lines each) in a fresh store; returns the newest build's id."""
    with store.transaction() as db:
        db.execute(_BUILDS, (count, time.time(), count))
        db.execute(_PHASES, (json.dumps(PHASES),))
        db.execute(_LOG_LINES, (log_lines,))
    newest = store.query("SELECT id FROM builds WHERE project='bench' ORDER BY number DESC LIMIT 1")
    return str(newest[0]["id"])


def timed(action: Callable[[], Any], runs: int) -> list[float]:
    action()  # warm up (imports, SQLite page cache)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def get(url: str, token: str) -> bytes:
    request = urllib.request.Request(url, headers={TOKEN_HEADER: token})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        return bytes(response.read())


def page_load(base: str, token: str, runs: int, profile: Path) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    out: dict[str, list[float]] = {"history page (50 of N rows)": [], "build page (phases, log)": []}
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = context.new_page()
        page.goto(f"{base}/history?token={token}")  # sets the cookie; also warms the browser cache
        page.locator("#history-table tbody tr").nth(49).wait_for()
        first = page.locator("#history-table tbody tr a").first.get_attribute("href")
        for _ in range(runs):
            started = time.perf_counter()
            page.goto(f"{base}/history")
            page.locator("#history-table tbody tr").nth(49).wait_for()
            out["history page (50 of N rows)"].append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            page.goto(f"{base}{first}")
            page.locator("#log .ln").nth(19).wait_for()
            out["build page (phases, log)"].append((time.perf_counter() - started) * 1000)
        context.close()
    return out


def p90(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(-(-9 * len(ordered) // 10), 1) - 1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.ui_load", description=__doc__.splitlines()[0])
    parser.add_argument("--builds", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="runner-bench-ui-") as tmp:
        home = Path(tmp) / "home"
        store = Store(home / "state.db")
        newest = fill(store, args.builds)
        with in_thread(store, home) as (base, token):
            results = {
                "GET /api/builds?limit=50": timed(
                    lambda: get(f"{base}/api/builds?limit=50", token), args.runs
                ),
                f"GET /api/builds?limit={args.builds}": timed(
                    lambda: get(f"{base}/api/builds?limit={args.builds}", token), args.runs
                ),
                "GET /api/builds/facets": timed(lambda: get(f"{base}/api/builds/facets", token), args.runs),
                "GET /api/builds/{id}": timed(lambda: get(f"{base}/api/builds/{newest}", token), args.runs),
            }
            if Path(CHROMIUM).exists():
                results |= page_load(base, token, args.runs, Path(tmp) / "profile")
        store.close()
    rows = {
        name: {"median_ms": round(statistics.median(v), 1), "p90_ms": round(p90(v), 1), "runs": len(v)}
        for name, v in results.items()
    }
    if args.json:
        json.dump({"builds": args.builds, "results": rows}, sys.stdout, indent=2)
        print()
        return 0
    print(f"dashboard with {args.builds} builds in history ({args.runs} runs each)")
    print(f"{'what':<36} {'median ms':>10} {'p90 ms':>8}")
    for name, row in rows.items():
        print(f"{name:<36} {row['median_ms']:>10} {row['p90_ms']:>8}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
