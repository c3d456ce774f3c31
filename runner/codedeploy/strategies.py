"""Traffic shifting configurations (CodeDeploy's names and custom forms) as pure schedules.

The grammar (names, custom forms, percentage bounds) is runner/core/traffic.py's, shared
with pipeline.yml's schema; this module turns a configuration into timed traffic shifts.

AWS's intervals are long for a laptop: every interval is divided by pipeline.yml's
`time_scale` (CODEDEPLOY.md decision 2), and the scaled numbers are what we print and store.
All deployment durations are written in AWS time and scaled alike: named configurations,
the custom forms (`canary: {percent, wait}`, `linear: {percent, every}`, `canary:10:30s`),
and an environment's `termination_wait` and `bake`. Timeouts (health, hooks) and alarm
windows are real seconds.
https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.core.durations import seconds
from runner.core.traffic import CUSTOM, FORMS, HINT, NAMED, percent_error
from runner.errors import UsageError

ALL_AT_ONCE = "AllAtOnce"
CANARY = "TimeBasedCanary"
LINEAR = "TimeBasedLinear"


@dataclass(frozen=True, slots=True)
class Step:
    """Send `percent` of the live traffic to the replacement, then wait `wait_s` (scaled)."""

    percent: int
    wait_s: float


@dataclass(frozen=True, slots=True)
class TrafficConfig:
    """A deployment configuration: its display name, type, percentage and (AWS-time) interval."""

    name: str
    type: str  # AllAtOnce | TimeBasedCanary | TimeBasedLinear
    percent: int = 100
    interval_s: float = 0.0  # unscaled, as AWS counts it
    time_scale: float = 1.0

    @property
    def scaled_interval_s(self) -> float:
        return self.interval_s / self.time_scale if self.time_scale > 0 else self.interval_s

    def steps(self) -> tuple[Step, ...]:
        return schedule(self)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "type": self.type,
            "percent": self.percent,
            "interval_s": self.interval_s,
            "time_scale": self.time_scale,
            "scaled_interval_s": round(self.scaled_interval_s, 3),
            "steps": [{"percent": s.percent, "wait_s": round(s.wait_s, 3)} for s in self.steps()],
        }

    def describe(self) -> str:
        wait = _fmt(self.scaled_interval_s)
        scale = f" (AWS {_fmt(self.interval_s)} / time_scale {self.time_scale:g})"
        if self.type == CANARY:
            return f"{self.name}: {self.percent}%, then 100% after {wait}{scale}"
        if self.type == LINEAR:
            return f"{self.name}: +{self.percent}% every {wait}{scale}"
        return f"{self.name}: 100% at once"


def parse(strategy: str | Mapping[str, Any], time_scale: float = 1.0) -> TrafficConfig:
    """A pipeline.yml `strategy:` value or a `--strategy` argument → TrafficConfig."""
    if isinstance(strategy, Mapping):
        return _from_mapping(strategy, time_scale)
    text = strategy.strip()
    custom = CUSTOM.fullmatch(text)
    if custom:
        key = FORMS[custom["kind"]].interval_key
        return _from_mapping(
            {custom["kind"]: {"percent": custom["percent"], key: custom["interval"]}}, time_scale
        )
    named = NAMED.fullmatch(text)
    if named is None:
        raise UsageError(f"unknown deployment configuration {text!r}; expected {HINT}")
    if named["all"]:
        return TrafficConfig(f"CodeDeployDefault.ECS{ALL_AT_ONCE}", ALL_AT_ONCE, 100, 0.0, time_scale)
    percent, minutes = (named["cp"], named["cm"]) if named["cp"] else (named["lp"], named["lm"])
    kind = CANARY if named["cp"] else LINEAR
    return _checked(TrafficConfig(_full_name(text), kind, int(percent), int(minutes) * 60.0, time_scale))


def _full_name(text: str) -> str:
    name = text if text.startswith("CodeDeployDefault.") else f"CodeDeployDefault.{text}"
    if not re.match(r"CodeDeployDefault\.(ECS|Lambda)", name):
        name = name.replace("CodeDeployDefault.", "CodeDeployDefault.ECS", 1)
    return name


def _from_mapping(spec: Mapping[str, Any], time_scale: float) -> TrafficConfig:
    if set(spec) - set(FORMS) or len([v for v in spec.values() if v]) != 1:
        raise UsageError(f"strategy {dict(spec)!r}: expected exactly one of {', '.join(FORMS)}")
    kind = next(k for k, v in spec.items() if v)
    body = spec[kind]
    key = FORMS[kind].interval_key
    try:
        percent = int(body["percent"])
        interval = seconds(body[key])
    except (KeyError, TypeError, ValueError) as e:
        raise UsageError(f"strategy {kind}: expected percent and {key} (e.g. {kind}:10:30s): {e}") from e
    name = f"{kind.capitalize()}{percent}Percent{'Every' if kind == 'linear' else ''}{_fmt(interval)}"
    return _checked(
        TrafficConfig(name, CANARY if kind == "canary" else LINEAR, percent, interval, time_scale)
    )


def _checked(config: TrafficConfig) -> TrafficConfig:
    error = percent_error("canary" if config.type == CANARY else "linear", config.percent)
    if error:
        raise UsageError(f"{config.name}: {error}")
    return config


def schedule(config: TrafficConfig) -> tuple[Step, ...]:
    """The replacement's share after each shift, and the (scaled) wait that follows it."""
    wait = config.scaled_interval_s
    if config.type == CANARY:
        return (Step(config.percent, wait), Step(100, 0.0))
    if config.type == LINEAR:
        shares = [*range(config.percent, 100, config.percent), 100]
        return tuple(Step(p, wait if p < 100 else 0.0) for p in shares)
    return (Step(100, 0.0),)


def scaled(duration_s: float, time_scale: float) -> float:
    """An AWS-time duration (termination wait, bake) in local seconds."""
    return duration_s / time_scale if time_scale > 0 else duration_s


def _fmt(value: float) -> str:
    if value >= 60 and value % 60 == 0:
        return f"{value / 60:g}m"
    return f"{value:g}s" if value >= 1 or value == 0 else f"{value * 1000:g}ms"
