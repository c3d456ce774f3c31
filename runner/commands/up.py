"""`runner up ENV`: bring an environment up (router, live slots, backing services)."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("up", help="bring an environment up (compose project, router, live slots)")
    parser.add_argument("environment", metavar="ENV")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.codedeploy import ensure_up
    from runner.commands._project import load_project
    from runner.output import print_json, say
    from runner.store import open_store

    result = ensure_up(load_project(), open_store(), args.environment, say=say)
    if args.json:
        print_json(result.as_json())
        return 0
    started = ", ".join(result.started) if result.started else "nothing to start"
    print(f"{result.environment} is up ({result.project}): live {result.live_url}, test {result.test_url}")
    print(f"  started: {started}")
    if result.all_interfaces:
        print(
            f"  Swarm publishes ports {result.ports} on ALL interfaces of the manager "
            "(it cannot bind one address): firewall them if that host is reachable from elsewhere"
        )
    if result.reloaded:
        print(f"  router config changed: graceful reload in {result.reload_ms:.0f} ms")
    return 0
