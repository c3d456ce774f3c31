"""`runner status [ENV] [--json]`: environments (slots, images, weights, health) and the queue."""

from __future__ import annotations

import argparse
from typing import Any


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("status", help="environments: live slot, image, weights, health, last deployment")
    parser.add_argument("environment", metavar="ENV", nargs="?")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.codedeploy import status
    from runner.commands._project import load_project
    from runner.output import print_json
    from runner.store import open_store

    data = status(load_project(), open_store(), args.environment)
    if args.json:
        print_json(data)
        return 0
    for env in data["environments"]:
        show_environment(env)
    if data["queue"]:
        print(f"queue: {len(data['queue'])} waiting or running")
    return 0


def show_environment(env: dict[str, Any]) -> None:
    from runner.output import print_table

    active = f", deploying: {env['active']['holder']}" if env["active"] else ""
    urls = f"live {env['live_url']}, test {env['test_url']}"
    print(f"{env['name']} ({env['project']}): router {env['router']}, {urls}{active}")
    if env.get("error"):
        print(f"  {env['error']}")
    owner = env.get("owner")
    if owner and not owner["ours"]:
        gone = f" (gone: `runner down {env['name']} --force` takes it over)" if owner["gone"] else ""
        print(f"  owned by the project in {owner['project']}{gone}; this copy does not manage it")
    for deployment in env.get("interrupted", []):
        print(
            f"  deployment {deployment} was interrupted (its runner died); the next runner command repairs it"
        )
    rows = []
    swarm = any(s.get("replicas") for s in env["services"])
    for s in env["services"]:
        image = s["image"]
        last = s["last_deployment"]
        rows.append(
            [
                s["service"],
                s["live_slot"] or "-",
                f"{image['tag']} ({image['id'][7:19]})" if image else "-",
                " ".join(f"{k} {v}%" for k, v in sorted(s["weights"].items())) or "-",
                s["health"] or "-",
                *(
                    [f"{s['replicas']} on {','.join(s['nodes']) or '-'}" if s.get("replicas") else "-"]
                    if swarm
                    else []
                ),
                f"{last['id']} {last['kind'].lower()} {last['status']}" if last else "-",
            ]
        )
    print_table(
        [
            "  SERVICE",
            "LIVE",
            "IMAGE",
            "WEIGHTS",
            "HEALTH",
            *(["REPLICAS"] if swarm else []),
            "LAST DEPLOYMENT",
        ],
        [["  " + r[0], *r[1:]] for r in rows],
    )
