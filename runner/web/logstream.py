"""A build's log as server-sent events: batches of new lines while it runs, then `end`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from starlette.concurrency import run_in_threadpool

from runner.store import Store
from runner.store.views import build_ended, log_page

POLL_S = 0.25  # the build log is flushed to the store every 0.25 s (runner/codebuild/buildlog.py)
BATCH = 1000
KEEPALIVE_S = 15.0


def event(name: str, data: object, event_id: int | None = None) -> str:
    head = f"id: {event_id}\n" if event_id is not None else ""
    return f"{head}event: {name}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def stream(
    store: Store, build_id: str, after: int, disconnected: Callable[[], Awaitable[bool]]
) -> AsyncIterator[str]:
    """`lines` events carry [[seq, text], …] (the event id is the last seq, so a reconnecting
    EventSource resumes after it); `end` carries the final status."""
    quiet_since = time.monotonic()
    while not await disconnected():
        # Read `ended` before the lines: the runner flushes its last lines before it
        # records the end, so an ended build with no new lines has nothing more to say.
        ended, status = await run_in_threadpool(build_ended, store, build_id)
        page = await run_in_threadpool(log_page, store, build_id, after, BATCH)
        lines = page["lines"]
        if lines:
            after = lines[-1][0]
            quiet_since = time.monotonic()
            yield event("lines", lines, after)
            if len(lines) == BATCH:
                continue
        elif ended:
            yield event("end", {"status": status})
            return
        elif time.monotonic() - quiet_since > KEEPALIVE_S:
            quiet_since = time.monotonic()
            yield ": keep-alive\n\n"
        await asyncio.sleep(POLL_S)
