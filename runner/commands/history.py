"""`runner history [--json]`: the builds recorded in the store, newest first."""

from __future__ import annotations

import argparse
from typing import Any

from runner.output import print_json, print_table
from runner.store import open_store
from runner.store.batches import batch_links, with_batch
from runner.store.builds import list_builds


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("history", help="list recorded builds, newest first")
    parser.add_argument("--service", help="only builds of this service")
    parser.add_argument("--status", help="only builds with this status (e.g. FAILED)")
    parser.add_argument("--limit", type=int, default=50, help="at most N builds (0: all)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    store = open_store()
    builds = list_builds(store, service=args.service, status=args.status, limit=args.limit)
    if args.json:
        links = batch_links(store, [b.id for b in builds])
        print_json([with_batch(b.summary(), links.get(b.id)) for b in builds])
        return 0
    print_table(
        ["BUILD", "SERVICE", "STATUS", "SOURCE", "STARTED", "DURATION"],
        [
            [
                b.id,
                b.service or "-",
                b.status,
                (b.resolved_source_version or "")[:12],
                b.started_text(),
                b.duration_text(),
            ]
            for b in builds
        ],
    )
    return 0
