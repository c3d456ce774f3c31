"""An ECS task definition (taskdef.json, or YAML with the same shape): the model and its loader.

Pure: no engine, no secrets. Field names and defaults are ECS's
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html):
`essential` defaults to true, `networkMode` to bridge, and a healthCheck to interval 30 s,
timeout 5 s, retries 3 (Docker's own defaults differ, so they are always written out).
What has no local meaning (roles, placement, awslogs, S3 environment files, the fields of
`describe-task-definition` output) is accepted with one warning line each, never an error.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner.codedeploy.ecs_files import load_document
from runner.core.schema import Bool, Context, Enum, Int, Key, Kind, ListOf, MapOf, Obj, Str
from runner.core.yamlnodes import Document, mapping_items, position
from runner.errors import ConfigError, Position

NETWORK_MODES = ("bridge", "awsvpc", "host", "none")
CONDITIONS = ("START", "COMPLETE", "SUCCESS", "HEALTHY")
HEALTH_DEFAULTS = {"interval": 30, "timeout": 5, "retries": 3}
FILE_NAMES = ("taskdef.json", "taskdef.yaml", "taskdef.yml")


@dataclass(frozen=True, slots=True)
class HealthCheck:
    command: tuple[str, ...]  # ("CMD-SHELL", "curl -f …") or ("CMD", "prog", "arg")
    interval_s: int = 30
    timeout_s: int = 5
    retries: int = 3
    start_period_s: int | None = None


@dataclass(frozen=True, slots=True)
class Secret:
    name: str  # the variable
    value_from: str  # SSM name or ARN, Secrets Manager ARN (`:json-key:stage:id`)
    where: Position


@dataclass(frozen=True, slots=True)
class Container:
    name: str
    image: str
    image_at: Position
    essential: bool = True
    command: tuple[str, ...] | None = None
    entry_point: tuple[str, ...] | None = None
    environment: Mapping[str, str] = field(default_factory=dict)
    secrets: tuple[Secret, ...] = ()
    working_directory: str | None = None
    user: str | None = None
    ulimits: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # name → (soft, hard)
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    init: bool | None = None
    shm_mib: int | None = None
    tmpfs: tuple[str, ...] = ()  # compose's "path:size=NNm,opts"
    read_only: bool = False
    labels: Mapping[str, str] = field(default_factory=dict)
    stop_timeout_s: int | None = None
    memory_mib: int | None = None
    memory_reservation_mib: int | None = None
    cpu: int | None = None
    depends_on: tuple[tuple[str, str], ...] = ()  # (container, condition)
    health: HealthCheck | None = None
    ports: tuple[int, ...] = ()  # portMappings' containerPort
    links: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class TaskDef:
    file: str
    family: str
    network_mode: str
    containers: tuple[Container, ...]
    cpu: int | None = None  # task-level units (1024 = one vCPU)
    memory_mib: int | None = None
    warnings: tuple[str, ...] = ()

    def container(self, name: str) -> Container | None:
        return next((c for c in self.containers if c.name == name), None)


class _Ignored(Kind):
    """Accepted for AWS compatibility; one warning saying why it has no local meaning."""

    def __init__(self, why: str) -> None:
        self.why = why

    def read(self, node: Node, path: str, ctx: Context) -> Any:
        ctx.warn(node, path, f"accepted, no local meaning: {self.why}")
        return None

    def json_schema(self) -> dict[str, Any]:
        return {}


class _At(Kind):
    """A value together with where it was written (for errors raised after validation)."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind

    def read(self, node: Node, path: str, ctx: Context) -> Any:
        return self.kind.read(node, path, ctx), position(ctx.doc.name, node)

    def json_schema(self) -> dict[str, Any]:
        return self.kind.json_schema()


class _Units(Kind):
    """Task cpu/memory: a number, or ECS's text forms "1 vCPU", "0.5 GB", "512 MiB"."""

    def __init__(self, unit: str) -> None:
        self.unit = unit  # "vcpu" (×1024) or "gb" (×1024 MiB)

    def read(self, node: Node, path: str, ctx: Context) -> int:
        text = str(node.value).strip() if isinstance(node, ScalarNode) else ""
        match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([A-Za-z]*)", text)
        scale = {"": 1, "mb": 1, "mib": 1, "gb": 1024, "gib": 1024, "vcpu": 1024, "cpu": 1024}
        word = match.group(2).lower() if match else "?"
        if match is None or word not in scale or (word in ("gb", "gib") and self.unit != "gb"):
            hint = "a number of MiB or '1 GB'" if self.unit == "gb" else "a number of CPU units or '1 vCPU'"
            raise ctx.error(node, path, f"expected {hint}, got {text!r}")
        return int(float(match.group(1)) * scale[word])

    def json_schema(self) -> dict[str, Any]:
        return {"type": ["integer", "string"]}


