"""`runner events [--follow] [--since T] [--json]`: the state-change events, in AWS's shapes;
`runner events --failed-deliveries`: what could not be delivered to a rule's target, and why.

T is an ISO 8601 time (`2026-12-01T10:00:00Z`, `2026-12-01`) or a duration back from now
(`10m`, `2h`, `7d`). Without --since, the last DEFAULT_COUNT events. `--json` prints one
event (or one delivery) per line as a JSON object. `--follow` keeps printing new events
until Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from runner.errors import EXIT_OK, UsageError
from runner.events.shapes import summary_line
from runner.store import deliveries, open_store

DEFAULT_COUNT = 100
FOLLOW_POLL_S = 0.2


def add_parser(sub: Any) -> None:
    parser = sub.add_parser("events", help="state-change events (EventBridge shapes) and their deliveries")
    parser.add_argument("--since", metavar="T", help="ISO 8601 time, or a duration back from now (10m, 2h)")
    parser.add_argument("-f", "--follow", action="store_true", help="keep printing new events until Ctrl-C")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "--failed-deliveries", action="store_true", help="deliveries that failed (or are retried), and why"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    since = parse_since(args.since) if args.since else None
    store = open_store()
    if args.failed_deliveries:
        return _failed(store, args.json)
    if since is None:
        after = max(0, deliveries.last_seq(store) - DEFAULT_COUNT)
        found = deliveries.events(store, after_seq=after)
    else:
        found = deliveries.events(store, since=since)
    last = _print(found, args.json, 0)
    if not args.follow:
        return EXIT_OK
    last = max(last, deliveries.last_seq(store))
    try:
        while True:
            time.sleep(FOLLOW_POLL_S)
            last = _print(deliveries.events(store, after_seq=last), args.json, last)
    except KeyboardInterrupt:
        return EXIT_OK  # Ctrl-C is how --follow ends


def _print(found: list[tuple[int, dict[str, Any]]], as_json: bool, last: int) -> int:
    for seq, event in found:
        sys.stdout.write((json.dumps(event, sort_keys=True) if as_json else summary_line(event)) + "\n")
        last = seq
    sys.stdout.flush()
    return last


def parse_since(text: str) -> float:
    """`10m` → now − 10 minutes; an ISO 8601 time (UTC unless it names an offset)."""
    from runner.core.durations import seconds

    value = text.strip()
    if re.fullmatch(r"\d+(\.\d+)?(ms|s|m|h|d)", value):
        return time.time() - seconds(value)
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise UsageError(f"--since {text!r}: expected an ISO 8601 time or a duration such as 10m") from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


def _failed(store: Any, as_json: bool) -> int:
    listed = deliveries.listed(store, (deliveries.FAILED, deliveries.PENDING))
    listed = [d for d in listed if d["status"] == deliveries.FAILED or d["reason"]]
    for item in listed:
        if as_json:
            sys.stdout.write(json.dumps(item, sort_keys=True) + "\n")
            continue
        event, target = item["event"], item["target"]
        state = "failed" if item["status"] == deliveries.FAILED else "retrying"
        what = f"{target['kind']} {target['value']}".strip()
        sys.stdout.write(
            f"{event['time']}  {event['detail-type']} {event['id'][:8]} → rule {item['rule']}, {what}: "
            f"{state} after {len(item['attempts'])} attempt(s): {item['reason']}\n"
        )
    if not listed and not as_json:
        print("no failed deliveries")
    return EXIT_OK
