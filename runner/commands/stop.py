"""`runner stop BUILD_ID`: stop a running build (it ends as STOPPED, its containers removed)."""

from __future__ import annotations

import argparse
from typing import Any

from runner.errors import EXIT_OK, UsageError
from runner.output import say
from runner.store import open_store
from runner.store.builds import get_build


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("stop", help="stop a running build")
    parser.add_argument("build_id", metavar="BUILD_ID")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.build_control import stop_build

    store = open_store()
    build = get_build(store, args.build_id)
    if build is None:
        raise UsageError(f"no build {args.build_id!r}")
    if build.ended is not None:
        say(f"build {build.id} already ended: {build.status}")
        return EXIT_OK
    stop_build(store, build.id)
    say(f"stop requested for build {build.id}")
    return EXIT_OK
