"""`runner watch`: build services on save, run the pipeline on each new commit (foreground)."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from runner.errors import EXIT_OK, UsageError


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "watch",
        help="build on save, run the pipeline on commit (foreground; Ctrl-C stops)",
        description="Watch the working tree and the git refs. A save under a service's path (or "
        "its inputs) builds that service from the working tree; a new commit on the watched "
        "branch (pipeline.yml `branch`, default the current one) starts a pipeline execution "
        "for that commit. Ignores what .gitignore, .git/info/exclude and .runnerignore ignore.",
    )
    parser.add_argument(
        "--debounce", type=int, default=50, metavar="MS", help="quiet time after the last save (default 50)"
    )
    parser.add_argument("--no-tree", action="store_true", help="do not build on save")
    parser.add_argument("--no-commits", action="store_true", help="do not run the pipeline on commit")
    parser.add_argument(
        "--per-service", type=int, default=1, metavar="N", help="builds of one service at once (default 1)"
    )
    parser.add_argument(
        "--jobs", type=int, metavar="N", help="builds at once (default: pipeline.yml build_parallelism)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.codepipeline.recovery import recover
    from runner.commands._project import load_project
    from runner.output import say
    from runner.paths import runner_home
    from runner.store import open_store
    from runner.triggers import post_commit
    from runner.triggers.dispatch import Dispatcher
    from runner.triggers.session import WatchSession

    if args.debounce < 0 or args.per_service < 1 or (args.jobs is not None and args.jobs < 1):
        raise UsageError("--debounce must be >= 0, --per-service and --jobs >= 1")
    config = load_project()  # errors in pipeline.yml stop here; later runs re-read it
    home = runner_home()
    fd = post_commit.acquire(str(home), "watch", wait_s=0)
    if fd is None:
        held = post_commit.holder(str(home)) or (0, "")
        if held[1] == "watch":
            raise UsageError(f"runner watch already runs for this project (pid {held[0]})")
        say(f"a worker (pid {held[0]}) is draining the queue; watching now, running after it")
    store = open_store(home)
    recover(store, say)
    dispatcher = Dispatcher(
        config.path, store, say, per_service=args.per_service, jobs=args.jobs, initiator="runner watch"
    )
    session = WatchSession(
        config.path,
        store,
        say,
        dispatcher.wakeup.set,
        debounce_s=args.debounce / 1000,
        tree=not args.no_tree,
        commits=not args.no_commits,
    )
    session.start()
    listener = None
    what = [] if args.no_tree else ["saves → working-tree builds"]
    what += [] if args.no_commits else [f"commits on {session.branch or '(no branch)'} → pipeline"]
    say(f"watching {config.root}: {'; '.join(what) or 'nothing'} (Ctrl-C stops)")
    try:
        while fd is None:
            time.sleep(0.5)
            fd = post_commit.acquire(str(home), "watch", wait_s=0)
        listener = post_commit.WakeListener(str(home), dispatcher.wakeup.set)  # a hook's nudge
        dispatcher.resume_orphans()
        dispatcher.run()
    finally:
        if listener is not None:
            listener.close()
        session.stop()
        dispatcher.shutdown()
        if fd is not None:
            os.close(fd)
    return EXIT_OK
