"""A task definition as compose services of one slot: pure.

One compose service per container. Names: the slot's own compose service (`web-blue`) holds
the slot's fixed address; every container is `web-blue.<container>` (ECS container names
have no dots, so no name can collide). With `awsvpc` the slot's service is a pause container
that owns the network namespace, as in ECS (every container of the task joins it and reaches
the others on localhost); in bridge mode it is the container the load balancer targets, and
the others get addresses of their own (`links` become compose links).
https://docs.aws.amazon.com/AmazonECS/latest/developerguide/task_definition_parameters.html
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from runner.codedeploy.taskdef import Container, HealthCheck, TaskDef

# dependsOn conditions → compose's. COMPLETE (any exit) has no compose counterpart: it waits for
# exit 0 locally, and the loader's caller warns.
CONDITIONS = {
    "START": "service_started",
    "COMPLETE": "service_completed_successfully",
    "SUCCESS": "service_completed_successfully",
    "HEALTHY": "service_healthy",
}
PAUSE_COMMAND = ["sleep", "infinity"]


@dataclass(frozen=True, slots=True)
class SlotTask:
    """What one slot runs when its service is a task definition (kept per slot, like a revision)."""

    task: TaskDef  # placeholders already replaced
    image_ids: Mapping[str, str]  # container → image id (tags resolved once, at deploy)
    container: str  # appspec LoadBalancerInfo.ContainerName
    port: int  # appspec LoadBalancerInfo.ContainerPort

    @property
    def target(self) -> Container:
        found = self.task.container(self.container)
        assert found is not None  # checked when the task was prepared
        return found


@dataclass(frozen=True, slots=True)
class SlotPlace:
    """Where and as what a slot runs (the runner's part of each container)."""

    service: str
    slot: str
    address: str
    project: str  # containers are <project>-<compose service>
    labels: Mapping[str, str]  # on every container
    runner_env: Mapping[str, str]  # the slot's RUNNER_* and pipeline.yml `env:` (target container)
    pause_image: str
    pause_pull_policy: str = "never"


def slot_name(service: str, slot: str) -> str:
    return f"{service}-{slot}"


def member(service: str, slot: str, container: str) -> str:
    return f"{slot_name(service, slot)}.{container.lower()}"


def members(service: str, slot: str, task: SlotTask) -> list[str]:
    """The slot's compose services: its own first, then one per container."""
    own = slot_name(service, slot)
    names = [own]
    for container in task.task.containers:
        name = _compose_name(service, slot, task, container)
        if name != own:
            names.append(name)
    return names


def container_service(service: str, slot: str, task: SlotTask, container: str) -> str:
    """The compose service of one container of the task."""
    return _compose_name(service, slot, task, _named(task, container))


def target_member(service: str, slot: str, task: SlotTask) -> str:
    """The compose service of the container the listeners reach (its logs explain a failure)."""
    return _compose_name(service, slot, task, task.target)


def secret_variable(service: str, slot: str, container: str, name: str) -> str:
    """The compose-process variable carrying one secret: compose files never hold the value."""
    digest = hashlib.sha256(f"{service}/{slot}/{container}/{name}".encode()).hexdigest()[:16]
    return f"RUNNER_SECRET_{digest.upper()}"


def render(task: SlotTask, place: SlotPlace) -> dict[str, Any]:
    """Compose services of one slot."""
    services: dict[str, Any] = {}
    awsvpc = task.task.network_mode == "awsvpc"
    own = slot_name(place.service, place.slot)
    if awsvpc:
        services[own] = _pause(place)
    limits = _task_limits(task)
    for container in task.task.containers:
        name = _compose_name(place.service, place.slot, task, container)
        spec = _container(task, container, place, limits.get(container.name, {}))
        if awsvpc:
            spec["network_mode"] = f"service:{own}"
            services[name] = spec
            continue
        address = {"ipv4_address": place.address} if name == own else {}
        spec["networks"] = {"default": address}
        if container.links:
            spec["links"] = [_link(place, task, link) for link in container.links]
        services[name] = spec
    return services


def _compose_name(service: str, slot: str, task: SlotTask, container: Container) -> str:
    if task.task.network_mode != "awsvpc" and container.name == task.container:
        return slot_name(service, slot)
    return member(service, slot, container.name)


def _pause(place: SlotPlace) -> dict[str, Any]:
    return {
        "image": place.pause_image,
        "container_name": f"{place.project}-{slot_name(place.service, place.slot)}",
        "pull_policy": place.pause_pull_policy,
        "init": True,
        "command": PAUSE_COMMAND,
        "labels": _escape({**place.labels, "runner.container": "(network namespace)"}),
        "networks": {"default": {"ipv4_address": place.address}},
        "stop_grace_period": "2s",
    }


def _task_limits(task: SlotTask) -> dict[str, dict[str, Any]]:
    """Task-level cpu/memory on the target container when no container sets its own (Fargate's
    task size is the whole task's hard limit)."""
    limits: dict[str, Any] = {}
    containers = task.task.containers
    if task.task.memory_mib and not any(c.memory_mib for c in containers):
        limits["mem_limit"] = f"{task.task.memory_mib}m"
    if task.task.cpu and not any(c.cpu for c in containers):
        limits["cpus"] = round(task.task.cpu / 1024, 3)
    return {task.container: limits} if limits else {}


def _container(
    task: SlotTask, container: Container, place: SlotPlace, limits: dict[str, Any]
) -> dict[str, Any]:
    name = _compose_name(place.service, place.slot, task, container)
    env = dict(container.environment)
    if container.name == task.container:
        env |= place.runner_env
    spec: dict[str, Any] = {
        "image": task.image_ids[container.name],
        "container_name": f"{place.project}-{name}",
        "pull_policy": "never",
        "init": bool(container.init),
        "environment": _escape(env),
        "labels": _escape({**container.labels, **place.labels, "runner.container": container.name}),
        "read_only": container.read_only,
        "restart": "no",  # ECS replaces a task, it never restarts one of its containers
        **_optional(container),
        **limits,
    }
    for secret in container.secrets:  # a reference to the compose process's environment
        variable = secret_variable(place.service, place.slot, container.name, secret.name)
        spec["environment"][secret.name] = "${" + variable + "}"
    depends = {
        _compose_name(place.service, place.slot, task, _named(task, target)): {
            "condition": CONDITIONS[condition]
        }
        for target, condition in container.depends_on
    }
    if depends:
        spec["depends_on"] = depends
    return spec


def _optional(container: Container) -> dict[str, Any]:
    """The fields a container sets, in compose's words; `$` escaped (compose interpolates)."""
    spec: dict[str, Any] = {}
    if container.command is not None:
        spec["command"] = [_dollar(part) for part in container.command]
    if container.entry_point is not None:
        spec["entrypoint"] = [_dollar(part) for part in container.entry_point]
    if container.working_directory:
        spec["working_dir"] = _dollar(container.working_directory)
    if container.user:
        spec["user"] = _dollar(container.user)
    if container.ulimits:
        spec["ulimits"] = {name: {"soft": s, "hard": h} for name, (s, h) in container.ulimits.items()}
    if container.cap_add:
        spec["cap_add"] = list(container.cap_add)
    if container.cap_drop:
        spec["cap_drop"] = list(container.cap_drop)
    if container.shm_mib:
        spec["shm_size"] = f"{container.shm_mib}m"
    if container.tmpfs:
        spec["tmpfs"] = list(container.tmpfs)
    if container.stop_timeout_s is not None:
        spec["stop_grace_period"] = f"{container.stop_timeout_s}s"
    if container.memory_mib:
        spec["mem_limit"] = f"{container.memory_mib}m"
    if container.memory_reservation_mib:
        spec["mem_reservation"] = f"{container.memory_reservation_mib}m"
    if container.cpu:
        spec["cpu_shares"] = max(container.cpu, 2)  # the kernel's minimum share
    if container.extra_hosts:
        spec["extra_hosts"] = list(container.extra_hosts)
    if container.health is not None:
        spec["healthcheck"] = _healthcheck(container.health)
    return spec


def _healthcheck(health: HealthCheck) -> dict[str, Any]:
    """ECS's values written out: Docker's defaults (timeout 30 s) are not ECS's (5 s)."""
    if health.command[0] == "NONE":
        return {"disable": True}
    check: dict[str, Any] = {
        "test": [_dollar(part) for part in health.command],
        "interval": f"{health.interval_s}s",
        "timeout": f"{health.timeout_s}s",
        "retries": health.retries,
    }
    if health.start_period_s:
        check["start_period"] = f"{health.start_period_s}s"
    return check


def _named(task: SlotTask, name: str) -> Container:
    found = task.task.container(name)
    assert found is not None  # the loader checked dependsOn and links
    return found


def _link(place: SlotPlace, task: SlotTask, link: str) -> str:
    name, _, alias = link.partition(":")
    target = task.task.container(name)
    compose = _compose_name(place.service, place.slot, task, target) if target else name
    return f"{compose}:{alias or name}"


def _dollar(text: str) -> str:
    return text.replace("$", "$$")


def _escape(values: Mapping[str, str]) -> dict[str, str]:
    return {k: _dollar(str(v)) for k, v in values.items()}
