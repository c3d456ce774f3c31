"""`runner images bootstrap|list`: offline base images and the images builds produced."""

from __future__ import annotations

import argparse
import time
from typing import Any

from runner import base_images
from runner.output import print_json, print_table, say


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("images", help="base images and built service images")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    boot = verbs.add_parser("bootstrap", help="build the offline base images (debootstrap)")
    boot.add_argument("--force", action="store_true", help="rebuild even when current")
    boot.add_argument("--json", action="store_true", help="print the image states as JSON")
    boot.set_defaults(func=run_bootstrap)
    listing = verbs.add_parser("list", help="list service images built by runner")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)


def run_bootstrap(args: argparse.Namespace) -> int:
    started = time.monotonic()
    states = base_images.bootstrap(force=args.force, say=say)
    if args.json:
        print_json([_state(s) for s in states])
        return 0
    built = time.monotonic() - started
    print_table(["IMAGE", "RECIPE", "ID"], [[s.ref, s.digest, (s.image_id or "")[7:19]] for s in states])
    say(f"base images are current ({built:.1f}s)")
    return 0


def _state(state: base_images.ImageState) -> dict[str, Any]:
    return {
        "ref": state.ref,
        "recipe": state.digest,
        "id": state.image_id,
        "current": state.current,
    }


def run_list(args: argparse.Namespace) -> int:
    from runner.store import open_store

    rows = open_store().query("SELECT * FROM images ORDER BY created DESC")
    records = [dict(r) for r in rows]
    if args.json:
        print_json(records)
        return 0
    print_table(
        ["TAG", "IMAGE ID", "COMMIT", "BUILD"],
        [[r["tag"], r["image_id"][7:19], (r["commit_sha"] or "")[:12], r["build_id"]] for r in records],
    )
    return 0
