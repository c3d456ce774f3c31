"""`runner pipeline run|status|resume`: CodePipeline executions of this project."""

from __future__ import annotations

import argparse
import time
from typing import Any

from runner.commands._project import load_project
from runner.errors import EXIT_FAILED, EXIT_OK, UsageError
from runner.output import print_json, print_table, say
from runner.store import open_store
from runner.store import pipelines as records
from runner.store.pipelines import SUCCEEDED


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("pipeline", help="run and inspect pipeline executions")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    run_ = verbs.add_parser("run", help="run the pipeline for a commit (default: HEAD)")
    run_.add_argument("--commit", help="commit to ship (default: HEAD)")
    run_.add_argument("--json", action="store_true", help="print the execution as JSON at the end")
    run_.add_argument("-v", "--verbose", action="store_true", help="show every build log line")
    run_.set_defaults(func=run_pipeline)
    status = verbs.add_parser("status", help="recent executions and their stages")
    status.add_argument("execution", nargs="?", help="one execution (id or unique prefix)")
    status.add_argument("--limit", type=int, default=10)
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=show_status)
    resume = verbs.add_parser("resume", help="continue a stopped or interrupted execution")
    resume.add_argument("execution", nargs="?", help="default: the newest resumable one")
    resume.set_defaults(func=resume_pipeline)


def run_pipeline(args: argparse.Namespace) -> int:
    from runner.codepipeline import execution as pipeline

    config, store = load_project(), open_store()
    execution_id = pipeline.create_execution(config, store, args.commit, trigger="manual")
    status = pipeline.run_execution(config, store, execution_id, say=say, verbose=args.verbose)
    if args.json:
        print_json(execution_json(store, execution_id))
    return EXIT_OK if status == SUCCEEDED else EXIT_FAILED


def resume_pipeline(args: argparse.Namespace) -> int:
    from runner.codepipeline import execution as pipeline

    config, store = load_project(), open_store()
    if args.execution:
        found = records.get_execution(store, args.execution)
        if found is None:
            raise UsageError(f"no pipeline execution {args.execution!r}")
        execution_id = found.id
    else:
        candidates = pipeline.resumable(store)
        if not candidates:
            raise UsageError("no stopped or interrupted execution to resume")
        execution_id = candidates[0].id
    status = pipeline.run_execution(config, store, execution_id, say=say)
    return EXIT_OK if status == SUCCEEDED else EXIT_FAILED


def execution_json(store: Any, execution_id: str) -> dict[str, Any]:
    """One execution as `runner pipeline status --json` prints it."""
    execution = records.get_execution(store, execution_id)
    assert execution is not None
    stages = records.stage_rows(store, execution.id)
    approval = records.approval(store, execution.id)
    return {
        "id": execution.id,
        "pipeline": execution.pipeline,
        "commit": execution.commit_sha,
        "status": execution.status,
        "mode": execution.mode,
        "trigger": execution.trigger,
        "waiting_for": execution.waiting_for,
        "created": execution.created,
        "ended": execution.ended,
        "stages": [
            {
                "name": name,
                "status": row["status"],
                "started": row["started"],
                "ended": row["ended"],
                "duration_s": round(row["ended"] - row["started"], 3) if row["ended"] else None,
                "detail": row["detail"],
            }
            for name, row in stages.items()
        ],
        "approval": {k: approval[k] for k in ("stage", "status", "requested", "expires", "summary")}
        if approval
        else None,
    }


def show_status(args: argparse.Namespace) -> int:
    store = open_store()
    if args.execution:
        found = records.get_execution(store, args.execution)
        if found is None:
            raise UsageError(f"no pipeline execution {args.execution!r}")
        executions = [found]
    else:
        executions = records.list_executions(store, args.limit)
    data = [execution_json(store, e.id) for e in executions]
    if args.json:
        print_json(data[0] if args.execution else data)
        return EXIT_OK
    rows = []
    for item in data:
        stages = " → ".join(f"{s['name']}:{s['status']}" for s in item["stages"])
        rows.append(
            [
                item["id"][:8],
                (item["commit"] or "")[:12],
                item["status"],
                time.strftime("%H:%M:%S", time.localtime(item["created"])),
                stages,
            ]
        )
    print_table(["EXECUTION", "COMMIT", "STATUS", "STARTED", "STAGES"], rows)
    return EXIT_OK
