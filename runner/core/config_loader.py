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
from runner.core.engines import LOCAL, Engine
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
    engines = (
        DEFAULT_ENGINE,
        *(engine_from_schema(name, value, path.parent) for name, value in data["engines"].items()),
    )
    environments = tuple(_environment(spec, engines) for spec in data["environments"])
    _check_unique(doc, environments)
    _check_platforms(doc, environments, engines, data["services"])
    _check_build_engines(doc, data["build_engines"], engines)
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
        engines=engines,
        build_engines=data["build_engines"],
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
        replicas=spec["replicas"],
    )


def _ecs(spec: dict[str, Any]) -> EcsFiles | None:
    value, images = spec.get("ecs"), dict(spec.get("images") or {})
    if not value and not images:
        return None
    given = value if isinstance(value, dict) else {}
    return EcsFiles(given.get("taskdef") or "taskdef.json", given.get("appspec"), images)


def _environment(spec: dict[str, Any], engines: tuple[Engine, ...]) -> Environment:
    swarm = spec["platform"] == "swarm"
    engine = spec.get("engine") or LOCAL
    host = spec.get("host") or (_engine_host(engines, engine) if swarm else "127.0.0.1")
    return Environment(
        name=spec["name"],
        port=spec["port"],
        test_port=spec["test_port"],
        host=host,
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
        platform=spec["platform"],
        engine=engine,
    )


def _engine_host(engines: tuple[Engine, ...], name: str) -> str:
    """Where a swarm environment's router is reached: the manager's host in its engine URL
    (127.0.0.1 for a local socket); Swarm publishes on every interface of the manager."""
    url = next((e.url for e in engines if e.name == name), None) or ""
    if url.startswith(("tcp://", "ssh://")):
        host = url.split("://", 1)[1].rsplit("@", 1)[-1].rstrip("/")
        host = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return host.strip("[]") or "127.0.0.1"
    return "127.0.0.1"


def _check_platforms(
    doc: Document,
    environments: tuple[Environment, ...],
    engines: tuple[Engine, ...],
    services: dict[str, Any],
) -> None:
    """`engine` names an engines: entry and belongs to a swarm environment; swarm runs plain
    services only (an ECS task definition's containers share one network namespace: compose's)."""
    names = [e.name for e in engines]
    for index, (env, spec) in enumerate(zip(environments, find_node(doc, "environments").value, strict=True)):
        given = any(k.value == "engine" for k, _ in mapping_items(spec))
        if given and env.platform != "swarm":
            where = position(doc.name, _environment_node(doc, index, "engine"))
            raise ConfigError(where, f"environments[{index}].engine", "engine: applies to platform: swarm")
        if env.platform == "swarm" and env.engine not in names:
            where = position(doc.name, _environment_node(doc, index, "engine" if given else "platform"))
            known = ", ".join(names)
            raise ConfigError(
                where,
                f"environments[{index}].engine",
                f"no engine {env.engine!r} under engines: (known: {known})",
            )
        if env.platform == "swarm":
            ecs = [name for name, s in services.items() if s.get("ecs") or s.get("images")]
            if ecs:
                where = position(doc.name, _environment_node(doc, index, "platform"))
                raise ConfigError(
                    where,
                    f"environments[{index}].platform",
                    f"service {ecs[0]} deploys an ECS task definition, which runs on compose only",
                )


def _check_build_engines(doc: Document, names: tuple[str, ...], engines: tuple[Engine, ...]) -> None:
    """Each build_engines: entry names an engines: entry (or local), once."""
    known = [e.name for e in engines]
    items = find_node(doc, "build_engines").value if names else []
    for index, (name, node) in enumerate(zip(names, items, strict=True)):
        if name not in known:
            message = f"no engine {name!r} under engines: (known: {', '.join(known)})"
            raise ConfigError(position(doc.name, node), f"build_engines[{index}]", message)
        if name in names[:index]:
            raise ConfigError(position(doc.name, node), f"build_engines[{index}]", f"{name} is listed twice")


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
