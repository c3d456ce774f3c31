"""`runner hook install|uninstall|status`: the git post-commit hook that queues each commit."""

from __future__ import annotations

import argparse
from typing import Any

from runner.errors import EXIT_OK


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("hook", help="install the git post-commit hook that ships each commit")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    install = verbs.add_parser(
        "install", help="install (an existing post-commit hook is kept and still runs)"
    )
    install.set_defaults(func=run)
    uninstall = verbs.add_parser("uninstall", help="remove it and put back the hook it replaced")
    uninstall.set_defaults(func=run)
    status = verbs.add_parser("status", help="is it installed; who drains the queue; what is queued")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.commands._project import load_project
    from runner.output import print_json, say
    from runner.paths import runner_home
    from runner.triggers import hook, post_commit

    config = load_project()
    if args.verb == "install":
        state = hook.install(config.root)
        chained = f"; it runs the previous hook, kept as {state.chained.name}" if state.chained else ""
        say(f"installed {state.path}{chained}")
        return EXIT_OK
    if args.verb == "uninstall":
        was = hook.state(config.root)
        state = hook.uninstall(config.root)
        if not was.installed:
            say(f"no runner hook at {state.path}: nothing to do")
        else:
            say(f"removed the runner hook{'; restored the previous hook' if state.foreign else ''}")
        return EXIT_OK
    state = hook.state(config.root)
    held = post_commit.holder(str(runner_home()))
    data = {
        **state.as_json(),
        "drained_by": {"pid": held[0], "role": held[1]} if held else None,
        "queue": _queue(),
    }
    if args.json:
        print_json(data)
        return EXIT_OK
    print(f"hook: {'installed' if state.installed else 'not installed'} ({state.path})")
    if state.chained:
        print(f"  chained: {state.chained}")
    if state.foreign:
        print("  a post-commit hook that is not the runner's is in place")
    print(f"queue drained by: {f'{held[1]} pid {held[0]}' if held else 'nobody (the hook starts a worker)'}")
    for entry in data["queue"]:
        what = entry["service"] or (entry["commit"] or "")[:12]
        print(f"  #{entry['id']} {entry['kind']} {what} {entry['status']}")
    return EXIT_OK


def _queue() -> list[dict[str, Any]]:
    from runner.store import open_store, queue

    return [entry.as_json() for entry in queue.active(open_store())]
