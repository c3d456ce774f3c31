"""Figure 2: `git commit` returning → build recorded as started, through the post-commit hook.

Runs bench/trigger_latency.py's "hook" mode (warm worker; every commit changes the service,
so each is built for real, one at a time). The hook's run time is compared with its floor:
what the installed hook does before our code runs (sh, `git rev-parse`, `python -I -S`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

from bench.report import Outcome, Row, median, percentile
from bench.session import Session

COMMITS = 20
FIGURE = "trigger_latency"


def hook_floor_s(session: Session, root_dir: str, runs: int = 7) -> float:
    """A hook that only starts sh, asks git for HEAD and starts an isolated interpreter."""
    script = f'git rev-parse HEAD --symbolic-full-name HEAD >/dev/null; "{sys.executable}" -I -S -c pass'
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(["sh", "-c", script], cwd=root_dir, check=True, env=session.env())
        samples.append(time.perf_counter() - started)
    return median(samples)


def run(session: Session, say: Callable[[str], None]) -> Outcome:
    from bench import trigger_latency

    base = session.tmp / "triggers"
    base.mkdir(parents=True, exist_ok=True)
    session.homes.append(base / "hook" / "home")  # its worker is stopped at the end if still alive
    found = trigger_latency.run_mode("hook", COMMITS, base)
    floor = hook_floor_s(session, str(base / "hook" / "repo"))
    ms = {k: [v * 1000 for v in values] for k, values in found.items()}
    for what, key in (
        ("hook run (git trace2)", "hook"),
        ("commit start → queue row written", "queued"),
        ("commit returned → queue row taken", "started"),
        ("commit returned → build started", "build"),
    ):
        values = ms[key]
        say(
            f"  {what:<36} p50 {percentile(values, 50):7.1f} ms  p90 {percentile(values, 90):7.1f} ms  "
            f"max {max(values, default=float('nan')):7.1f} ms  (n={len(values)})"
        )
    metrics = {
        "trigger_commits": float(len(ms["build"])),
        "trigger_latency_p50_ms": percentile(ms["build"], 50),
        "trigger_latency_p90_ms": percentile(ms["build"], 90),
        "trigger_taken_p50_ms": percentile(ms["started"], 50),
        "hook_ms": percentile(ms["hook"], 50),
        "hook_p90_ms": percentile(ms["hook"], 90),
        "hook_floor_ms": floor * 1000,
    }
    n = len(ms["build"])
    rows = [
        Row(FIGURE, f"commit returned → build started, p50 (n={n})", "trigger_latency_p50_ms", "ms"),
        Row(FIGURE, "commit returned → build started, p90", "trigger_latency_p90_ms", "ms"),
        Row(FIGURE, "commit returned → worker took the commit, p50", "trigger_taken_p50_ms", "ms"),
        Row(FIGURE, "post-commit hook run time, p50", "hook_ms", "ms",
            "hook_floor_ms", "sh + git rev-parse + python -I -S"),
    ]  # fmt: skip
    return Outcome(rows, metrics, {"samples_ms": ms})
