"""State-change events: what a notification rule adds to a 4-phase no-op build.

Two projects with the same buildspec (bench/build_overhead.BUILDSPEC) and a pipeline.yml:
one with a rule matching the build's SUCCEEDED event (a command target, `true`), one
without any rule (default rules off). Both write the same events to the outbox: the figure
is what routing and delivering adds. Each round runs `runner build` in both as fresh
processes (timed with python's time.perf_counter, start to exit, so the delivery the build's
process makes before it exits is counted), alternating which goes first.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.report import Outcome, Row, median
from bench.session import RUNNER, Session

FIGURE = "events"
PIPELINE = """\
app: bench-events
services: {api: {path: .}}
environments: [{name: staging, port: 18999, test_port: 19999}]
default_notifications: false
"""
RULE = """\
notifications:
  - name: built
    pattern:
      source: [aws.codebuild]
      detail-type: [CodeBuild Build State Change]
      detail: {build-status: [SUCCEEDED]}
    targets: [{command: "true"}]
"""


def _project(session: Session, name: str, rules: str) -> tuple[Path, Path]:
    from bench import build_overhead

    source = session.tmp / "events" / name
    source.mkdir(parents=True, exist_ok=True)
    (source / "buildspec.yml").write_text(build_overhead.BUILDSPEC)
    (source / "pipeline.yml").write_text(PIPELINE + rules)
    return source, session.home(f"events-{name}")


def one_build(session: Session, source: Path, home: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [RUNNER, "build", "--json"], cwd=source, capture_output=True, text=True, env=session.env(home)
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or json.loads(done.stdout)["status"] != "SUCCEEDED":
        raise RuntimeError(f"runner build exited {done.returncode}: {done.stderr[-500:]}")
    return elapsed


def _delivered(session: Session, source: Path, home: Path) -> int:
    """How many SUCCEEDED events the rule's target got (each build's own process delivers)."""
    done = subprocess.run(
        [RUNNER, "events", "--failed-deliveries", "--json"], cwd=source, capture_output=True, text=True,
        env=session.env(home),
    )  # fmt: skip
    if done.returncode != 0 or done.stdout.strip():
        raise RuntimeError(f"a delivery failed: {done.stdout[-500:]}{done.stderr[-500:]}")
    from runner.store import Store

    store = Store(home / "state.db")
    try:
        return int(store.query("SELECT COUNT(*) FROM deliveries WHERE status='DELIVERED'")[0][0])
    finally:
        store.close()


def run(session: Session, say: Any) -> Outcome:
    rounds = session.size(5, 1)
    with_rule, without = _project(session, "rule", RULE), _project(session, "none", "")
    one_build(session, *with_rule)  # warm-up: the engine's caches, both stores
    one_build(session, *without)
    ruled, plain = [], []
    for n in range(rounds):
        first, second = (with_rule, without) if n % 2 == 0 else (without, with_rule)
        for project in (first, second):
            (ruled if project is with_rule else plain).append(one_build(session, *project))
        say(f"  round {n + 1}: with a rule {ruled[-1]:.3f}s  without {plain[-1]:.3f}s")
    delivered = _delivered(session, *with_rule)
    if delivered != rounds + 1:
        raise RuntimeError(f"{delivered} deliveries for {rounds + 1} builds")
    ours, ref = median(ruled), median(plain)
    metrics = {"events_rule_build_s": ours, "events_norule_build_s": ref, "events_rule_ratio": ours / ref}
    rows = [
        Row(FIGURE, f"4-phase no-op build, a rule delivering its event (median of {rounds})",
            "events_rule_build_s", "s", "events_norule_build_s", "the same build without a rule"),
    ]  # fmt: skip
    return Outcome(
        rows, metrics, {"rounds": {"with_rule_s": ruled, "without_s": plain}, "delivered": delivered}
    )
