"""`runner rollback ENV [SERVICE]`: back to the previous image (instant while the old slot is warm)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "rollback", help="roll a service back to the image live before (a new deployment)"
    )
    parser.add_argument("environment", metavar="ENV")
    parser.add_argument("service", metavar="SERVICE", nargs="?", help="default: the last deployed service")
    parser.add_argument("--json", action="store_true", help="print the rollback deployment as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.codedeploy import rollback
    from runner.commands._project import load_project
    from runner.commands.deploy import report
    from runner.output import say
    from runner.store import open_store

    result = rollback(load_project(), open_store(), args.environment, args.service, say=say)
    return report(result, args.json)
