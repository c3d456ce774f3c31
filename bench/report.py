"""The suite's one table and bench/results.json: rows name metric keys; values live in one dict."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

Value = float | dict[str, float]  # a number, or a curve (e.g. services → seconds)
Metrics = dict[str, Value]


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

    def missing(self) -> list[str]:
        """What this outcome should hold and does not: no number at all, or a row's value."""
        if not any(_finite(v) for v in self.metrics.values()):
            return ["no number"]
        return [row.key for row in self.rows if lookup(self.metrics, row.key) is None]


def _finite(value: Value) -> bool:
    if isinstance(value, dict):
        return any(_finite(v) for v in value.values())
    return isinstance(value, int | float) and math.isfinite(value)


def lookup(metrics: Mapping[str, Value], key: str) -> float | None:
    """A metric's number; `curve.point` names one point of a curve (`deploy_s_by_services.20`).
    None when it is missing or not finite."""
    name, _, point = key.partition(".")
    value: Value | None = metrics.get(key, metrics.get(name))
    if isinstance(value, dict):
        value = value.get(point) if point else None
    if value is None or not _finite(value):
        return None
    return float(value)


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
        return f"{value:.3f}" if abs(value) < 1 else f"{value:.1f}" if abs(value) < 100 else f"{value:.0f}"
    if unit == "req/s":
        return f"{value:.0f}"
    return f"{value:.2f}"


HEADER = ("figure", "what", "value", "unit", "reference (same run)", "ref", "ratio", "goal")


def table_lines(rows: Iterable[Row], metrics: Mapping[str, Value]) -> list[str]:
    """The table as text lines; a row whose value is missing shows `-` (the figure failed)."""
    cells = [HEADER]
    for row in rows:
        value = lookup(metrics, row.key)
        reference = lookup(metrics, row.ref_key) if row.ref_key else None
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
    metrics: Mapping[str, Value],
    meta: Mapping[str, Any],
    details: Mapping[str, Any],
    failed: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """results.json: every metric at the top level (finite numbers, rounded; curves as mappings),
    then the figures that failed (name → why), meta and details."""
    body: dict[str, Any] = {}
    for key in sorted(metrics):
        value = _rounded(metrics[key])
        if value is not None:  # JSON has no NaN; a missing key says "not measured"
            body[key] = value
    body["failed"] = dict(failed or {})
    body["meta"] = dict(meta)
    body["details"] = dict(details)
    return body


def _rounded(value: Value) -> Value | None:
    if isinstance(value, dict):
        points = {k: round(v, 4) for k, v in value.items() if math.isfinite(v)}
        return points or None
    return round(value, 4) if math.isfinite(value) else None
