"""`runner reject EXECUTION --reason TEXT`: reject a waiting manual approval (the stage fails)."""

from __future__ import annotations

import argparse
from typing import Any

from runner.errors import EXIT_OK
from runner.output import say
from runner.store import open_store


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("reject", help="reject an execution waiting for approval")
    parser.add_argument("execution", metavar="EXECUTION", help="execution id or unique prefix")
    parser.add_argument("--reason", required=True, help="why (recorded, shown in the UI)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.codepipeline import execution as pipeline

    execution_id = pipeline.reject(open_store(), args.execution, args.reason)
    say(f"rejected execution {execution_id}")
    return EXIT_OK
