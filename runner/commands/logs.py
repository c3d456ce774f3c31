"""`runner logs BUILD_ID [--follow]`: a build's log as recorded (secrets already masked); of a
batch, every task's log, each line prefixed with the task's identifier."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from runner.errors import UsageError
from runner.store import Store, open_store
from runner.store.batches import get_batch, is_batch_ref, tasks_of
from runner.store.builds import get_build, log_lines

FINISHED_POLL_S = 0.2


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("logs", help="print the log of a build")
    parser.add_argument(
        "build_id", metavar="BUILD_ID", help="build id, a number such as 12, or a batch (batch-N)"
    )
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing until it ends")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store = open_store()
    if is_batch_ref(args.build_id):
        return _batch_logs(store, args.build_id, args.follow)
    build = get_build(store, args.build_id)
    if build is None:
        raise UsageError(f"no build {args.build_id!r} in {store.path}")
    after = 0
    while True:
        for seq, text in log_lines(store, build.id, after):
            sys.stdout.write(text + "\n")
            after = seq
        sys.stdout.flush()
        current = get_build(store, build.id)
        if not args.follow or current is None or current.ended is not None:
            return 0
        time.sleep(FINISHED_POLL_S)


def _batch_logs(store: Store, ref: str, follow: bool) -> int:
    batch = get_batch(store, ref)
    if batch is None:
        raise UsageError(f"no batch {ref!r} in {store.path}")
    after: dict[str, int] = {}
    while True:
        for task in tasks_of(store, batch.id):
            if task.build_id is None:
                continue
            for seq, text in log_lines(store, task.build_id, after.get(task.build_id, 0)):
                sys.stdout.write(f"[{task.identifier}] {text}\n")
                after[task.build_id] = seq
        sys.stdout.flush()
        current = get_batch(store, batch.id)
        if not follow or current is None or current.ended is not None:
            return 0
        time.sleep(FINISHED_POLL_S)
