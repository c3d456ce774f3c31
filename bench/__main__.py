"""`make bench`: every figure beside its reference from the same run, in one table.

    .venv/bin/python -m bench [--only NAME[,NAME…]] [--smoke] [--list] [--out FILE]

Progress and breakdowns go to stderr, the table to stdout, the numbers to bench/results.json
(with --smoke: bench/results-smoke.json). The file is removed when a run starts and always
written at its end: a figure that raised, or left a row of its table without a number, is
listed under "failed" and makes the exit status 1.
--smoke runs every figure once at tiny sizes (Session.size): it checks that each still
produces its numbers (`make test` runs it), not how good they are.
Everything the run creates carries the label runner.bench=<run id> and is removed at the end, also on Ctrl-C.
"""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import signal
import sys
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any

from bench.report import Metrics, Outcome, Row, table_lines
from bench.report import results_json as make_results
from bench.session import Session

OUT = Path(__file__).resolve().parent / "results.json"
SMOKE_OUT = OUT.with_name("results-smoke.json")

# name → (module, function, what it measures); in the order they run.
FIGURES: dict[str, tuple[str, str, str]] = {
    "phase_overhead": ("bench.phase_overhead", "run", "4-phase no-op build vs 4 × docker run --rm"),
    "trigger_latency": ("bench.triggers", "run", "git commit → build started (post-commit hook)"),
    "commit_to_prod": ("bench.sample", "run_commit_to_prod", "commit → new version on the prod port"),
    "rebuild_skip": ("bench.sample", "run_rebuild_skip", "deciding 'inputs unchanged' (0 containers)"),
    "flip": ("bench.traffic", "run_flip", "wrk through the router across 10 blue-green deploys"),
    "rollback": ("bench.traffic", "run_rollback", "alarm → every answer from the old slot"),
    "canary_fault": ("bench.traffic", "run_canary_fault", "faulty canary under GETs: router retry off vs on"),
    "router_overhead": ("bench.services_scale", "run_router_overhead", "router vs the slot, per request"),
    "services_scale": ("bench.services_scale", "run_services", "deploy, router p99, status: 1/5/20 services"),
    "monorepo": ("bench.scale", "run_monorepo", "20 services, one changed: what is built"),
    "history": ("bench.scale", "run_history", "runner history --json with 10,000 builds"),
    "history_100k": ("bench.history_100k", "run", "runner history and the dashboard with 100,000 builds"),
    "watch_rss": ("bench.scale", "run_watch_rss", "runner watch memory on the 20-service repo"),
    "batch": ("bench.batch", "run", "8-task no-op matrix: --jobs 2 vs one after another"),
    "aws": ("bench.aws", "run", "--aws local: local AWS start, cost of one AWS CLI call in a build"),
    "events": ("bench.events", "run", "4-phase no-op build with a notification rule vs without"),
    "swarm": ("bench.swarm", "run", "2-node swarm: deploy and a worker's engine lost, under wrk"),
    "remote_build": ("bench.remote_build", "run", "4-phase no-op build: -H engine sharing no files vs local"),
}


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", metavar="NAME[,NAME]", help="run only these figures (see --list)")
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    parser.add_argument("--smoke", action="store_true", help="each figure once at tiny sizes (a check)")
    parser.add_argument("--out", type=Path, help=f"results file (default {OUT}, with --smoke {SMOKE_OUT})")
    args = parser.parse_args(argv)
    args.out = args.out or (SMOKE_OUT if args.smoke else OUT)
    chosen = [n.strip() for n in (args.only or ",".join(FIGURES)).split(",") if n.strip()]
    unknown = [n for n in chosen if n not in FIGURES]
    if unknown:
        parser.error(f"unknown figure {', '.join(unknown)}; choose from {', '.join(FIGURES)}")
    args.figures = [n for n in FIGURES if n in chosen]
    return args


def log(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def run_figure(session: Session, name: str) -> tuple[Outcome, float, str]:
    module, function, what = FIGURES[name]
    log(f"\n== {name}: {what}")
    started = time.monotonic()
    try:
        with session.environ():
            runner: Callable[[Session, Callable[[str], None]], Outcome] = getattr(
                importlib.import_module(module), function
            )
            outcome = runner(session, log)
        missing = outcome.missing()
        error = f"no value for {', '.join(missing)}" if missing else ""
    except (Exception, SystemExit) as e:  # one broken figure must not hide the others
        log("".join(traceback.format_exception(e)).rstrip())
        outcome, error = Outcome(), f"{type(e).__name__}: {e}"
    elapsed = time.monotonic() - started
    log(f"== {name}: {'FAILED: ' + error if error else 'done'} in {elapsed:.1f}s")
    return outcome, elapsed, error


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if args.list:
        for name, (_, _, what) in FIGURES.items():
            print(f"{name:<16} {what}")
        return 0
    signal.signal(signal.SIGINT, signal.default_int_handler)  # even when started with SIGINT ignored
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` cleans up like Ctrl-C
    args.out.unlink(missing_ok=True)  # never leave an older run's numbers behind
    session = Session(smoke=args.smoke)  # sets RUNNER_LABELS before any runner module is imported
    started = time.monotonic()
    rows: list[Row] = []
    metrics: Metrics = {}
    details: dict[str, Any] = {}
    timing: dict[str, float] = {}
    errors: dict[str, str] = {}
    log(f"bench run {session.run_id}{' (smoke)' if args.smoke else ''}: label {session.label}, "
        f"scratch {session.tmp}")
    interrupted = False
    try:
        for name in args.figures:
            outcome, timing[name], error = run_figure(session, name)
            rows += outcome.rows or [Row(name, "(failed: see the log above)", f"{name}_failed", "")]
            metrics |= outcome.metrics
            details[name] = outcome.details
            if error:
                errors[name] = error
    except KeyboardInterrupt:
        interrupted = True
        log("\ninterrupted: cleaning up")
    finally:
        try:
            log("cleaning up (containers, networks, volumes, images labelled " + session.label + ")")
            session.close(interrupted=interrupted)
        finally:  # whatever happened, the file says what this run measured and what failed
            total = time.monotonic() - started
            not_run = [n for n in args.figures if n not in timing]
            errors |= {n: "not run (interrupted)" for n in not_run}
            meta = {
                "run_id": session.run_id,
                "smoke": args.smoke,
                "figures": args.figures,
                "figure_seconds": {k: round(v, 1) for k, v in timing.items()},
                "total_s": round(total, 1),
                "interrupted": interrupted,
                "host": platform.node(),
                "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            }
            body = make_results(metrics, meta, details, failed=errors)
            args.out.write_text(json.dumps(body, indent=2) + "\n")
    kind = "smoke run: tiny sizes, not figures" if args.smoke else "references measured in the same run"
    print(f"\nrunner bench {session.run_id} ({total:.0f}s; {kind})")
    for line in table_lines(rows, metrics):
        print(line)
    for name, error in errors.items():
        print(f"FAILED {name}: {error}")
    print(f"\nresults: {args.out}")
    if interrupted:
        return 130
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
