"""`runner logs BUILD_ID [--follow]`: a build's log as recorded (secrets already masked)."""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from runner.errors import UsageError
from runner.store import open_store
from runner.store.builds import get_build, log_lines

FINISHED_POLL_S = 0.2


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("logs", help="print the log of a build")
    parser.add_argument("build_id", metavar="BUILD_ID", help="build id, or a number such as 12")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing until it ends")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store = open_store()
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
