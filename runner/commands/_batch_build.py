"""`runner build --batch` (CodeBuild's start-build-batch), and `runner build` of a file
that has `batch` and no `phases` (the only thing it can mean, decision 21)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from runner.codebuild import batch as model
from runner.codebuild.phases import SUCCEEDED
from runner.core.yamlnodes import load_file
from runner.errors import EXIT_FAILED, EXIT_OK, UsageError
from runner.output import print_json, say

if TYPE_CHECKING:
    from runner.codebuild.batch_run import BatchResult
    from runner.codebuild.build import BuildRequest


def is_batch_only(buildspec: Path) -> bool:
    return model.is_batch_only(load_file(buildspec, display_name(buildspec)))


def run_batch_build(args: argparse.Namespace, request: BuildRequest) -> int | None:
    """The batch's exit code; None when the file is to run as a single build (fanout)."""
    from runner.codebuild import buildspec_loader
    from runner.codebuild.batch_run import BatchOptions, plan, run_batch
    from runner.codebuild.batch_view import batch_view
    from runner.store import open_store

    display = display_name(request.buildspec)
    doc = load_file(request.buildspec, display)
    if not model.has_batch(doc):
        raise UsageError(f"{display} has no batch section (--batch runs one)")
    if not model.is_batch_only(doc):
        buildspec_loader.from_document(doc)  # the whole file is checked, as a plain build checks it
    elif not args.batch:
        say(f"{display} has batch and no phases: running it as a batch build (runner build --batch)")
    batch = model.parse(doc)
    for warning in batch.warnings:
        say(f"runner: warning: {warning}")
    if batch.kind == model.FANOUT:
        return None
    options = BatchOptions(
        jobs=_jobs(args, request.source),
        combine_artifacts=args.combine_artifacts,
        timeout_min=args.batch_timeout,
        max_builds=args.max_builds,
    )
    checked = plan(request, batch, display, options)  # every error before the store exists
    store = open_store()
    identifiers = [t.identifier for t in batch.tasks]
    with batch_view(identifiers, sys.stderr if args.json else sys.stdout) as view:
        result = run_batch(checked, store, view, options)
    if args.json:
        print_json(result.as_json())
    else:
        _report(result)
    return EXIT_OK if result.status == SUCCEEDED else EXIT_FAILED


def _jobs(args: argparse.Namespace, source: Path) -> int:
    """--jobs, else pipeline.yml's build_parallelism, else the number of cores."""
    if args.jobs is not None:
        if args.jobs < 1:
            raise UsageError("--jobs must be >= 1")
        return int(args.jobs)
    from runner.core import config_loader

    path = config_loader.find(source)
    return config_loader.load(path).build_parallelism if path else os.cpu_count() or 1


def _report(result: BatchResult) -> None:
    say(f"batch {result.batch_id}: {result.status}")
    for task in result.tasks:
        number = f"#{task.number}" if task.number is not None else "not run"
        after = f"  (after {', '.join(task.depends_on)})" if task.depends_on else ""
        say(f"  {task.identifier:<24} {number:<8} {task.status:<10}{after}")
        built = result.results.get(task.identifier)
        for report in built.reports if built else ():
            totals = (
                report.coverage.summary() if report.coverage else f"{report.passed}/{report.total} passed"
            )
            say(f"    report {report.name}: {report.status} {totals}")
    if result.combined is not None:
        say(f"  combined artifacts: {result.combined}")


def display_name(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
