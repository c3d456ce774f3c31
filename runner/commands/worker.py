"""`runner worker`: drain the trigger queue, then exit (the post-commit hook starts it detached)."""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

from runner.errors import EXIT_OK


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "worker",
        help="run what the trigger queue holds, then exit (started by the post-commit hook)",
        description="Drain the trigger queue: start a pipeline execution per queued commit and a "
        "build per queued service, wait for them, exit once idle. Only one worker (or `runner "
        "watch`) drains a project's queue at a time; a second one exits at once.",
    )
    parser.add_argument(
        "--idle-exit",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="exit after this long with nothing queued or running (default 2)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from runner.codepipeline.recovery import recover
    from runner.core import config_loader
    from runner.errors import UsageError
    from runner.paths import runner_home
    from runner.store import open_store, queue
    from runner.triggers import post_commit
    from runner.triggers.dispatch import Dispatcher

    path = config_loader.find()
    if path is None:
        raise UsageError("no pipeline.yml here or in a parent directory")
    home = runner_home()
    fd = post_commit.acquire(str(home), "worker")
    if fd is None:
        held = post_commit.holder(str(home))
        stamp(f"another process (pid {held[0] if held else '?'}) drains the queue; nothing to do")
        return EXIT_OK
    store = open_store(home)
    recover(store, stamp)
    dispatcher = Dispatcher(path, store, stamp, initiator="runner worker")
    listener = post_commit.WakeListener(str(home), dispatcher.wakeup.set)  # the hook's nudge
    stamp(f"worker {os.getpid()} started")
    try:
        while fd is not None:
            dispatcher.resume_orphans()
            dispatcher.run(idle_exit=args.idle_exit)
            os.close(fd)
            # A hook that queued while we decided to stop saw the lock held and started no
            # worker: look again after releasing it (the hook queues first, then looks).
            pending = queue.with_status(store, queue.QUEUED) or queue.pending_spool(home)
            fd = post_commit.acquire(str(home), "worker", wait_s=0) if pending else None
    except KeyboardInterrupt:
        dispatcher.shutdown()
        raise
    finally:
        listener.close()
    stamp(f"worker {os.getpid()} idle: exiting")
    return EXIT_OK


def stamp(line: str) -> None:
    """Log lines with a time: the worker's output goes to RUNNER_HOME/worker.log."""
    print(f"{time.strftime('%H:%M:%S')} {line}", flush=True)
