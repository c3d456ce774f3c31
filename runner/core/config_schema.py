"""pipeline.yml's schema: its keys, their types, defaults and descriptions (pure).

`runner schema` prints it as JSON Schema; config_loader validates with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yaml.nodes import Node

from runner.core import traffic as traffic_grammar
from runner.core.config import DEFAULT_BUILD_IMAGE, DEFAULT_ROUTER_IMAGE
from runner.core.durations import Duration
from runner.core.engines import ENGINES
from runner.core.schema import Bool, Context, Enum, Int, Key, ListOf, MapOf, Obj, OneOf, Str
from runner.core.yamlnodes import shown
from runner.events.rules import RuleList
from runner.localaws.mode import DEFAULT_ACCOUNT, MODES

NAME = r"[a-z][a-z0-9-]{0,30}"
NAME_HINT = "a lowercase name (letters, digits, -)"
EXECUTION_MODES = ("SUPERSEDED", "QUEUED", "PARALLEL")

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
        Key(
            "replicas",
            Int(minimum=1, maximum=100),
            default=1,
            description="tasks of each slot on a swarm environment, spread over its nodes "
            "(a compose environment runs one container)",
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


_STRATEGY = OneOf(  # the grammar is runner/core/traffic.py's
    _Named(),
    Obj(tuple(Key(kind, _custom(form)) for kind, form in traffic_grammar.FORMS.items()), check=_one_strategy),
)


_ENVIRONMENT = Obj(
    (
        Key("name", Str(pattern=NAME, pattern_hint=NAME_HINT), required=True),
        Key("port", _PORT, required=True, description="live port (production listener)"),
        Key("test_port", _PORT, required=True, description="test port (test listener)"),
        Key(
            "host",
            Str(),
            description="address the router ports bind to (default 127.0.0.1); on swarm, the address "
            "the manager is reached at (default: the engine URL's host): Swarm publishes on all interfaces",
        ),
        Key(
            "platform",
            Enum(("compose", "swarm")),
            default="compose",
            description="compose: a compose project on the local engine; swarm: Swarm services on "
            "the swarm whose manager `engine` names",
        ),
        Key(
            "engine",
            Str(pattern=r"[a-z][a-z0-9-]{0,30}", pattern_hint="a name under engines:"),
            description="swarm: the engines: entry of a swarm manager (default local)",
        ),
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
        Key(
            "build_engines",
            ListOf(
                Str(pattern=r"[a-z][a-z0-9-]{0,30}", pattern_hint="a name under engines: or local"),
                min_items=1,
            ),
            default=(),
            description="the Build stage runs each service build on the least-loaded reachable one "
            "of these engines (default: local only)",
        ),
        Key(
            "engines",
            ENGINES,
            default={},
            description="name → Docker endpoint (unix://, tcp:// with optional TLS, ssh://); "
            "`local` is always the default engine (DOCKER_HOST, else the default socket)",
        ),
    ),
    description="runner pipeline.yml",
)


def json_schema() -> dict[str, Any]:
    schema = SCHEMA.json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "runner pipeline.yml",
        **schema,
    }
