"""`runner down ENV|--all`: remove an environment's containers, network and volumes."""

from __future__ import annotations

import argparse
from typing import Any

from runner.errors import UsageError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("down", help="remove an environment (containers, network, volumes)")
    parser.add_argument("environment", metavar="ENV", nargs="?")
    parser.add_argument("--all", action="store_true", help="every environment of pipeline.yml")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.commands._project import load_project
    from runner.deploy import down
    from runner.output import say
    from runner.store import open_store

    if bool(args.environment) == bool(args.all):
        raise UsageError("runner down: name one environment, or --all")
    config = load_project()
    store = open_store()
    names = [e.name for e in config.environments] if args.all else [args.environment]
    for name in names:
        down(config, store, name, say=say)
    return 0
