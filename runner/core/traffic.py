"""The grammar of traffic-shifting configurations, written once: pipeline.yml's schema
(runner/core/config_schema.py) checks `strategy:` against it, runner/codedeploy/strategies.py parses with it.

Named configurations are CodeDeploy's (CodeDeployDefault.ECSCanary10Percent5Minutes …);
custom ones are a mapping (`canary: {percent, wait}`, `linear: {percent, every}`) or, on the
command line, text (`canary:10:30s`). Pure constants: no import of config or deploy.
https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html
"""

from __future__ import annotations

import re
from dataclasses import dataclass

NAMED = re.compile(
    r"(?:CodeDeployDefault\.)?(?:ECS|Lambda)?"
    r"(?:(?P<all>AllAtOnce)"
    r"|Canary(?P<cp>\d+)Percent(?P<cm>\d+)Minutes?"
    r"|Linear(?P<lp>\d+)PercentEvery(?P<lm>\d+)Minutes?)"
)
CUSTOM = re.compile(r"(?P<kind>canary|linear):(?P<percent>\d+):(?P<interval>\S+)")
NAMED_HINT = "AllAtOnce, CanaryNPercentMMinutes or LinearNPercentEveryMMinutes"
HINT = (
    "AllAtOnce, CodeDeployDefault.ECSCanary10Percent5Minutes, ECSLinear10PercentEvery1Minutes, "
    "canary:PERCENT:WAIT or linear:PERCENT:EVERY (e.g. canary:10:30s)"
)


@dataclass(frozen=True, slots=True)
class Form:
    """A custom configuration's shape: the key of its interval and its highest percentage."""

    interval_key: str
    max_percent: int


FORMS = {"canary": Form("wait", 99), "linear": Form("every", 100)}  # a canary's second step is 100%


def plain(pattern: re.Pattern[str]) -> str:
    """The pattern without group names (JSON Schema's regular expressions have none)."""
    return re.sub(r"\(\?P<\w+>", "(", pattern.pattern)


def percent_error(kind: str, percent: int) -> str | None:
    """Why a canary or linear percentage is out of range, or None."""
    top = FORMS[kind].max_percent
    return None if 1 <= percent <= top else f"the percentage must be between 1 and {top}"


def named_error(text: str) -> str | None:
    """Why a named configuration cannot run (its percentage), or None; `text` matches NAMED."""
    named = NAMED.fullmatch(text)
    if named is None or named["all"]:
        return None
    kind, percent = ("canary", named["cp"]) if named["cp"] else ("linear", named["lp"])
    return percent_error(kind, int(percent))
