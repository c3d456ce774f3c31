"""The suite's one table and bench/results.json: rows name metric keys; values live in one dict."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Metrics = dict[str, float]


@dataclass(frozen=True, slots=True)
class Row:
    """One line of the table: a metric, and the reference measured in the same run (if any)."""

    figure: str
    what: str
    key: str  # the results.json key of the value
    unit: str
    ref_key: str | None = None  # the results.json key of the reference
    ref_what: str = ""
    ratio: bool = True  # value / reference is meaningful
    goal: str = ""


@dataclass
class Outcome:
    """What a figure measured: its rows, the numbers they name, and details for results.json."""

    rows: list[Row] = field(default_factory=list)
    metrics: Metrics = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of `values`; NaN when there are none."""
    if not values:
        return math.nan
    if not 0 <= p <= 100:
        raise ValueError(f"percentile {p} is outside 0..100")
    ordered = sorted(values)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return float(ordered[rank - 1])


def median(values: Sequence[float]) -> float:
    return percentile(values, 50)


def ratio(value: float | None, reference: float | None) -> float | None:
    if value is None or reference is None or not reference or math.isnan(value) or math.isnan(reference):
        return None
    return value / reference


def fmt(value: float | None, unit: str) -> str:
    """A number the way a reader wants it for its unit."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if unit in ("count", "requests", "containers", "services", "builds"):
        return f"{value:.0f}"
    if unit == "s":
        return f"{value:.4f}" if abs(value) < 0.1 else f"{value:.3f}" if abs(value) < 10 else f"{value:.2f}"
    if unit in ("ms", "MB"):
        return f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"
    if unit == "req/s":
        return f"{value:.0f}"
    return f"{value:.2f}"


HEADER = ("figure", "what", "value", "unit", "reference (same run)", "ref", "ratio", "goal")


def table_lines(rows: Iterable[Row], metrics: Mapping[str, float]) -> list[str]:
    """The table as text lines; a row whose value is missing shows `-` (the figure failed)."""
    cells = [HEADER]
    for row in rows:
        value = metrics.get(row.key)
        reference = metrics.get(row.ref_key) if row.ref_key else None
        quotient = ratio(value, reference) if row.ratio else None
        cells.append(
            (
                row.figure,
                row.what,
                fmt(value, row.unit),
                row.unit,
                row.ref_what if row.ref_key else "",
                fmt(reference, row.unit) if row.ref_key else "",
                f"{quotient:.2f}x" if quotient is not None else "",
                row.goal,
            )
        )
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEADER))]
    right = {2, 5, 6}  # numbers
    out = []
    for n, line in enumerate(cells):
        parts = [
            c.rjust(w) if i in right else c.ljust(w)
            for i, (c, w) in enumerate(zip(line, widths, strict=True))
        ]
        out.append("  ".join(parts).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return out


def results_json(
    metrics: Mapping[str, float], meta: Mapping[str, Any], details: Mapping[str, Any]
) -> dict[str, Any]:
    """results.json: every metric at the top level (finite numbers, rounded), then meta and details."""
    body: dict[str, Any] = {}
    for key in sorted(metrics):
        value = metrics[key]
        if isinstance(value, float) and not math.isfinite(value):
            continue  # JSON has no NaN; a missing key says "not measured"
        body[key] = round(value, 4) if isinstance(value, float) else value
    body["meta"] = dict(meta)
    body["details"] = dict(details)
    return body
