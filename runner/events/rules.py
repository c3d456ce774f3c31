"""Notification rules: pipeline.yml `notifications:` (a pattern and its targets), and the defaults.

    notifications:
      - name: failed-builds
        pattern: {source: [aws.codebuild], detail-type: [CodeBuild Build State Change],
                  detail: {build-status: [FAILED]}}
        targets:
          - command: "python3 notify.py"       # the event JSON on stdin, RUNNER_EVENT_* variables
          - webhook: http://127.0.0.1:9000/hook
            format: slack                       # {"text": …} instead of the event
          - desktop: true                       # notify-send, where it exists

The default rules (a desktop notification for each failed build and failed deployment)
are on unless pipeline.yml says `default_notifications: false` (or, for a project without
one, RUNNER_DEFAULT_NOTIFICATIONS=off).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner.core.schema import Bool, Context, Enum, Key, Kind, ListOf, Obj, Str
from runner.core.yamlnodes import is_null, mapping_items
from runner.events import patterns, shapes

DEFAULTS_ENV = "RUNNER_DEFAULT_NOTIFICATIONS"
TARGET_KINDS = ("command", "webhook", "desktop")


@dataclass(frozen=True, slots=True)
class Target:
    kind: str  # command | webhook | desktop
    value: str = ""  # the command line, or the URL
    format: str = "json"  # a webhook's body: json (the event) or slack ({"text": …})

    def as_json(self) -> dict[str, str]:
        return {"kind": self.kind, "value": self.value, "format": self.format}

    def key(self) -> str:
        """What identifies this target in the deliveries of one event and rule."""
        return json.dumps(self.as_json(), sort_keys=True)

    def describe(self) -> str:
        if self.kind == "desktop":
            return "desktop"
        suffix = " (slack)" if self.kind == "webhook" and self.format == "slack" else ""
        return f"{self.kind} {self.value}{suffix}"

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Target:
        return cls(str(data["kind"]), str(data.get("value", "")), str(data.get("format", "json")))


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    pattern: Mapping[str, Any]
    targets: tuple[Target, ...]


_FAILED_BUILD = {
    "source": ["aws.codebuild"],
    "detail-type": [shapes.BUILD_STATE],
    "detail": {"build-status": ["FAILED", "FAULT", "TIMED_OUT"]},
}
_FAILED_DEPLOYMENT = {
    "source": ["aws.codedeploy"],
    "detail-type": [shapes.DEPLOYMENT_STATE],
    "detail": {"state": ["FAILURE"]},
}
DEFAULT_RULES = (
    Rule("default-failed-builds", _FAILED_BUILD, (Target("desktop"),)),
    Rule("default-failed-deployments", _FAILED_DEPLOYMENT, (Target("desktop"),)),
)


def effective(rules: tuple[Rule, ...], defaults: bool | None) -> tuple[Rule, ...]:
    """The project's rules, after the default ones unless they are turned off."""
    if defaults is None:  # no pipeline.yml: the environment decides
        defaults = os.environ.get(DEFAULTS_ENV, "on").strip().lower() not in ("off", "0", "false", "no")
    return (DEFAULT_RULES if defaults else ()) + rules


# ---------------------------------------------------------------- pipeline.yml schema


class Pattern(Kind):
    """An EventBridge event pattern written in YAML (or JSON): checked with positions."""

    def read(self, node: Node, path: str, ctx: Context) -> dict[str, Any]:
        value = _plain(node)
        for where, message in patterns.problems(value):
            shown = path + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in where)
            raise ctx.error(_node_at(node, where), shown, message)
        return dict(value)

    def json_schema(self) -> dict[str, Any]:
        return {"type": "object", "description": "an EventBridge event pattern"}


def _plain(node: Node) -> Any:
    """A node as JSON-like data; only `true`/`false` are booleans (as in JSON), numbers stay numbers."""
    if isinstance(node, MappingNode):
        return {str(k.value): _plain(v) for k, v in mapping_items(node)}
    if isinstance(node, SequenceNode):
        return [_plain(child) for child in node.value]
    assert isinstance(node, ScalarNode)
    if is_null(node):
        return None
    text = str(node.value)
    if node.style is None and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if node.style is None and node.tag.endswith((":int", ":float")):
        try:
            return int(text) if node.tag.endswith(":int") else float(text)
        except ValueError:
            return text
    return text


def _node_at(node: Node, where: tuple[str | int, ...]) -> Node:
    for part in where:
        if isinstance(node, MappingNode) and isinstance(part, str):
            pair = next(((k, v) for k, v in mapping_items(node) if k.value == part), None)
            if pair is None:
                break
            node = pair[1]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
    return node


def _one_target(data: dict[str, Any], node: Any, path: str, ctx: Context) -> None:
    chosen = [kind for kind in TARGET_KINDS if data.get(kind) not in (None, False)]
    if len(chosen) != 1:
        raise ctx.error(node, path, "expected exactly one of command, webhook, desktop: true")
    if data.get("format") not in (None, "json") and chosen != ["webhook"]:
        raise ctx.error(node, f"{path}.format", "format applies to a webhook target only")


_TARGET = Obj(
    (
        Key("command", Str(allow_empty=False), description="run with the event JSON on stdin"),
        Key(
            "webhook",
            Str(pattern=r"https?://[^\s/]+(/\S*)?", pattern_hint="an http:// or https:// URL"),
            description="POST the event JSON to this URL",
        ),
        Key("format", Enum(("json", "slack")), description="webhook body: the event, or Slack's {text}"),
        Key("desktop", Bool(), description="a desktop notification (notify-send)"),
    ),
    check=_one_target,
)

RULE = Obj(
    (
        Key(
            "name",
            Str(pattern=r"[A-Za-z0-9._-]{1,64}", pattern_hint="a rule name (letters, digits, . _ -)"),
            required=True,
        ),
        Key("pattern", Pattern(), required=True, description="an EventBridge event pattern"),
        Key("targets", ListOf(_TARGET, min_items=1), required=True),
    )
)


@dataclass(frozen=True)
class RuleList(ListOf):
    """The `notifications:` list: rules, each name used once (deliveries are kept per rule)."""

    item: Kind = RULE

    def read(self, node: Node, path: str, ctx: Context) -> tuple[Any, ...]:
        items = super().read(node, path, ctx)
        seen: set[str] = set()
        for index, item in enumerate(items):
            if item["name"] in seen:
                where = f"{path}[{index}].name"
                raise ctx.error(
                    _node_at(node, (index, "name")), where, f"rule {item['name']!r} is defined twice"
                )
            seen.add(item["name"])
        return items


def rules_from(items: tuple[dict[str, Any], ...]) -> tuple[Rule, ...]:
    """Validated `notifications:` entries as rules."""
    return tuple(
        Rule(item["name"], item["pattern"], tuple(_target(t) for t in item["targets"])) for item in items
    )


def _target(data: dict[str, Any]) -> Target:
    if data.get("command"):
        return Target("command", data["command"])
    if data.get("webhook"):
        return Target("webhook", data["webhook"], data.get("format") or "json")
    return Target("desktop")