def _no(why: str) -> _Ignored:
    return _Ignored(why)


class _Quiet(Kind):
    """Part of a field we use whose detail needs no local counterpart (a port's hostPort)."""

    def read(self, node: Node, path: str, ctx: Context) -> Any:
        return None

    def json_schema(self) -> dict[str, Any]:
        return {}


# The router reaches containerPort on the slot's address; nothing is published on the host.
_PORT_DETAILS = tuple(
    Key(name, _Quiet())
    for name in ("hostPort", "protocol", "name", "appProtocol", "containerPortRange", "hostPortRange")
)


_STRS = ListOf(Str())
_PAIR = Obj((Key("name", Str()), Key("value", Str())), lenient=True)
_HEALTH = Obj(
    (
        Key("command", ListOf(Str(), min_items=1), required=True),
        Key("interval", Int(minimum=5, maximum=300)),
        Key("timeout", Int(minimum=2, maximum=60)),
        Key("retries", Int(minimum=1, maximum=10)),
        Key("startPeriod", Int(minimum=0, maximum=300)),
    )
)
_LINUX = Obj(
    (
        Key("capabilities", Obj((Key("add", _STRS, default=()), Key("drop", _STRS, default=())))),
        Key("initProcessEnabled", Bool()),
        Key("sharedMemorySize", Int(minimum=0)),
        Key(
            "tmpfs",
            ListOf(
                Obj(
                    (
                        Key("containerPath", Str(allow_empty=False), required=True),
                        Key("size", Int(minimum=1), required=True),
                        Key("mountOptions", ListOf(Str()), default=()),
                    )
                )
            ),
            default=(),
        ),
        Key("devices", _no("host devices are not passed through")),
        Key("maxSwap", _no("swap limits are the engine's")),
        Key("swappiness", _no("swap limits are the engine's")),
    ),
    lenient=True,
)
_LOGS = "logs stay in the engine's json-file log (`runner status`, docker logs)"
_CONTAINER = Obj(
    (
        Key("name", Str(allow_empty=False), required=True),
        Key("image", _At(Str(allow_empty=False)), required=True),
        Key("essential", Bool(), default=True),
        Key("command", ListOf(Str())),
        Key("entryPoint", ListOf(Str())),
        Key("environment", ListOf(_PAIR), default=()),
        Key(
            "secrets",
            ListOf(
                Obj(
                    (
                        Key("name", Str(allow_empty=False), required=True),
                        Key("valueFrom", _At(Str(allow_empty=False)), required=True),
                    )
                )
            ),
            default=(),
        ),
        Key("workingDirectory", Str()),
        Key("user", Str()),
        Key(
            "ulimits",
            ListOf(
                Obj(
                    (
                        Key("name", Str(allow_empty=False), required=True),
                        Key("softLimit", Int(), required=True),
                        Key("hardLimit", Int(), required=True),
                    )
                )
            ),
            default=(),
        ),
        Key("linuxParameters", _LINUX),
        Key("readonlyRootFilesystem", Bool(), default=False),
        Key("dockerLabels", MapOf(Str()), default={}),
        Key("stopTimeout", Int(minimum=0, maximum=120)),
        Key("memory", Int(minimum=6)),
        Key("memoryReservation", Int(minimum=4)),
        Key("cpu", Int(minimum=0)),
        Key(
            "dependsOn",
            ListOf(
                Obj(
                    (
                        Key("containerName", Str(allow_empty=False), required=True),
                        Key("condition", Enum(CONDITIONS), required=True),
                    )
                )
            ),
            default=(),
        ),
        Key("healthCheck", _HEALTH),
        Key(
            "portMappings",
            ListOf(Obj((Key("containerPort", Int(minimum=1, maximum=65535)), *_PORT_DETAILS))),
            default=(),
        ),
        Key("links", ListOf(Str()), default=()),
        Key("extraHosts", ListOf(Obj((Key("hostname", Str()), Key("ipAddress", Str())))), default=()),
        Key("logConfiguration", _no(_LOGS)),
        Key("firelensConfiguration", _no(_LOGS)),
        Key("environmentFiles", _no("environment files live on S3; write the variables in environment")),
        Key("repositoryCredentials", _no("images come from the local engine")),
        Key("mountPoints", _no("task volumes are not translated; keep state out of the task")),
        Key("volumesFrom", _no("task volumes are not translated; keep state out of the task")),
        Key("resourceRequirements", _no("GPUs and accelerators are not passed through")),
        Key("systemControls", _no("sysctls are the engine's")),
        Key("privileged", _no("slots never run privileged")),
        Key("startTimeout", _no("dependsOn waits as long as compose does")),
        Key("hostname", _no("a slot's address is fixed by the runner")),
        Key("dnsServers", _no("the environment network's DNS is used")),
        Key("dnsSearchDomains", _no("the environment network's DNS is used")),
        Key("dockerSecurityOptions", _no("security options are the engine's")),
        Key("disableNetworking", _no("the router must reach the task")),
        Key("interactive", _no("slots run detached")),
        Key("pseudoTerminal", _no("slots run detached")),
        Key("credentialSpecs", _no("Windows gMSA only")),
        Key("restartPolicy", _no("a failed essential container fails the slot")),
        Key("versionConsistency", _no("images are resolved to ids once, at deploy")),
    ),
    lenient=True,
)
_DESCRIBED = "a field of describe-task-definition output"
SCHEMA = Obj(
    (
        Key("family", Str()),
        Key("containerDefinitions", ListOf(_CONTAINER, min_items=1), required=True),
        Key("networkMode", Enum(NETWORK_MODES), default="bridge"),
        Key("cpu", _Units("vcpu")),
        Key("memory", _Units("gb")),
        Key("executionRoleArn", _no("the containers get no AWS credentials")),
        Key("taskRoleArn", _no("the containers get no AWS credentials")),
        Key("requiresCompatibilities", _no("every task runs on the local engine")),
        Key("runtimePlatform", _no("the engine's platform is used")),
        Key("placementConstraints", _no("one local engine")),
        Key("volumes", _no("task volumes are not translated; keep state out of the task")),
        Key("tags", _no("tags are an AWS resource property")),
        Key("pidMode", _no("each container has its own PID namespace")),
        Key("ipcMode", _no("each container has its own IPC namespace")),
        Key("proxyConfiguration", _no("App Mesh proxies are not configured")),
        Key("inferenceAccelerators", _no("no accelerators locally")),
        Key("ephemeralStorage", _no("storage is the engine's")),
        Key("enableFaultInjection", _no("no fault injection locally")),
        *(
            Key(name, _no(_DESCRIBED))
            for name in (
                "taskDefinitionArn",
                "revision",
                "status",
                "compatibilities",
                "requiresAttributes",
                "registeredAt",
                "registeredBy",
                "deregisteredAt",
            )
        ),
    ),
    lenient=True,
    description="ECS task definition",
)


