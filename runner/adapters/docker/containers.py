"""Containers that live on the Docker engine (environments' slots and routers, a build's
containers to stop or sweep): list, inspect, read logs, exec, kill and remove them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from runner.adapters.docker.client import MANAGED, client, translate

if TYPE_CHECKING:
    import docker
    import docker.errors
    from docker.models.containers import Container
else:
    from runner.adapters.docker.client import docker


@translate("list containers")
def managed_containers(filters: dict[str, str] | None = None) -> list[dict[str, Any]]:
    label_filter = [f"{MANAGED}=1", *(f"{k}={v}" for k, v in (filters or {}).items())]
    return [
        {"id": c.id, "name": c.name, "status": c.status, "labels": dict(c.labels or {})}
        for c in client().containers.list(all=True, filters={"label": label_filter})
    ]


@translate("remove container")
def remove_container(container_id: str) -> None:
    try:
        client().containers.get(container_id).remove(force=True, v=True)
    except docker.errors.NotFound:
        pass


@translate("stop container")
def kill_container(container_id: str) -> None:
    try:
        client().containers.get(container_id).kill()
    except (docker.errors.NotFound, docker.errors.APIError):
        pass


@dataclass(frozen=True, slots=True)
class ContainerState:
    name: str
    status: str  # created | running | restarting | exited | dead …
    exit_code: int
    image_id: str
    oom_killed: bool
    labels: dict[str, str]
    health: str = ""  # starting | healthy | unhealthy, "" without a healthcheck

    @property
    def running(self) -> bool:
        return self.status == "running"


def _container_state(container: Container) -> ContainerState:
    state = container.attrs.get("State") or {}
    return ContainerState(
        name=str(container.name),
        status=str(state.get("Status") or container.status),
        exit_code=int(state.get("ExitCode") or 0),
        image_id=str(container.attrs.get("Image") or ""),
        oom_killed=bool(state.get("OOMKilled")),
        labels=dict(container.labels or {}),
        health=str((state.get("Health") or {}).get("Status") or ""),
    )


@translate("inspect container")
def container_state(name: str) -> ContainerState | None:
    try:
        return _container_state(client().containers.get(name))
    except docker.errors.NotFound:
        return None


def container_running(name: str) -> bool:
    state = container_state(name)
    return state is not None and state.running


@translate("list containers")
def project_containers(project: str) -> dict[str, ContainerState]:
    """The containers of a compose project, by compose service name."""
    found = client().containers.list(all=True, filters={"label": f"com.docker.compose.project={project}"})
    return {str(c.labels.get("com.docker.compose.service", c.name)): _container_state(c) for c in found}


@dataclass(frozen=True, slots=True)
class ContainerSummary:
    """What one list call tells about a container (no inspect per container: cheap for many)."""

    name: str
    running: bool
    labels: dict[str, str]
    ports: tuple[tuple[str, int], ...]  # published (host address, host port)


@translate("list containers")
def container_summaries(label_filter: list[str], include_stopped: bool = True) -> list[ContainerSummary]:
    """Containers carrying these labels (`key` or `key=value`), with stopped ones unless told not to."""
    found = []
    for container in client().containers.list(
        all=include_stopped, sparse=True, filters={"label": label_filter}
    ):
        attrs = container.attrs
        ports = tuple(
            (str(p.get("IP") or ""), int(p["PublicPort"]))
            for p in attrs.get("Ports") or ()
            if p.get("PublicPort")
        )
        name = str((attrs.get("Names") or ["?"])[0]).lstrip("/")
        found.append(
            ContainerSummary(name, attrs.get("State") == "running", dict(attrs.get("Labels") or {}), ports)
        )
    return found


@translate("read container logs")
def container_logs(name: str, tail: int = 20) -> str:
    try:
        data = client().containers.get(name).logs(stdout=True, stderr=True, tail=tail, stream=False)
    except docker.errors.NotFound:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else ""


@translate("run in container")
def exec_in(name: str, command: list[str]) -> tuple[int, str]:
    """`docker exec` and wait: (exit code, combined output)."""
    result = client().containers.get(name).exec_run(command, stdout=True, stderr=True)
    output = result.output if isinstance(result.output, bytes) else b""
    return int(result.exit_code or 0), output.decode(errors="replace")
