"""`runner validate FILE…`: check buildspec, pipeline.yml, appspec or ECS task definition files
without running anything.

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
from runner.core import config_loader
from runner.errors import EXIT_OK, EXIT_USAGE, ConfigError, RunnerError

MAX_SNIFF = 4096


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
    parser = sub.add_parser("validate", help="check buildspec/pipeline/appspec/taskdef files")
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
    kind = ecs_kind(path)
    if kind:
        return _ecs_file(path, kind)
    from runner.localaws.limits import warnings as local_aws_warnings

    return (*buildspec_loader.load(path, str(path)).warnings, *local_aws_warnings(path, str(path)))


def ecs_kind(path: Path) -> str:
    """'appspec', 'taskdef' or '' (by name, else by a JSON file's top-level keys)."""
    name = path.name.lower()
    if name.startswith("appspec") and path.suffix.lower() in (".yml", ".yaml", ".json"):
        return "appspec"
    if any(word in name for word in ("taskdef", "task-definition", "task_definition")):
        return "taskdef"
    if path.suffix.lower() == ".json":
        head = path.read_text(errors="replace")[:MAX_SNIFF]
        if "containerDefinitions" in head or '"taskDefinition"' in head:
            return "taskdef"
        if '"TargetService"' in head or '"Hooks"' in head:
            return "appspec"
    return ""


def _ecs_file(path: Path, kind: str) -> tuple[str, ...]:
    from runner.codedeploy import appspec, taskdef
    from runner.codedeploy.ecs_files import template_error, template_marker

    try:
        loaded = appspec.load(path, str(path)) if kind == "appspec" else taskdef.load(path, str(path))
    except ConfigError as e:
        # A YAML template reads as YAML; its `${PORT}` fails only where a number is expected.
        marker = template_marker(path.read_text(errors="replace"), e.position.line)
        if marker.startswith(("$", "%{", "{{")) and "template" not in e.detail:
            raise template_error(e.position, marker, "YAML") from e
        raise
    return loaded.warnings
