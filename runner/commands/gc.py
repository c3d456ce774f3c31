"""`runner gc`: remove images, phase snapshots and build directories that nothing needs any more."""

from __future__ import annotations

import argparse
from typing import Any

from runner.output import print_json, say


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "gc",
        help="remove unused service images, phase snapshots and old build directories",
        description=(
            "Remove service images beyond the newest --keep per service, phase snapshots and "
            "workspaces of older builds, and unused source snapshots. Never removes an image an "
            "environment runs or may roll back to."
        ),
    )
    parser.add_argument("--keep", type=int, default=5, metavar="N", help="images/builds kept per service")
    parser.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    parser.add_argument("--json", action="store_true", help="print what was removed and kept as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.errors import UsageError
    from runner.images import gc
    from runner.store import open_store

    if args.keep < 1:
        raise UsageError("--keep must be at least 1")
    store = open_store()
    plan = gc.plan(store, args.keep)
    failed: list[gc.Item] = []
    if args.dry_run:
        removed = list(plan.remove)
        for item in removed:
            say(f"would remove {item.kind} {item.name}")
    else:
        removed, failed = gc.apply(plan, store, say)
    if args.json:
        print_json(
            {
                "dry_run": args.dry_run,
                "removed": [i.as_json() for i in removed],
                "failed": [i.as_json() for i in failed],
                "kept": [i.as_json() for i in plan.keep],
            }
        )
    else:
        for item in plan.keep:
            say(f"kept {item.name} ({item.id[7:19]}): {item.why}")
        verb = "would remove" if args.dry_run else "removed"
        say(f"gc: {verb} {len(removed)} item(s), {len(failed)} in use, {len(plan.keep)} image(s) kept")
    return 0
