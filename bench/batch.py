"""Batch builds: an 8-task matrix of no-op builds with `--jobs 2` against the same 8 builds
one after another (`--jobs 1`), in the same run.

Each round runs both, alternating which goes first, as `runner build --batch --json`
subprocesses (what a user types; timed with python's time.perf_counter). The figure is
the parallel wall time, its reference the sequential one; on this 2-core machine the
ratio says how much of a build is waiting on Docker rather than using a core.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.report import Outcome, Row, median
from bench.session import RUNNER, Session

ROUNDS = 2
TASKS = 8
FIGURE = "batch"
BUILDSPEC = """version: 0.2
batch:
  build-matrix:
    dynamic:
      env:
        variables:
          SHARD: [{shards}]
phases:
  install: {{commands: ["true"]}}
  pre_build: {{commands: ["true"]}}
  build: {{commands: ["true"]}}
  post_build: {{commands: ["true"]}}
"""


def one_batch(session: Session, source: Path, home: Path, jobs: int, tasks: int) -> float:
    command = [RUNNER, "build", "-s", str(source), "--batch", "--jobs", str(jobs), "--json"]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=session.env(home))
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the batch (--jobs {jobs}) exited {done.returncode}: {done.stderr[-500:]}")
    result = json.loads(done.stdout)
    if len(result["builds"]) != tasks or result["status"] != "SUCCEEDED":
        raise RuntimeError(f"the batch (--jobs {jobs}) ended {result['status']}")
    return elapsed


def run(session: Session, say: Any) -> Outcome:
    source = session.tmp / "batch" / "src"
    source.mkdir(parents=True, exist_ok=True)
    tasks, rounds = session.size(TASKS, 2), session.size(ROUNDS, 1)
    (source / "buildspec.yml").write_text(BUILDSPEC.format(shards=", ".join(map(str, range(1, tasks + 1)))))
    home = session.home("batch")
    if not session.smoke:
        one_batch(session, source, home, 2, tasks)  # warm-up: the engine's caches, the store
    parallel, sequential = [], []
    for n in range(rounds):
        order = (2, 1) if n % 2 == 0 else (1, 2)
        for jobs in order:
            (parallel if jobs == 2 else sequential).append(one_batch(session, source, home, jobs, tasks))
        say(f"  round {n + 1}: --jobs 2 {parallel[-1]:.2f}s  --jobs 1 {sequential[-1]:.2f}s")
    ours, ref = median(parallel), median(sequential)
    metrics = {"batch_8_jobs2_s": ours, "batch_8_jobs1_s": ref, "batch_speedup": ref / ours}
    rows = [
        Row(FIGURE, f"{tasks}-task no-op matrix, --jobs 2 (median of {rounds})", "batch_8_jobs2_s", "s",
            "batch_8_jobs1_s", f"the same {tasks} builds one after another (--jobs 1)"),
        Row(FIGURE, "batch speed-up (--jobs 1 / --jobs 2)", "batch_speedup", "x", ratio=False),
    ]  # fmt: skip
    return Outcome(rows, metrics, {"rounds": {"jobs2_s": parallel, "jobs1_s": sequential}})
