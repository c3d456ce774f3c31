"""Printing for commands: JSON for scripts, aligned tables for people."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any


def print_json(value: Any) -> None:
    json.dump(value, sys.stdout, indent=2, sort_keys=False, default=str)
    sys.stdout.write("\n")


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(c) for c in headers], *[[("" if c is None else str(c)) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def say(message: str) -> None:
    """Progress for people, on stderr so stdout stays clean for --json."""
    print(message, file=sys.stderr, flush=True)


class TransferProgress:
    """An image's way to another engine, on stderr at most every two seconds (the total is the
    image's size, an estimate)."""

    def __init__(self, what: str) -> None:
        self.what = what
        self.shown_at = time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage == "exporting":
            say(f"{self.what}: ~{total / 2**20:.0f} MiB, the source engine is exporting it")
        elif stage == "loading":
            say(f"{self.what}: {done / 2**20:.0f} MiB sent, the target engine is loading it")
        elif time.monotonic() - self.shown_at >= 2.0:
            self.shown_at = time.monotonic()
            say(f"{self.what}: {done / 2**20:.0f} of ~{total / 2**20:.0f} MiB sent")
