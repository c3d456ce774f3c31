"""appspec.yml: the CodeDeploy ECS AppSpec (`version: 0.0`, Resources/TargetService, Hooks), read as is.

https://docs.aws.amazon.com/codedeploy/latest/userguide/reference-appspec-file-structure-hooks.html
A hook's value names a hook of the service (CODEDEPLOY.md decision 3), not a Lambda.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node

from runner.spec.config import Service
from runner.spec.schema import Context, Int, Key, Kind, ListOf, Obj, Str, find_node, validate
from runner.spec.yamlnodes import load_file

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
FILE_NAMES = ("appspec.yml", "appspec.yaml")


class _Anything(Kind):
    """A value we accept for AWS compatibility but do not use locally (e.g. NetworkConfiguration)."""

    def read(self, node: Node, path: str, ctx: Context) -> Any:
        return None

    def json_schema(self) -> dict[str, Any]:
        return {}


def _one_hook(data: dict[str, Any], node: MappingNode, path: str, ctx: Context) -> None:
    given = [name for name in HOOKABLE if data.get(name) is not None]
    if len(given) != 1:
        raise ctx.error(node, path, f"expected exactly one lifecycle event: one of {', '.join(HOOKABLE)}")


def _version(data: dict[str, Any], node: MappingNode, path: str, ctx: Context) -> None:
    if data["version"] != "0.0":
        raise ctx.error(find_node(ctx.doc, "version"), "version", f"expected 0.0, got {data['version']!r}")


_PROPERTIES = Obj(
    (
        Key("TaskDefinition", Str()),
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
        Key("PlatformVersion", Str()),
        Key("NetworkConfiguration", _Anything()),
        Key("CapacityProviderStrategy", _Anything()),
    )
)

SCHEMA = Obj(
    (
        Key("version", Str(), required=True, description="must be 0.0"),
        Key(
            "Resources",
            ListOf(
                Obj(
                    (
                        Key(
                            "TargetService",
                            Obj(
                                (
                                    Key(
                                        "Type",
                                        Str(pattern=r"AWS::ECS::Service", pattern_hint="AWS::ECS::Service"),
                                    ),
                                    Key("Properties", _PROPERTIES, required=True),
                                )
                            ),
                            required=True,
                        ),
                    )
                ),
                max_items=1,
            ),
            default=(),
        ),
        Key(
            "Hooks",
            ListOf(Obj(tuple(Key(name, Str(allow_empty=False)) for name in HOOKABLE), check=_one_hook)),
            default=(),
            description="lifecycle event → hook name (services.<svc>.hooks or <path>/hooks/<name>)",
        ),
    ),
    check=_version,
    description="CodeDeploy ECS AppSpec",
)


@dataclass(frozen=True, slots=True)
class AppSpec:
    path: Path
    hooks: tuple[tuple[str, str], ...]  # (lifecycle event, hook name), in file order
    container_name: str | None = None
    container_port: int | None = None

    def hooks_for(self, event: str) -> tuple[str, ...]:
        return tuple(name for ev, name in self.hooks if ev == event)


def load(path: Path, display: str | None = None) -> AppSpec:
    data, _ = validate(load_file(path, display or str(path)), SCHEMA)
    hooks = tuple((event, value) for entry in data["Hooks"] for event, value in entry.items() if value)
    target = (
        data["Resources"][0]["TargetService"]["Properties"]["LoadBalancerInfo"] if data["Resources"] else {}
    )
    return AppSpec(path, hooks, target.get("ContainerName"), target.get("ContainerPort"))


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
