"""`runner stop BUILD_ID|BATCH_ID`: stop a running build, or a batch's running tasks (they end
as STOPPED, their containers removed; tasks not started yet never start)."""

from __future__ import annotations

import argparse
from typing import Any

from runner.errors import EXIT_OK, UsageError
from runner.output import say
from runner.store import Store, open_store
from runner.store.batches import get_batch, is_batch_ref, request_batch_stop, tasks_of
from runner.store.builds import get_build


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("stop", help="stop a running build, or every running task of a batch")
    parser.add_argument("build_id", metavar="BUILD_ID", help="a build, or a batch (batch-N)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.codebuild.build_control import stop_build

    store = open_store()
    if is_batch_ref(args.build_id):
        return _stop_batch(store, args.build_id)
    build = get_build(store, args.build_id)
    if build is None:
        raise UsageError(f"no build {args.build_id!r}")
    if build.ended is not None:
        say(f"build {build.id} already ended: {build.status}")
        return EXIT_OK
    stop_build(store, build.id)
    say(f"stop requested for build {build.id}")
    return EXIT_OK


def _stop_batch(store: Store, ref: str) -> int:
    from runner.codebuild.build_control import stop_build

    batch = get_batch(store, ref)
    if batch is None:
        raise UsageError(f"no batch {ref!r}")
    if batch.ended is not None:
        say(f"batch {batch.id} already ended: {batch.status}")
        return EXIT_OK
    request_batch_stop(store, batch.id)  # the batch's runner starts no other task
    for task in tasks_of(store, batch.id):
        build = get_build(store, task.build_id) if task.build_id else None
        if build is not None and build.ended is None:
            stop_build(store, build.id)
    say(f"stop requested for batch {batch.id}")
    return EXIT_OK
