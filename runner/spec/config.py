"""pipeline.yml: the project's services, environments and pipeline (our only own format).

Kept small on purpose; `runner schema` prints its JSON Schema, generated from the
declarations below, and every error names file:line:column like buildspec errors.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import Node

from runner.errors import ConfigError, UsageError
from runner.events.rules import Rule, RuleList, rules_from
from runner.localaws.mode import DEFAULT_ACCOUNT, MODES, from_env
from runner.paths import PIPELINE_FILE
from runner.spec import traffic as traffic_grammar
from runner.spec.schema import (
    Bool,
    Context,
    Enum,
    Int,
    Key,
    ListOf,
    MapOf,
    Obj,
    OneOf,
    Str,
    find_node,
    validate,
)
from runner.spec.yamlnodes import Document, load_file, load_text, mapping_items, position, shown

NAME = r"[a-z][a-z0-9-]{0,30}"
NAME_HINT = "a lowercase name (letters, digits, -)"
DURATION = r"\d+(\.\d+)?(ms|s|m|h|d)?"
DURATION_HINT = "a duration such as 500ms, 30s, 5m, 2h or 7d"
MAX_DURATION = "365d"  # longer ones overflow sleeps and timers (int64 nanoseconds), and mean "never"
EXECUTION_MODES = ("SUPERSEDED", "QUEUED", "PARALLEL")
# base_images.STANDARD: CodeBuild too builds in its standard image unless told otherwise.
DEFAULT_BUILD_IMAGE = "runner/standard:bookworm"
DEFAULT_ROUTER_IMAGE = "runner/router:bookworm"


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


@dataclass(frozen=True, slots=True)
class ImageRecipe:
    """How a service's image is built after its build succeeded."""

    dockerfile: str = "Dockerfile"
    context: str = "."  # relative to the service path, or to the primary artifact with from_artifacts
    from_artifacts: bool = False
    build_args: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ServiceHook:
    """An appspec hook's command (decision 9): run in a build-image container, or on the host."""

    command: str
    on: str = "container"  # container | host


@dataclass(frozen=True, slots=True)
class EcsFiles:
    """A service described by an ECS task definition and appspec (CodeDeployToECS's inputs):
    paths relative to the service path, looked up in the build's artifacts first."""

    taskdef: str = "taskdef.json"
    appspec: str | None = None  # None: appspec.yaml, appspec.yml or appspec.json
    images: Mapping[str, str] = field(default_factory=dict)  # placeholder (no <>) → service


@dataclass(frozen=True, slots=True)
class Service:
    name: str
    path: str
    buildspec: str
    port: int
    health: str
    route: str  # a path prefix such as /catalog, or host:NAME
    image: ImageRecipe = field(default_factory=ImageRecipe)
    variables: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    privileged: bool = False
    inputs: tuple[str, ...] = ()
    appspec: str | None = None
    hooks: Mapping[str, ServiceHook] = field(default_factory=dict)
    health_timeout_s: float = 60.0
    ecs: EcsFiles | None = None

    @property
    def route_host(self) -> str | None:
        return self.route[5:] if self.route.startswith("host:") else None


@dataclass(frozen=True, slots=True)
class Alarm:
    name: str
    metric: str  # error_rate | p95_ms | health
    threshold: float
    window_s: float
    min_requests: int = 10


@dataclass(frozen=True, slots=True)
class Environment:
    name: str
    port: int
    test_port: int
    strategy: str | Mapping[str, Any]
    approval: str = "auto"  # auto | manual (before this environment)
    approval_timeout_s: float = 7 * 86400
    alarms: tuple[Alarm, ...] = ()
    compose_file: str | None = None
    termination_wait_s: float = 300.0
    bake_s: float = 0.0
    host: str = "127.0.0.1"
    retry_on_canary_failure: bool = True


@dataclass(frozen=True, slots=True)
class TestStage:
    buildspec: str
    image: str | None = None


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    path: Path  # the pipeline.yml file
    app: str
    services: tuple[Service, ...]
    environments: tuple[Environment, ...]
    build_image: str = DEFAULT_BUILD_IMAGE
    router_image: str = DEFAULT_ROUTER_IMAGE
    region: str = "us-east-1"
    time_scale: float = 60.0
    execution_mode: str = "SUPERSEDED"
    build_parallelism: int = 2
    hook_timeout_s: float = 300.0
    registry: str | None = None
    branch: str | None = None
    test: TestStage | None = None
    secrets: str | None = None
    aws: str = "none"  # local: builds talk to a local AWS (runner.localaws)
    account: str = DEFAULT_ACCOUNT
    notifications: tuple[Rule, ...] = ()  # runner/events/rules.py
    default_notifications: bool = True
    strict_hooks: bool = False  # an appspec hook that maps to no command fails the deployment

    @property
    def root(self) -> Path:
        return self.path.parent

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        known = ", ".join(s.name for s in self.services)
        raise UsageError(f"no service {name!r} in {self.path}; known: {known}")

    def environment(self, name: str) -> Environment:
        for env in self.environments:
            if env.name == name:
                return env
        known = ", ".join(e.name for e in self.environments)
        raise UsageError(f"no environment {name!r} in {self.path}; known: {known}")


