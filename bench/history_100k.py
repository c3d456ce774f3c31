"""Scale curve: history with 100,000 builds, in the CLI and in the dashboard.

Two stores are filled inside SQLite (bench/ui_load.py's fill(): 8 phases, a stored result
with a report and 20 log lines per build): 100,000 builds and, as the same-run reference,
1,000. Then, on each:

- `runner history --json` (a fresh process each time, default --limit 50; alternating);
- the dashboard's `GET /api/builds?limit=50` (served in this process, one dashboard per
  store, alternating);
- its history page in headless chromium, from navigation start until the table holds its
  50 rows (bench/ui_load.py's page_load()).
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

from bench.report import Outcome, Row, median
from bench.session import Session

BUILDS = 100_000
REFERENCE = 1_000
CLI_RUNS = 5
API_RUNS = 20
PAGE_RUNS = 5
FIGURE = "history_100k"
PAGE = "history page (50 of N rows)"


def filled(session: Session, name: str, builds: int) -> tuple[Path, float]:
    """A runner home whose store holds `builds` builds; and how long filling took."""
    from bench.ui_load import fill
    from runner.store import Store

    home = session.home(name)
    store = Store(home / "state.db")
    started = time.perf_counter()
    try:
        fill(store, builds)
    finally:
        store.close()
    return home, time.perf_counter() - started


def dashboards(session: Session, homes: dict[str, Path]) -> dict[str, dict[str, float]]:
    """Median ms of GET /api/builds?limit=50 (alternating between the stores) and of the
    history page, each home's store served by its own dashboard."""
    from bench.ui_load import get, page_load
    from runner.store import Store
    from runner.web.server import in_thread
    from tests.web.browser import CHROMIUM

    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: `make bench` installs it (Debian package chromium)")
    with contextlib.ExitStack() as stack:
        served = {}
        for name, home in homes.items():
            store = Store(home / "state.db")
            stack.callback(store.close)
            served[name] = stack.enter_context(in_thread(store, home))
        api: dict[str, list[float]] = {name: [] for name in homes}
        for n in range(session.size(API_RUNS, 2) + 1):
            for name, (base, token) in served.items():
                started = time.perf_counter()
                get(f"{base}/api/builds?limit=50", token)
                if n:  # the first round warms up (imports, SQLite's page cache)
                    api[name].append((time.perf_counter() - started) * 1000)
        pages = {
            name: page_load(base, token, session.size(PAGE_RUNS), session.tmp / f"chromium-{name}")[PAGE]
            for name, (base, token) in served.items()
        }
    return {name: {"api_ms": median(api[name]), "page_ms": median(pages[name])} for name in homes}


def run(session: Session, say: Callable[[str], None]) -> Outcome:
    from bench.scale import time_cli

    big_n, small_n = session.size(BUILDS, 2_000), session.size(REFERENCE, 100)
    big, fill_s = filled(session, "history-100k", big_n)
    small, _ = filled(session, "history-1k", small_n)
    say(f"  {big_n} builds written in {fill_s:.1f}s (inside SQLite)")
    cli, _ = time_cli(
        session, {"big": (big, ["history", "--json"]), "small": (small, ["history", "--json"])},
        session.size(CLI_RUNS),
    )  # fmt: skip
    ui = dashboards(session, {"big": big, "small": small})
    say(f"  `runner history --json`: {cli['big'] * 1000:.0f} ms with {big_n} builds, "
        f"{cli['small'] * 1000:.0f} ms with {small_n}")
    say(f"  dashboard: /api/builds?limit=50 {ui['big']['api_ms']:.1f} ms vs {ui['small']['api_ms']:.1f} ms, "
        f"history page {ui['big']['page_ms']:.0f} ms vs {ui['small']['page_ms']:.0f} ms")
    metrics = {
        "history_100k_ms": cli["big"] * 1000,
        "history_1k_ms": cli["small"] * 1000,
        "ui_history_100k_api_ms": ui["big"]["api_ms"],
        "ui_history_1k_api_ms": ui["small"]["api_ms"],
        "ui_history_100k_ms": ui["big"]["page_ms"],
        "ui_history_1k_ms": ui["small"]["page_ms"],
        "history_100k_fill_s": fill_s,
    }
    same = f"the same with {small_n} builds"
    rows = [
        Row(FIGURE, f"`runner history --json` with {big_n} builds", "history_100k_ms", "ms",
            "history_1k_ms", same),
        Row(FIGURE, f"dashboard GET /api/builds?limit=50, {big_n} builds", "ui_history_100k_api_ms", "ms",
            "ui_history_1k_api_ms", same),
        Row(FIGURE, f"dashboard history page (50 rows shown), {big_n} builds", "ui_history_100k_ms", "ms",
            "ui_history_1k_ms", same),
    ]  # fmt: skip
    return Outcome(rows, metrics, {"builds": [big_n, small_n], "fill_s": round(fill_s, 2)})
