"""`runner schema`: the JSON Schema of pipeline.yml (or of buildspec.yml)."""

from __future__ import annotations

import argparse
from typing import Any

from runner.codebuild import buildspec_schema
from runner.core import config_schema
from runner.output import print_json


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("schema", help="print the JSON Schema of pipeline.yml")
    parser.add_argument("kind", nargs="?", choices=("pipeline", "buildspec"), default="pipeline")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.kind == "buildspec":
        print_json(
            {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "title": "CodeBuild buildspec 0.2",
                **buildspec_schema.SCHEMA.json_schema(),
            }
        )
    else:
        print_json(config_schema.json_schema())
    return 0