# ---------------------------------------------------------------- schema

_VARS = MapOf(Str(), key_pattern=r"[A-Za-z_][A-Za-z0-9_]*", key_hint="a variable name")
_PORT = Int(minimum=1, maximum=65535)

_SERVICE = Obj(
    (
        Key("path", Str(allow_empty=False), required=True, description="directory of the service"),
        Key("buildspec", Str(), description="buildspec file (default: <path>/buildspec.yml)"),
        Key("variables", _VARS, default={}, description="build variables (project level)"),
        Key(
            "image",
            Obj(
                (
                    Key("dockerfile", Str(), default="Dockerfile"),
                    Key("context", Str(), default="."),
                    Key(
                        "from_artifacts",
                        Bool(),
                        default=False,
                        description="use the build's primary artifact as the build context",
                    ),
                    Key("build_args", _VARS, default={}),
                )
            ),
            description="how the service image is built",
        ),
        Key("port", _PORT, default=8000, description="port the service listens on"),
        Key(
            "health",
            Str(pattern=r"/.*", pattern_hint="a path such as /health"),
            description="GET path a new slot must answer with 200 (default /health; / for an ECS "
            "service, the target group's default)",
        ),
        Key(
            "route",
            Str(
                pattern=r"/[A-Za-z0-9._~/-]*|host:[A-Za-z0-9.-]+",
                pattern_hint="a path prefix such as /api, or host:NAME",
            ),
            description="how the router reaches it (default: /<service>)",
        ),
        Key("env", _VARS, default={}, description="environment of the running service"),
        Key("privileged", Bool(), default=False, description="privileged build (Docker socket)"),
        Key("inputs", ListOf(Str()), default=(), description="extra paths that trigger a rebuild"),
        Key("appspec", Str(), description="CodeDeploy appspec (default: <path>/appspec.yml if any)"),
        Key(
            "ecs",
            OneOf(
                Bool(),
                Obj((Key("taskdef", Str(allow_empty=False)), Key("appspec", Str(allow_empty=False)))),
            ),
            description="deploy the ECS task definition and appspec (CodeDeployToECS): "
            "default taskdef.json and appspec.yaml/.yml/.json in the build's artifacts, else at <path>",
        ),
        Key(
            "images",
            MapOf(
                Str(pattern=NAME, pattern_hint=NAME_HINT),
                key_pattern=r"[A-Za-z0-9_.-]+",
                key_hint="a placeholder name without <>",
            ),
            default={},
            description="task definition image placeholder (IMAGE1_NAME, without <>) → the service whose "
            "image replaces it (default with one placeholder: this service)",
        ),
        Key(
            "hooks",
            MapOf(
                OneOf(
                    Str(allow_empty=False),
                    Obj(
                        (
                            Key("command", Str(allow_empty=False), required=True),
                            Key("on", Enum(("container", "host")), default="container"),
                        )
                    ),
                ),
                key_pattern=r"[A-Za-z0-9_.:-]+",
                key_hint="a hook name or a Lambda function's name or ARN (letters, digits, _ . - :)",
            ),
            default={},
            description="appspec hook name → shell command (run in a build-image container by default)",
        ),
        Key(
            "health_timeout",
            Duration(),
            default="60s",
            description="how long a new slot may take to answer its health path with 200",
        ),
    )
)

_ALARM = Obj(
    (
        Key("name", Str(allow_empty=False), required=True),
        Key(
            "metric",
            Enum(("error_rate", "p95_ms", "health")),
            required=True,
            description="error_rate: share of 5xx; p95_ms: latency; health: failing health checks",
        ),
        Key("threshold", Str(pattern=r"\d+(\.\d+)?", pattern_hint="a number"), default="0.05"),
        Key("window", Duration(), default="10s"),
        Key("min_requests", Int(minimum=0), default=10),
    )
)


def _one_strategy(data: dict[str, Any], node: Any, path: str, ctx: Any) -> None:
    if sum(data.get(kind) is not None for kind in traffic_grammar.FORMS) != 1:
        raise ctx.error(node, path, f"expected exactly one of {', '.join(traffic_grammar.FORMS)}")


