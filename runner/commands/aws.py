"""`runner aws status|stop|reset`: the project's local AWS (`--aws local`), which lives in memory."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from runner.errors import EXIT_OK
from runner.output import print_json, say
from runner.paths import runner_home


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "aws",
        help="the local AWS of --aws local (status, stop, reset)",
        description="The local AWS (moto) that builds with --aws local talk to: one process per project, "
        "started by the first such build. Its state is in memory: stop or reset forgets it.",
    )
    parser.add_argument("verb", choices=("status", "stop", "reset"))
    parser.add_argument("--json", action="store_true", help="print the state as JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.localaws import process

    home = runner_home()
    if args.verb == "stop":
        found = process.stop(home)
    elif args.verb == "reset":
        found = process.reset(home)
    else:
        found = process.running(home)
    state = _state(found if args.verb != "stop" else None, home)
    if args.json:
        print_json({"verb": args.verb, "pid": found.pid if found else None, **state})
    elif found is None:
        say("local AWS: not running (a build with --aws local starts it)")
    else:
        done = {"stop": "stopped", "reset": "reset (empty)", "status": "running"}[args.verb]
        say(f"local AWS: {done}: pid {found.pid}, account {found.account}, proxy {found.proxy}")
        say(f"  ECR registry: {found.registry or found.registry_problem}")
        if args.verb == "status":
            say(f"  up {state['uptime_s']:.0f} s, {state['memory_mib']} MiB, state in memory only")
    return EXIT_OK


def _state(found: Any, home: Path) -> dict[str, Any]:
    if found is None:
        return {"running": False}
    return {
        "running": True,
        "pid": found.pid,
        "account": found.account,
        "proxy": found.proxy,
        "registry": found.registry,
        "registry_problem": found.registry_problem,
        "uptime_s": round(time.time() - found.started, 1),
        "memory_mib": _rss_mib(found.pid),
        "log": str(home / "aws" / "server.log"),
    }


def _rss_mib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return None
