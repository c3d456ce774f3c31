"""Durations (`500ms`, `30s`, `5m`, `2h`, `7d`): the grammar, its parser and its schema type."""

from __future__ import annotations

import re
from dataclasses import dataclass

from yaml.nodes import Node

from runner.core.schema import Context, Str
from runner.core.yamlnodes import shown

DURATION = r"\d+(\.\d+)?(ms|s|m|h|d)?"
DURATION_HINT = "a duration such as 500ms, 30s, 5m, 2h or 7d"
MAX_DURATION = "365d"  # longer ones overflow sleeps and timers (int64 nanoseconds), and mean "never"


def seconds(text: str | int | float) -> float:
    """'30s' → 30.0, '5m' → 300.0, '500ms' → 0.5; a bare number is seconds."""
    match = re.fullmatch(DURATION, str(text).strip())
    if match is None:
        raise ValueError(f"not a duration: {text!r}")
    value = float(str(text).rstrip("msdh") or 0)
    unit = match.group(2) or "s"
    return value * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[unit]


@dataclass(frozen=True)
class Duration(Str):
    """A duration (`30s`, `5m` …) of at most MAX_DURATION."""

    pattern: str | None = DURATION
    pattern_hint: str = DURATION_HINT

    def read(self, node: Node, path: str, ctx: Context) -> str:
        value = super().read(node, path, ctx)
        if seconds(value) > seconds(MAX_DURATION):
            raise ctx.error(node, path, f"expected a duration of at most {MAX_DURATION}, got {shown(value)}")
        return value
