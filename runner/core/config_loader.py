"""pipeline.yml loading: find the file, validate it against config_schema, build the model (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yaml.nodes import Node

from runner.core.config import (
    Alarm,
    EcsFiles,
    Environment,
    ImageRecipe,
    PipelineConfig,
    Service,
    ServiceHook,
    TestStage,
)
from runner.core.config_schema import SCHEMA
from runner.core.durations import seconds
from runner.core.engines import DEFAULT as DEFAULT_ENGINE
from runner.core.engines import from_schema as engine_from_schema
from runner.core.schema import find_node, validate
from runner.core.yamlnodes import Document, load_file, load_text, mapping_items, position
from runner.errors import ConfigError
from runner.events.rules import rules_from
from runner.localaws.mode import from_env
from runner.paths import PIPELINE_FILE


def find(start: Path | None = None) -> Path | None:
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / PIPELINE_FILE).is_file():
            return candidate / PIPELINE_FILE
    return None


def load(path: Path) -> PipelineConfig:
    return from_document(load_file(path, _display(path)), path.resolve())


def loads(text: str, path: Path) -> PipelineConfig:
    return from_document(load_text(text, _display(path)), path)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def from_document(doc: Document, path: Path) -> PipelineConfig:
    data, _ = validate(doc, SCHEMA)
    services = tuple(_service(name, spec) for name, spec in data["services"].items())
    environments = tuple(_environment(spec) for spec in data["environments"])
    _check_unique(doc, environments)
    test = data["test"]
    return PipelineConfig(
        path=path,
        app=data["app"],
        services=services,
        environments=environments,
        build_image=data["build_image"],
        router_image=data["router_image"],
        region=data["region"],
        time_scale=float(data["time_scale"]),
        execution_mode=data["execution_mode"],
        build_parallelism=data["build_parallelism"],
        hook_timeout_s=seconds(data["hook_timeout"]),
        registry=data["registry"],
        branch=data["branch"],
        test=TestStage(test["buildspec"], test.get("image")) if test else None,
        secrets=data["secrets"],
        strict_hooks=data["strict_hooks"],
        aws=from_env(data["aws"]),
        account=data["account"],
        notifications=rules_from(data["notifications"]),
        default_notifications=data["default_notifications"],
        engines=(
            DEFAULT_ENGINE,
            *(engine_from_schema(name, value, path.parent) for name, value in data["engines"].items()),
        ),
    )


def _service(name: str, spec: dict[str, Any]) -> Service:
    path = spec["path"].rstrip("/")
    image = spec.get("image") or {}
    return Service(
        name=name,
        path=path,
        buildspec=spec.get("buildspec") or f"{path}/buildspec.yml",
        port=spec["port"],
        health=spec["health"] or ("/" if _ecs(spec) else "/health"),
        route=spec.get("route") or f"/{name}",
        image=ImageRecipe(
            dockerfile=image.get("dockerfile") or "Dockerfile",
            context=image.get("context") or ".",
            from_artifacts=bool(image.get("from_artifacts")),
            build_args=dict(image.get("build_args") or {}),
        ),
        variables=dict(spec["variables"]),
        env=dict(spec["env"]),
        privileged=spec["privileged"],
        inputs=tuple(spec["inputs"]),
        appspec=spec.get("appspec"),
        hooks={
            hook: ServiceHook(value) if isinstance(value, str) else ServiceHook(value["command"], value["on"])
            for hook, value in spec["hooks"].items()
        },
        health_timeout_s=seconds(spec["health_timeout"]),
        ecs=_ecs(spec),
    )


def _ecs(spec: dict[str, Any]) -> EcsFiles | None:
    value, images = spec.get("ecs"), dict(spec.get("images") or {})
    if not value and not images:
        return None
    given = value if isinstance(value, dict) else {}
    return EcsFiles(given.get("taskdef") or "taskdef.json", given.get("appspec"), images)


def _environment(spec: dict[str, Any]) -> Environment:
    return Environment(
        name=spec["name"],
        port=spec["port"],
        test_port=spec["test_port"],
        host=spec["host"],
        strategy=spec["strategy"],
        approval=spec["approval"],
        approval_timeout_s=seconds(spec["approval_timeout"]),
        alarms=tuple(
            Alarm(a["name"], a["metric"], float(a["threshold"]), seconds(a["window"]), a["min_requests"])
            for a in spec["alarms"]
        ),
        compose_file=spec.get("compose"),
        termination_wait_s=seconds(spec["termination_wait"]),
        bake_s=seconds(spec["bake"]),
        retry_on_canary_failure=spec["retry_on_canary_failure"],
    )


def _check_unique(doc: Document, environments: tuple[Environment, ...]) -> None:
    """Environment names, and every port across environments, are used once."""
    owners: dict[tuple[str, object], str] = {}
    for index, env in enumerate(environments):
        for what, key in (
            ("name", ("name", env.name)),
            ("port", ("port", env.port)),
            ("test_port", ("port", env.test_port)),
        ):
            if key in owners:
                raise ConfigError(
                    position(doc.name, _environment_node(doc, index, what)),
                    f"environments[{index}].{what}",
                    f"{key[1]} is already used by environment {owners[key]}",
                )
            owners[key] = env.name


def _environment_node(doc: Document, index: int, key: str) -> Node:
    """The value of `key` in the index-th environment (the schema already checked the shape)."""
    item = find_node(doc, "environments").value[index]
    return next((v for k, v in mapping_items(item) if k.value == key), item)
