"""`runner approve EXECUTION [--summary TEXT]`: approve a waiting manual approval."""

from __future__ import annotations

import argparse
from typing import Any

from runner.errors import EXIT_OK
from runner.output import say
from runner.store import open_store


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("approve", help="approve an execution waiting for approval")
    parser.add_argument("execution", metavar="EXECUTION", help="execution id or unique prefix")
    parser.add_argument("--summary", default="", help="a comment recorded with the approval")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.codepipeline import execution as pipeline

    execution_id = pipeline.approve(open_store(), args.execution, args.summary)
    say(f"approved execution {execution_id}")
    return EXIT_OK