def load(path: Path, display: str | None = None) -> TaskDef:
    return from_document(load_document(path, display or str(path)))


def from_document(doc: Document) -> TaskDef:
    ctx = Context(doc)
    ctx.on_unknown = _warn_unknown(ctx)
    root = _unwrap(doc, ctx)
    data = SCHEMA.read(root, "", ctx)
    containers = tuple(_container(c) for c in data["containerDefinitions"])
    _check(doc, root, containers)
    return TaskDef(
        file=doc.name,
        family=data["family"] or Path(doc.name).stem,
        network_mode=data["networkMode"],
        containers=containers,
        cpu=data["cpu"],
        memory_mib=data["memory"],
        warnings=tuple(ctx.warnings),
    )


def _unwrap(doc: Document, ctx: Context) -> Node:
    """`aws ecs describe-task-definition` output nests the definition under `taskDefinition`."""
    root = doc.root
    if isinstance(root, MappingNode):
        items = dict((k.value, (k, v)) for k, v in mapping_items(root))
        if "taskDefinition" in items and "containerDefinitions" not in items:
            key, inner = items["taskDefinition"]
            ctx.warn(key, "taskDefinition", "describe-task-definition output: the definition inside is used")
            return inner
    return root


def _warn_unknown(ctx: Context) -> Callable[[ScalarNode, str, str, Obj], None]:
    def on_unknown(key: ScalarNode, parent: str, path: str, obj: Obj) -> None:
        ctx.warn(key, path, "unknown task definition field, ignored")

    return on_unknown


