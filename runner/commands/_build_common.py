"""What `runner build` and `runner build SERVICE` share: the --env/-e values and the printed result."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from runner.codebuild.buildenv import parse_assignment, parse_env_file
from runner.output import print_json, say

if TYPE_CHECKING:
    from runner.codebuild.build import BuildResult


def overrides(args: argparse.Namespace) -> dict[str, str]:
    values = parse_env_file(Path(args.env_file)) if args.env_file else {}
    values.update(parse_assignment(text) for text in args.env)
    return values


def report(result: BuildResult, as_json: bool) -> None:
    if as_json:
        print_json(result.as_json())
        return
    say(f"build {result.id} (#{result.number}): {result.status}")
    for phase in result.phases:
        context = phase.context[0]["message"] if phase.context else ""
        say(f"  {phase.name:<17} {phase.status:<10} {phase.ended - phase.started:7.2f}s  {context}")
    for report_ in result.reports:
        totals = (
            report_.coverage.summary() if report_.coverage else f"{report_.passed}/{report_.total} passed"
        )
        say(f"  report {report_.name}: {report_.status} {totals}")
        for case in report_.failures:
            say(f"    FAILED {case.name}: {case.message}")
