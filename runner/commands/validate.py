"""`runner validate FILE…`: check buildspec, pipeline.yml or appspec files without running anything.

Every file is checked and reported (`FILE: ok`, or one error line naming file:line:col);
the exit status is 2 if any file failed. `--json` prints
`[{"file", "ok", "errors": […], "warnings": […]}]`, one entry per file, in order.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.codebuild import buildspec_loader
from runner.errors import EXIT_OK, EXIT_USAGE, RunnerError
from runner.spec import config_loader


@dataclass(frozen=True, slots=True)
class Checked:
    file: str
    errors: tuple[str, ...]
    warnings: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "ok": not self.errors,
            "errors": list(self.errors),
            "warnings": list(self.warnings),
        }


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("validate", help="check buildspec/pipeline/appspec files")
    parser.add_argument("files", nargs="+", metavar="FILE")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    results = [check(name) for name in args.files]
    if args.json:
        print(json.dumps([r.as_json() for r in results], indent=2))
    else:
        for result in results:
            for warning in result.warnings:
                print(f"warning: {warning}", file=sys.stderr)
            for error in result.errors:
                print(f"runner: error: {error}", file=sys.stderr)
            if not result.errors:
                print(f"{result.file}: ok")
    return EXIT_USAGE if any(r.errors for r in results) else EXIT_OK


def check(name: str) -> Checked:
    path = Path(name)
    if not path.is_file():
        return Checked(name, (f"{name}: no such file",), ())
    try:
        return Checked(name, (), validate_file(path))
    except RunnerError as e:
        return Checked(name, (str(e),), ())


def validate_file(path: Path) -> tuple[str, ...]:
    """Raises ConfigError on the first problem; returns warnings."""
    if path.name == "pipeline.yml":
        config_loader.load(path)
        return ()
    if path.name in ("appspec.yml", "appspec.yaml"):
        from runner.codedeploy import appspec

        appspec.load(path, str(path))
        return ()
    from runner.localaws.limits import warnings as local_aws_warnings

    return (*buildspec_loader.load(path, str(path)).warnings, *local_aws_warnings(path, str(path)))
