"""Figure 2: `git commit` → build recorded as started, through the post-commit hook.

Runs bench/trigger_latency.py's modes on a tiny one-service project (every commit changes
the service, so each is built for real, one at a time):

- cold (the headline): what a user meets with commits minutes apart. Before each commit the
  worker the previous commit started has idled out (`runner worker --idle-exit`, 2 s), so
  every commit starts a new worker; timed from the START of `git commit` to the build
  record's start in the store.
- warm (second row): the worker of the previous commit is still running; timed from
  `git commit` returning, as before.

The hook's run time is compared with its floor: what the installed hook does before our
code runs (sh, `git rev-parse`, `python -I -S`).
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable

from bench.report import Outcome, Row, median, percentile
from bench.session import Session

WARM_COMMITS = 20
COLD_COMMITS = 10
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
    found = {}
    for mode, commits in (("hook-cold", COLD_COMMITS), ("hook", WARM_COMMITS)):
        session.homes.append(base / mode / "home")  # its worker is stopped at the end if still alive
        found[mode] = trigger_latency.run_mode(mode, session.size(commits), base)
    floor = hook_floor_s(session, str(base / "hook" / "repo"), runs=session.size(7, 2))
    cold = {k: [v * 1000 for v in values] for k, values in found["hook-cold"].items()}
    warm = {k: [v * 1000 for v in values] for k, values in found["hook"].items()}
    for mode, ms, what, key in (
        ("cold", cold, "commit start → build started", "whole"),
        ("cold", cold, "commit returned → build started", "build"),
        ("cold", cold, "hook run (git trace2)", "hook"),
        ("warm", warm, "commit start → queue row written", "queued"),
        ("warm", warm, "commit returned → queue row taken", "started"),
        ("warm", warm, "commit returned → build started", "build"),
        ("warm", warm, "hook run (git trace2)", "hook"),
    ):
        values = ms[key]
        say(
            f"  {mode} {what:<36} p50 {percentile(values, 50):7.1f} ms  p90 {percentile(values, 90):7.1f} ms"
            f"  max {max(values, default=float('nan')):7.1f} ms  (n={len(values)})"
        )
    metrics = {
        "trigger_latency_cold_p50_ms": percentile(cold["whole"], 50),
        "trigger_latency_cold_p90_ms": percentile(cold["whole"], 90),
        "trigger_cold_commits": float(len(cold["whole"])),
        "trigger_commits": float(len(warm["build"])),
        "trigger_latency_p50_ms": percentile(warm["build"], 50),
        "trigger_latency_p90_ms": percentile(warm["build"], 90),
        "trigger_taken_p50_ms": percentile(warm["started"], 50),
        "hook_ms": percentile(warm["hook"], 50),
        "hook_p90_ms": percentile(warm["hook"], 90),
        "hook_cold_ms": percentile(cold["hook"], 50),
        "hook_floor_ms": floor * 1000,
    }
    n_cold, n_warm = len(cold["whole"]), len(warm["build"])
    rows = [
        Row(FIGURE, f"no worker running: commit START → build started, p50 (n={n_cold})",
            "trigger_latency_cold_p50_ms", "ms", goal="≤ 150 ms"),
        Row(FIGURE, "  the same, p90", "trigger_latency_cold_p90_ms", "ms"),
        Row(FIGURE, f"worker still running: commit returned → build started, p50 (n={n_warm})",
            "trigger_latency_p50_ms", "ms"),
        Row(FIGURE, "  the same, p90", "trigger_latency_p90_ms", "ms"),
        Row(FIGURE, "  commit returned → worker took the commit, p50", "trigger_taken_p50_ms", "ms"),
        Row(FIGURE, "post-commit hook run time, p50", "hook_ms", "ms",
            "hook_floor_ms", "sh + git rev-parse + python -I -S"),
    ]  # fmt: skip
    return Outcome(rows, metrics, {"samples_ms": {"cold": cold, "warm": warm}})
