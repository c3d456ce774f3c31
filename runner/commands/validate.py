"""`runner validate FILE…`: check buildspec, pipeline.yml or appspec files without running anything."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from runner import buildspec, config
from runner.errors import EXIT_OK, UsageError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("validate", help="check buildspec/pipeline/appspec files")
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    for name in args.files:
        path = Path(name)
        if not path.is_file():
            raise UsageError(f"{name}: no such file")
        warnings = validate_file(path)
        for warning in warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"{name}: ok")
    return EXIT_OK


def validate_file(path: Path) -> tuple[str, ...]:
    """Raises ConfigError on the first problem; returns warnings."""
    if path.name == "pipeline.yml":
        config.load(path)
        return ()
    if path.name in ("appspec.yml", "appspec.yaml"):
        from runner.deploy import appspec

        appspec.load(path, str(path))
        return ()
    from runner.localaws.limits import warnings as local_aws_warnings

    return (*buildspec.load(path, str(path)).warnings, *local_aws_warnings(path, str(path)))
