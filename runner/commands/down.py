"""`runner down ENV|--all [--force]`: remove an environment's containers, network and volumes."""

from __future__ import annotations

import argparse
from typing import Any

from runner.errors import UsageError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("down", help="remove an environment (containers, network, volumes)")
    parser.add_argument("environment", metavar="ENV", nargs="?")
    parser.add_argument(
        "--all", action="store_true", help="every environment of pipeline.yml that this project owns"
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="remove ENV even when another project (another clone or worktree) owns it, to take it over",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.codedeploy import EnvironmentOwned, down
    from runner.commands._project import load_project
    from runner.output import say
    from runner.store import open_store

    if bool(args.environment) == bool(args.all):
        raise UsageError("runner down: name one environment, or --all")
    if args.force and args.all:
        raise UsageError("runner down: --force takes one environment by name, never --all")
    config = load_project()
    store = open_store()
    if not args.all:
        down(config, store, args.environment, say=say, force=args.force)
        return 0
    for env in config.environments:
        try:
            down(config, store, env.name, say=say)
        except EnvironmentOwned as e:  # another copy's environment: --all never touches it
            say(f"{e.where}: left alone")
    return 0
