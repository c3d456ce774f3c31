"""`runner promote SERVICE --from staging --to prod`: deploy the exact image another environment runs."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("promote", help="deploy the image live in one environment to another")
    parser.add_argument("service", metavar="SERVICE")
    parser.add_argument("--from", dest="source", required=True, metavar="ENV")
    parser.add_argument("--to", dest="target", required=True, metavar="ENV")
    from runner.commands.deploy import add_strategy

    add_strategy(parser)
    parser.add_argument("--no-wait", action="store_true", help="return without the termination wait")
    parser.add_argument("--json", action="store_true", help="print the deployment as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.codedeploy import promote
    from runner.commands._project import load_project
    from runner.commands.deploy import report
    from runner.output import say
    from runner.store import open_store

    result = promote(
        load_project(),
        open_store(),
        args.service,
        args.source,
        args.target,
        strategy=args.strategy,
        say=say,
        wait_termination=not args.no_wait,
    )
    return report(result, args.json)