def _custom(form: traffic_grammar.Form) -> Obj:
    percent = Key("percent", Int(minimum=1, maximum=form.max_percent), required=True)
    return Obj((percent, Key(form.interval_key, Duration(), required=True)))


@dataclass(frozen=True)
class _Named(Str):
    """A named deployment configuration whose percentage a deployment can run."""

    pattern: str | None = traffic_grammar.plain(traffic_grammar.NAMED)
    pattern_hint: str = traffic_grammar.NAMED_HINT

    def read(self, node: Node, path: str, ctx: Context) -> str:
        value = super().read(node, path, ctx)
        error = traffic_grammar.named_error(value)
        if error:
            raise ctx.error(node, path, f"{shown(value)}: {error}")
        return value


_STRATEGY = OneOf(  # the grammar is runner/spec/traffic.py's
    _Named(),
    Obj(tuple(Key(kind, _custom(form)) for kind, form in traffic_grammar.FORMS.items()), check=_one_strategy),
)


_ENVIRONMENT = Obj(
    (
        Key("name", Str(pattern=NAME, pattern_hint=NAME_HINT), required=True),
        Key("port", _PORT, required=True, description="live port (production listener)"),
        Key("test_port", _PORT, required=True, description="test port (test listener)"),
        Key("host", Str(), default="127.0.0.1", description="address the router ports bind to"),
        Key("strategy", _STRATEGY, default="AllAtOnce", description="traffic shifting configuration"),
        Key(
            "approval",
            Enum(("auto", "manual")),
            default="auto",
            description="manual: wait for `runner approve` before deploying here",
        ),
        Key("approval_timeout", Duration(), default="7d"),
        Key("alarms", ListOf(_ALARM), default=()),
        Key("compose", Str(), description="extra compose file for backing services"),
        Key(
            "termination_wait",
            Duration(),
            default="5m",
            description="how long the old slot stays warm for an instant rollback",
        ),
        Key(
            "bake",
            Duration(),
            default="0s",
            description="how long alarms are watched after the traffic shift",
        ),
        Key(
            "retry_on_canary_failure",
            Bool(),
            default=True,
            description="while the replacement takes live traffic, a GET or HEAD it fails (5xx) "
            "is retried once on the original slot; the alarm still counts the failure",
        ),
    )
)

SCHEMA = Obj(
    (
        Key(
            "app",
            Str(pattern=NAME, pattern_hint=NAME_HINT),
            required=True,
            description="application name; compose projects are <app>-<environment>",
        ),
        Key("build_image", Str(), default=DEFAULT_BUILD_IMAGE),
        Key("router_image", Str(), default=DEFAULT_ROUTER_IMAGE),
        Key("region", Str(), default="us-east-1"),
        Key(
            "time_scale",
            Str(pattern=r"\d+(\.\d+)?", pattern_hint="a number"),
            default="60",
            description="deployment durations (strategies, bake, termination_wait) are AWS time "
            "divided by this (60: 1 min → 1 s); timeouts and alarm windows are real time",
        ),
        Key("execution_mode", Enum(EXECUTION_MODES), default="SUPERSEDED"),
        Key("build_parallelism", Int(minimum=1, maximum=16), default=2),
        Key("hook_timeout", Duration(), default="5m"),
        Key(
            "strict_hooks",
            Bool(),
            default=False,
            description="an appspec hook with no command (pipeline.yml hooks or <path>/hooks/<name>) "
            "fails the deployment instead of being skipped with a warning",
        ),
        Key("registry", Str(), description="host:port of a registry to push immutable tags to"),
        Key("branch", Str(), description="branch whose commits trigger the pipeline"),
        Key("secrets", Str(), description="secrets file for parameter-store / secrets-manager"),
        Key("aws", Enum(MODES), default="none", description="local: builds use a local AWS (moto)"),
        Key("account", Str(pattern=r"\d{12}", pattern_hint="12 digits"), default=DEFAULT_ACCOUNT),
        Key("services", MapOf(_SERVICE, key_pattern=NAME, key_hint=NAME_HINT), required=True),
        Key("environments", ListOf(_ENVIRONMENT, min_items=1), required=True),
        Key("test", Obj((Key("buildspec", Str(allow_empty=False), required=True), Key("image", Str())))),
        Key("notifications", RuleList(), default=(), description="rules: an event pattern and its targets"),
        Key("default_notifications", Bool(), default=True, description="desktop notification of failures"),
    ),
    description="runner pipeline.yml",
)


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
        aws=from_env(data["aws"]),
        account=data["account"],
        notifications=rules_from(data["notifications"]),
        default_notifications=data["default_notifications"],
        strict_hooks=data["strict_hooks"],
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


def json_schema() -> dict[str, Any]:
    schema = SCHEMA.json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "runner pipeline.yml",
        **schema,
    }
