"""`runner debug BUILD_ID [--phase NAME]`: a shell in the state a phase started from."""

from __future__ import annotations

import argparse
from typing import Any

from runner.codebuild.phases import COMMAND_PHASES, SUCCEEDED
from runner.errors import UsageError
from runner.output import say
from runner.paths import runner_home
from runner.store import open_store
from runner.store.builds import get_build, phases_of


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("debug", help="open a shell where a build phase started")
    parser.add_argument("build_id", metavar="BUILD_ID")
    parser.add_argument("--phase", help="phase name (default: the phase that failed)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.adapters.docker import client as docker_client
    from runner.codebuild.debug import open_shell
    from runner.commands._docker_host import executor_here

    store = open_store()
    build = get_build(store, args.build_id)
    if build is None:
        raise UsageError(f"no build {args.build_id!r}")
    phase = (args.phase or _failed_phase(store, build.id)).upper()
    if phase not in COMMAND_PHASES:
        raise UsageError(f"--phase must be one of {', '.join(p.lower() for p in COMMAND_PHASES)}")
    uuid = build.id.rpartition(":")[2]
    say(f"debugging {build.id} at the start of {phase} (exit the shell to leave)")
    labels = docker_client.labels("debug", build=build.id)
    work = runner_home() / "work"
    return open_shell(work / uuid, phase, labels, executor_here(None, work))  # DOCKER_HOST's engine


def _failed_phase(store: Any, build_id: str) -> str:
    phases = [p for p in phases_of(store, build_id) if p["name"] in COMMAND_PHASES]
    failed = [p for p in phases if p["status"] != SUCCEEDED]
    if failed:
        return str(failed[0]["name"])
    if phases:
        return str(phases[-1]["name"])
    raise UsageError(f"build {build_id} ran no command phase; use --phase")
