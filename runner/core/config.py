"""pipeline.yml: the project's services, environments and pipeline (our only own format).

The model (frozen dataclasses); config_schema declares the file (`runner schema` prints its
JSON Schema) and config_loader builds the model from it, every error naming file:line:column
like buildspec errors. Kept small on purpose.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.core.engines import DEFAULT as DEFAULT_ENGINE
from runner.core.engines import Engine
from runner.errors import UsageError
from runner.events.rules import Rule
from runner.localaws.mode import DEFAULT_ACCOUNT

# base_images.STANDARD: CodeBuild too builds in its standard image unless told otherwise.
DEFAULT_BUILD_IMAGE = "runner/standard:bookworm"
DEFAULT_ROUTER_IMAGE = "runner/router:bookworm"


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
    replicas: int = 1  # tasks of each slot on a swarm environment (compose runs one container)

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
    platform: str = "compose"  # compose | swarm
    engine: str = "local"  # swarm: the engines: entry naming a manager of the swarm


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
    strict_hooks: bool = False  # an appspec hook that maps to no command fails the deployment
    aws: str = "none"  # local: builds talk to a local AWS (runner.localaws)
    account: str = DEFAULT_ACCOUNT
    notifications: tuple[Rule, ...] = ()  # runner/events/rules.py
    default_notifications: bool = True
    engines: tuple[Engine, ...] = (DEFAULT_ENGINE,)  # runner/core/engines.py; `local` first
    build_engines: tuple[str, ...] = ()  # names from engines:; () builds on local only

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