def _container(data: dict[str, Any]) -> Container:
    image, image_at = data["image"]
    linux = data["linuxParameters"] or {}
    caps = linux.get("capabilities") or {}
    health = data["healthCheck"]
    return Container(
        name=data["name"],
        image=image,
        image_at=image_at,
        essential=data["essential"],
        command=data["command"],
        entry_point=data["entryPoint"],
        environment={e["name"]: e["value"] or "" for e in data["environment"] if e.get("name")},
        secrets=tuple(Secret(s["name"], *s["valueFrom"]) for s in data["secrets"]),
        working_directory=data["workingDirectory"],
        user=data["user"],
        ulimits={u["name"]: (u["softLimit"], u["hardLimit"]) for u in data["ulimits"]},
        cap_add=tuple(caps.get("add") or ()),
        cap_drop=tuple(caps.get("drop") or ()),
        init=linux.get("initProcessEnabled"),
        shm_mib=linux.get("sharedMemorySize"),
        tmpfs=tuple(_tmpfs(t) for t in linux.get("tmpfs") or ()),
        read_only=data["readonlyRootFilesystem"],
        labels=dict(data["dockerLabels"]),
        stop_timeout_s=data["stopTimeout"],
        memory_mib=data["memory"],
        memory_reservation_mib=data["memoryReservation"],
        cpu=data["cpu"],
        depends_on=tuple((d["containerName"], d["condition"]) for d in data["dependsOn"]),
        health=_health(health) if health else None,
        ports=tuple(p["containerPort"] for p in data["portMappings"] if p.get("containerPort")),
        links=tuple(data["links"]),
        extra_hosts=tuple(f"{h['hostname']}:{h['ipAddress']}" for h in data["extraHosts"]),
    )


def _tmpfs(entry: dict[str, Any]) -> str:
    options = ",".join((f"size={entry['size']}m", *entry["mountOptions"]))
    return f"{entry['containerPath']}:{options}"


def _health(data: dict[str, Any]) -> HealthCheck:
    return HealthCheck(
        command=tuple(data["command"]),
        interval_s=data["interval"] or HEALTH_DEFAULTS["interval"],
        timeout_s=data["timeout"] or HEALTH_DEFAULTS["timeout"],
        retries=data["retries"] or HEALTH_DEFAULTS["retries"],
        start_period_s=data["startPeriod"],
    )


def _check(doc: Document, root: Node, containers: tuple[Container, ...]) -> None:
    """What ECS's RegisterTaskDefinition refuses, with the place it was written."""
    names: dict[str, int] = {}
    for index, container in enumerate(containers):
        where = f"containerDefinitions[{index}]"
        if container.name in names:
            raise _error(doc, root, index, "name", f"{where}.name", f"{container.name!r} is used twice")
        names[container.name] = index
        if container.health and container.health.command[0] not in ("CMD", "CMD-SHELL", "NONE"):
            message = "expected CMD or CMD-SHELL first"
            raise _error(doc, root, index, "healthCheck", f"{where}.healthCheck.command", message)
    for index, container in enumerate(containers):
        for target, condition in container.depends_on:
            path = f"containerDefinitions[{index}].dependsOn"
            other = next((c for c in containers if c.name == target), None)
            if other is None:
                raise _error(doc, root, index, "dependsOn", path, f"no container named {target!r}")
            if condition == "HEALTHY" and other.health is None:
                message = f"HEALTHY needs a healthCheck on {target!r}"
                raise _error(doc, root, index, "dependsOn", path, message)
    if not any(c.essential for c in containers):
        message = "at least one container must be essential"
        raise ConfigError(position(doc.name, root), "containerDefinitions", message)


def _error(doc: Document, root: Node, index: int, key: str, path: str, message: str) -> ConfigError:
    """The error at the container's `key` (validation already checked the shape)."""
    defs = _value(root, "containerDefinitions") or root
    item = defs.value[index] if isinstance(defs, SequenceNode) else defs
    return ConfigError(position(doc.name, _value(item, key) or item), path, message)


def _value(node: Node, key: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    return next((v for k, v in mapping_items(node) if k.value == key), None)
