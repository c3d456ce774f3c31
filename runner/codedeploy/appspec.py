"""appspec.yml: the CodeDeploy ECS AppSpec (`version: 0.0`, Resources/TargetService, Hooks), read as is.

https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html
A hook's value names a hook of the service (CODEDEPLOY.md decision 3), not a Lambda: a Lambda
function's name or ARN maps to the local command of that function's name (hooks.py).
As lenient as the projects that deploy with it: `version` 0.0 as documented, `1` and `0`
(seen in real repositories) with a warning; `hooks:`/`resources:` in lower case (AWS's own
Lambda examples write them so); YAML or JSON (appspec.json). What has no local meaning
(PlatformVersion, NetworkConfiguration, CapacityProviderStrategy, a TaskDefinition ARN instead
of `<TASK_DEFINITION>`) is accepted with one warning line each.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node

from runner.codedeploy.ecs_files import load_document
from runner.core.config import Service
from runner.core.schema import Context, Int, Key, Kind, ListOf, Obj, Str, find_node, validate

# The ECS lifecycle, in order; only the hookable ones may appear under Hooks.
LIFECYCLE = (
    "BeforeInstall",
    "Install",
    "AfterInstall",
    "AllowTestTraffic",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AllowTraffic",
    "AfterAllowTraffic",
)
HOOKABLE = (
    "BeforeInstall",
    "AfterInstall",
    "AfterAllowTestTraffic",
    "BeforeAllowTraffic",
    "AfterAllowTraffic",
)
FILE_NAMES = ("appspec.yml", "appspec.yaml", "appspec.json")
TASK_DEFINITION = "<TASK_DEFINITION>"
VERSIONS = {"0.0": "", "0": "0", "1": "1", "1.0": "1.0"}  # what real projects deploy with → as written


class _Anything(Kind):
    """A value we accept for AWS compatibility but do not use locally (e.g. NetworkConfiguration)."""

    def __init__(self, why: str) -> None:
        self.why = why

    def read(self, node: Node, path: str, ctx: Context) -> Any:
        ctx.warn(node, path, f"accepted, no local meaning: {self.why}")
        return None

    def json_schema(self) -> dict[str, Any]:
        return {}


class _TaskDefinition(Str):
    """`<TASK_DEFINITION>`, filled by the pipeline; an ARN written by hand names nothing locally."""

    def read(self, node: Node, path: str, ctx: Context) -> str:
        value = super().read(node, path, ctx)
        if value != TASK_DEFINITION:
            why = f"{value[:60]!r} (the task definition deployed is the service's taskdef.json)"
            ctx.warn(node, path, f"accepted, no local meaning: {why}")
        return value


def _one_hook(data: dict[str, Any], node: MappingNode, path: str, ctx: Context) -> None:
    given = [name for name in HOOKABLE if data.get(name) is not None]
    if len(given) != 1:
        raise ctx.error(node, path, f"expected exactly one lifecycle event: one of {', '.join(HOOKABLE)}")


def _top(data: dict[str, Any], node: MappingNode, path: str, ctx: Context) -> None:
    """`version` as real projects write it; `Hooks`/`hooks`, `Resources`/`resources` (one of each)."""
    version = data["version"]
    if version is None:
        raise ctx.error(node, "version", "required key is missing")
    if version not in VERSIONS:
        raise ctx.error(find_node(ctx.doc, "version"), "version", f"expected 0.0, got {version!r}")
    if VERSIONS[version]:
        ctx.warn(find_node(ctx.doc, "version"), "version", f"AWS documents 0.0; {version} is read as 0.0")
    for name in ("Hooks", "Resources"):
        lower = name.lower()
        if data[name] and data[lower]:
            raise ctx.error(find_node(ctx.doc, lower), lower, f"both {name} and {lower}: keep one")
        data[name] = data[name] or data[lower] or ()


_PROPERTIES = Obj(
    (
        Key("TaskDefinition", _TaskDefinition(), default=TASK_DEFINITION),
        Key(
            "LoadBalancerInfo",
            Obj(
                (
                    Key("ContainerName", Str(allow_empty=False), required=True),
                    Key("ContainerPort", Int(minimum=1, maximum=65535), required=True),
                )
            ),
            required=True,
        ),
        Key("PlatformVersion", _Anything("Fargate platform versions are AWS's")),
        Key("NetworkConfiguration", _Anything("the environment's network is the runner's")),
        Key("CapacityProviderStrategy", _Anything("one local engine")),
    )
)

_TARGET = Obj(
    (
        Key("Type", Str(pattern=r"AWS::ECS::Service", pattern_hint="AWS::ECS::Service")),
        Key("Properties", _PROPERTIES, required=True),
    )
)
_RESOURCES = ListOf(Obj((Key("TargetService", _TARGET, required=True),)), max_items=1)
_HOOKS = ListOf(Obj(tuple(Key(name, Str(allow_empty=False)) for name in HOOKABLE), check=_one_hook))
_HOOKS_HELP = "lifecycle event → hook name or Lambda name/ARN (services.<svc>.hooks or <path>/hooks/<name>)"
SCHEMA = Obj(
    (
        Key("version", Str(), description="0.0 (1 and 0 are read as 0.0, with a warning)"),
        Key("Resources", _RESOURCES, default=()),
        Key("resources", _RESOURCES, default=()),
        Key("Hooks", _HOOKS, default=(), description=_HOOKS_HELP),
        Key("hooks", _HOOKS, default=(), description=_HOOKS_HELP),
    ),
    check=_top,
    description="CodeDeploy ECS AppSpec",
)


@dataclass(frozen=True, slots=True)
class AppSpec:
    path: Path
    hooks: tuple[tuple[str, str], ...]  # (lifecycle event, hook name), in file order
    container_name: str | None = None
    container_port: int | None = None
    task_definition: str | None = None
    warnings: tuple[str, ...] = ()

    def hooks_for(self, event: str) -> tuple[str, ...]:
        return tuple(name for ev, name in self.hooks if ev == event)


def load(path: Path, display: str | None = None) -> AppSpec:
    doc = load_document(path, display or str(path))
    data, warnings = validate(doc, SCHEMA)
    hooks = tuple((event, value) for entry in data["Hooks"] for event, value in entry.items() if value)
    properties = data["Resources"][0]["TargetService"]["Properties"] if data["Resources"] else {}
    target = properties.get("LoadBalancerInfo") or {}
    task = properties.get("TaskDefinition")
    name, port = target.get("ContainerName"), target.get("ContainerPort")
    return AppSpec(path, hooks, name, port, task, tuple(warnings))


def find(service: Service, source_dir: Path) -> Path | None:
    """The service's appspec: `appspec:` from pipeline.yml, else <path>/appspec.yml if present."""
    if service.appspec:
        return source_dir / service.appspec
    for name in FILE_NAMES:
        candidate = source_dir / service.path / name
        if candidate.is_file():
            return candidate
    return None


def load_for(service: Service, source_dir: Path) -> AppSpec | None:
    path = find(service, source_dir)
    if path is None:
        return None
    try:
        display = str(path.relative_to(source_dir))
    except ValueError:
        display = str(path)
    return load(path, display)
