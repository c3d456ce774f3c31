"""Docker Swarm through a manager's engine API: the swarm it belongs to, services and their tasks,
overlay networks, volumes, and files into and out of a running task's container.

Every call names the manager (an `Endpoint`, as remote.py reaches any engine). Swarm schedules;
this module only states what should run and reads what does. Services run an image by id or
digest, never a tag: a node pulls a tag before every task start (ENVIRONMENT.md).
"""

from __future__ import annotations

import io
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from runner.adapters.docker.remote import QUICK_S, Endpoint, client, guarded
from runner.errors import EngineError

if TYPE_CHECKING:
    import docker

T = TypeVar("T")
SERVICE_LABEL = "com.docker.swarm.service.name"
STACK_LABEL = (
    "com.docker.stack.namespace"  # what `docker stack` groups by: `docker stack rm` removes ours too
)


@dataclass(frozen=True, slots=True)
class SwarmRole:
    """What the engine is in a swarm: state (inactive, active, pending …), manager or not, its node."""

    state: str
    manager: bool
    node_id: str
    address: str  # the node's advertised address ("" outside a swarm)


@dataclass(frozen=True, slots=True)
class Node:
    id: str
    hostname: str
    address: str
    ready: bool
    manager: bool


@dataclass(frozen=True, slots=True)
class ServiceState:
    """A service as the manager sees it: desired and running replicas, where they run, its labels."""

    name: str
    id: str
    labels: Mapping[str, str]
    desired: int
    running: int
    nodes: tuple[str, ...]  # hostnames of the nodes its running tasks are on
    failed: str  # the last task error while fewer run than desired ("" when none)
    image: str


@dataclass(frozen=True, slots=True)
class ServiceSpec:
    """One replicated service on an overlay network, in endpoint mode dnsrr (no VIP: no IPVS here)."""

    name: str
    image: str  # an image id or a digest
    replicas: int
    network: str
    aliases: tuple[str, ...]  # its names on the network (the stack's short name)
    labels: Mapping[str, str]
    env: Mapping[str, str]
    command: tuple[str, ...] = ()
    constraints: tuple[str, ...] = ()
    spread: bool = True  # placement preference spread over node.id, no per-node maximum
    ports: tuple[tuple[int, int], ...] = ()  # (published, target), in host mode
    mounts: tuple[tuple[str, str], ...] = ()  # (volume, target)
    stop_grace_s: float = 10.0


def _spec_kwargs(spec: ServiceSpec) -> dict[str, Any]:
    from docker import types

    container = types.ContainerSpec(
        spec.image,
        command=list(spec.command) or None,
        env=[f"{k}={v}" for k, v in spec.env.items()],
        labels=dict(spec.labels),
        mounts=[types.Mount(target, source, type="volume") for source, target in spec.mounts],
        stop_grace_period=int(spec.stop_grace_s * 1e9),
        init=True,
    )
    placement = types.Placement(
        constraints=list(spec.constraints) or None,
        preferences=[types.PlacementPreference("spread", "node.id")] if spec.spread else None,
    )
    template = types.TaskTemplate(
        container,
        restart_policy=types.RestartPolicy(condition="any", delay=int(1e9)),
        placement=placement,
        networks=[types.NetworkAttachmentConfig(spec.network, aliases=list(spec.aliases))],
    )
    ports = [
        {"Protocol": "tcp", "PublishedPort": published, "TargetPort": target, "PublishMode": "host"}
        for published, target in spec.ports
    ]
    return {
        "task_template": template,
        "name": spec.name,
        "labels": dict(spec.labels),
        "mode": types.ServiceMode("replicated", replicas=spec.replicas),
        # A replaced slot takes no traffic: all its tasks at once; the router with its ports: stop first.
        "update_config": types.UpdateConfig(parallelism=0, order="stop-first"),
        "endpoint_spec": types.EndpointSpec(mode="dnsrr", ports=ports or None),  # type: ignore[arg-type]
    }


def _error(action: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
    return guarded(lambda endpoint: f"{action} on {endpoint.shown()}")


@_error("ask the engine about its swarm")
def role(endpoint: Endpoint) -> SwarmRole:
    info = client(endpoint, QUICK_S).info()
    swarm = info.get("Swarm") or {}
    return SwarmRole(
        str(swarm.get("LocalNodeState") or "inactive"),
        bool(swarm.get("ControlAvailable")),
        str(swarm.get("NodeID") or ""),
        str(swarm.get("NodeAddr") or ""),
    )


@_error("list the swarm's nodes")
def nodes(endpoint: Endpoint) -> list[Node]:
    found = client(endpoint, QUICK_S).api.nodes()
    return [
        Node(
            str(n["ID"]),
            str(n.get("Description", {}).get("Hostname", n["ID"][:12])),
            str(n.get("Status", {}).get("Addr", "")),
            n.get("Status", {}).get("State") == "ready",
            n.get("Spec", {}).get("Role") == "manager",
        )
        for n in found
    ]


@_error("create an overlay network")
def ensure_network(
    endpoint: Endpoint, name: str, subnet: str, ip_range: str, labels: Mapping[str, str]
) -> None:
    """An attachable overlay network (hooks join it), created once; its subnet when it exists is kept."""
    from docker import types

    api = client(endpoint).api
    if any(n["Name"] == name for n in api.networks(names=[name])):
        return
    pool = types.IPAMPool(subnet=subnet, iprange=ip_range, gateway=None)
    api.create_network(
        name,
        driver="overlay",
        attachable=True,
        labels=dict(labels),
        ipam=types.IPAMConfig(pool_configs=[pool]),
        check_duplicate=True,
    )


@_error("read a network")
def network_subnet(endpoint: Endpoint, name: str) -> str | None:
    found = [n for n in client(endpoint).api.networks(names=[name]) if n["Name"] == name]
    if not found:
        return None
    config = (found[0].get("IPAM") or {}).get("Config") or []
    return str(config[0].get("Subnet")) if config else None


@_error("remove a network")
def remove_network(endpoint: Endpoint, name: str, timeout_s: float = 30.0) -> None:
    """Remove it once the tasks attached to it are gone (their removal is asynchronous)."""
    import docker

    api = client(endpoint).api
    deadline = time.monotonic() + timeout_s
    while True:
        if not any(n["Name"] == name for n in api.networks(names=[name])):
            return
        try:
            api.remove_network(name)
            return
        except docker.errors.APIError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@_error("create or update a service")
def apply(endpoint: Endpoint, spec: ServiceSpec, force: bool = False) -> bool:
    """Create the service, or update it to `spec` (with `force`, its tasks restart even when the
    spec is the same); True when something changed."""
    api = client(endpoint).api
    current = _find(api, spec.name)
    kwargs = _spec_kwargs(spec)
    if current is None:
        api.create_service(**kwargs)  # type: ignore[no-untyped-call]
        return True
    if not force and _same(current, spec):
        return False
    template = kwargs["task_template"]
    previous = current["Spec"].get("TaskTemplate", {}).get("ForceUpdate", 0)
    template["ForceUpdate"] = previous + 1 if force else previous
    api.update_service(current["ID"], current["Version"]["Index"], **kwargs)
    return True


def _same(current: dict[str, Any], spec: ServiceSpec) -> bool:
    """Whether the running spec is `spec` already (image, replicas, labels, environment, command)."""
    s = current["Spec"]
    container = s.get("TaskTemplate", {}).get("ContainerSpec", {})
    replicas = s.get("Mode", {}).get("Replicated", {}).get("Replicas")
    return (
        container.get("Image") == spec.image
        and replicas == spec.replicas
        and (s.get("Labels") or {}) == dict(spec.labels)
        and sorted(container.get("Env") or []) == sorted(f"{k}={v}" for k, v in spec.env.items())
        and list(container.get("Args") or container.get("Command") or []) == list(spec.command)
    )


@_error("scale a service")
def scale(endpoint: Endpoint, name: str, replicas: int) -> bool:
    """Set its replicas (False when it does not exist)."""
    from docker import types

    api = client(endpoint).api
    current = _find(api, name)
    if current is None:
        return False
    if current["Spec"].get("Mode", {}).get("Replicated", {}).get("Replicas") == replicas:
        return True
    mode = types.ServiceMode("replicated", replicas=replicas)
    api.update_service(current["ID"], current["Version"]["Index"], mode=mode, fetch_current_spec=True)
    return True


@_error("list networks")
def subnets(endpoint: Endpoint) -> list[str]:
    """The IPv4 subnets of every network on the engine (the swarm's overlays included)."""
    found = []
    for network in client(endpoint, QUICK_S).api.networks():
        for config in (network.get("IPAM") or {}).get("Config") or []:
            if config.get("Subnet") and ":" not in str(config["Subnet"]):
                found.append(str(config["Subnet"]))
    return found


@_error("remove a service")
def remove(endpoint: Endpoint, name: str) -> bool:
    api = client(endpoint).api
    current = _find(api, name)
    if current is None:
        return False
    api.remove_service(current["ID"])  # type: ignore[no-untyped-call]
    return True


def _find(api: docker.APIClient, name: str) -> dict[str, Any] | None:
    found = [s for s in api.services(filters={"name": name}) if s["Spec"]["Name"] == name]  # type: ignore[no-untyped-call]
    return dict(found[0]) if found else None


@_error("list services")
def states(endpoint: Endpoint, labels: Mapping[str, str]) -> dict[str, ServiceState]:
    """The services carrying `labels`, by name, with their tasks counted (two API calls)."""
    api = client(endpoint, QUICK_S).api
    found = api.services(filters={"label": [f"{k}={v}" for k, v in labels.items()]})  # type: ignore[no-untyped-call]
    if not found:
        return {}
    hostnames = {n.id: n.hostname for n in nodes(endpoint)}
    tasks = api.tasks(filters={"label": [f"{k}={v}" for k, v in labels.items()]}) if labels else api.tasks()  # type: ignore[no-untyped-call]
    by_service: dict[str, list[dict[str, Any]]] = {}
    for task in tasks:
        by_service.setdefault(str(task.get("ServiceID")), []).append(task)
    result = {}
    for service in found:
        result[service["Spec"]["Name"]] = _state(service, by_service.get(service["ID"], []), hostnames)
    return result


@_error("read a service")
def state(endpoint: Endpoint, name: str) -> ServiceState | None:
    api = client(endpoint, QUICK_S).api
    current = _find(api, name)
    if current is None:
        return None
    hostnames = {n.id: n.hostname for n in nodes(endpoint)}
    return _state(current, api.tasks(filters={"service": current["ID"]}), hostnames)  # type: ignore[no-untyped-call]


def _state(
    service: dict[str, Any], tasks: list[dict[str, Any]], hostnames: Mapping[str, str]
) -> ServiceState:
    spec = service["Spec"]
    desired = int(spec.get("Mode", {}).get("Replicated", {}).get("Replicas", 0))
    version = service.get("Spec", {}).get("TaskTemplate", {}).get("ForceUpdate", 0)
    image = str(spec.get("TaskTemplate", {}).get("ContainerSpec", {}).get("Image", ""))
    current = [
        t
        for t in tasks
        if t.get("DesiredState") == "running"
        and t.get("Spec", {}).get("ContainerSpec", {}).get("Image") == image
        and t.get("Spec", {}).get("ForceUpdate", 0) == version
    ]
    running = [t for t in current if t.get("Status", {}).get("State") == "running"]
    failed = ""
    if len(running) < desired:
        errors = sorted(
            (t for t in tasks if t.get("Status", {}).get("Err")),
            key=lambda t: str(t.get("Status", {}).get("Timestamp", "")),
        )
        failed = str(errors[-1]["Status"]["Err"]) if errors else ""
    where = sorted({hostnames.get(str(t.get("NodeID")), str(t.get("NodeID"))[:12]) for t in running})
    return ServiceState(
        spec["Name"],
        str(service["ID"]),
        dict(spec.get("Labels") or {}),
        desired,
        len(running),
        tuple(where),
        failed,
        image,
    )


@_error("read a service's logs")
def logs(endpoint: Endpoint, name: str, tail: int) -> str:
    api = client(endpoint, QUICK_S).api
    current = _find(api, name)
    if current is None:
        return ""
    data = api.service_logs(current["ID"], stdout=True, stderr=True, tail=str(tail), timestamps=False)
    return b"".join(data).decode(errors="replace") if not isinstance(data, bytes) else data.decode()


@_error("find a task's container")
def local_container(endpoint: Endpoint, service: str) -> str | None:
    """The id of a running container of the service's tasks on this engine's own node."""
    found = client(endpoint, QUICK_S).api.containers(filters={"label": f"{SERVICE_LABEL}={service}"})
    return str(found[0]["Id"]) if found else None


@_error("run a command in a container")
def exec_in(endpoint: Endpoint, container: str, command: Sequence[str]) -> tuple[int, bytes]:
    api = client(endpoint).api
    created = api.exec_create(container, list(command), stdout=True, stderr=True)
    output = api.exec_start(created["Id"])
    code = api.exec_inspect(created["Id"]).get("ExitCode")
    return int(code or 0), bytes(output)


@_error("copy files into a container")
def put_files(endpoint: Endpoint, container: str, directory: str, files: Mapping[str, bytes]) -> None:
    """Files (mode 0644) into `directory` of a container, running or not (volumes included)."""
    import tarfile

    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    if not client(endpoint).api.put_archive(container, directory, buffer.getvalue()):
        raise EngineError(f"copy files into {directory} of container {container[:12]}: refused")


@_error("run a helper container")
def with_volumes(
    endpoint: Endpoint,
    image: str,
    command: Sequence[str],
    mounts: Sequence[tuple[str, str]],
    labels: Mapping[str, str],
    files: Mapping[str, Mapping[str, bytes]] | None = None,
    timeout_s: float = 60.0,
) -> tuple[int, str]:
    """A one-shot container on this engine with named volumes (created when missing) mounted:
    `files` (directory → name → bytes) put in before it starts; (exit code, output)."""
    from docker import types

    api = client(endpoint).api
    created = api.create_container(
        image,
        list(command),
        labels=dict(labels),
        host_config=api.create_host_config(
            mounts=[types.Mount(target, source, type="volume") for source, target in mounts]
        ),
    )
    container = str(created["Id"])
    try:
        for directory, content in (files or {}).items():
            put_files(endpoint, container, directory, content)
        api.start(container)
        code = api.wait(container, timeout=int(timeout_s)).get("StatusCode", 1)
        output = bytes(api.logs(container, stdout=True, stderr=True)).decode(errors="replace")
        return int(code), output
    finally:
        api.remove_container(container, force=True)


@_error("remove a volume")
def remove_volume(endpoint: Endpoint, name: str, timeout_s: float = 30.0) -> None:
    """Remove it once no container uses it (a removed service's tasks stop asynchronously)."""
    import docker

    api = client(endpoint).api
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            api.remove_volume(name)
            return
        except docker.errors.NotFound:
            return
        except docker.errors.APIError as e:
            if e.status_code != 409 or time.monotonic() > deadline:
                raise
            time.sleep(0.3)


@_error("look for an image")
def has_image(endpoint: Endpoint, image_id: str) -> bool:
    import docker

    try:
        client(endpoint, QUICK_S).api.inspect_image(image_id)  # type: ignore[no-untyped-call]
        return True
    except docker.errors.ImageNotFound:
        return False


@_error("list routers")
def published(endpoint: Endpoint, labels: Mapping[str, str]) -> list[tuple[str, dict[str, str], list[int]]]:
    """Services carrying `labels`: (name, labels, the ports they publish)."""
    found = client(endpoint, QUICK_S).api.services(filters={"label": [f"{k}={v}" for k, v in labels.items()]})  # type: ignore[no-untyped-call]
    result = []
    for s in found:
        ports = (s.get("Spec", {}).get("EndpointSpec") or {}).get("Ports") or []
        result.append(
            (
                str(s["Spec"]["Name"]),
                dict(s["Spec"].get("Labels") or {}),
                [int(p["PublishedPort"]) for p in ports],
            )
        )
    return result


@_error("look for an image")
def image_id(endpoint: Endpoint, ref: str) -> str | None:
    """The id of `ref` on that engine (None when it has no such image)."""
    import docker

    try:
        return str(client(endpoint, QUICK_S).api.inspect_image(ref)["Id"])  # type: ignore[no-untyped-call]
    except docker.errors.ImageNotFound:
        return None


def stack_deploy(endpoint: Endpoint, stack: str, files: Sequence[str], timeout_s: float = 300.0) -> str:
    """`docker stack deploy` of compose files into the stack on that manager (Docker's own way to
    run a compose file's services on a swarm); images are never resolved to digests here."""
    argv = ["docker"]
    if endpoint.url:
        argv += ["-H", endpoint.url]
    if endpoint.tls_ca or endpoint.tls_cert:
        argv.append("--tlsverify")
        argv += [f"--tlscacert={endpoint.tls_ca}"] if endpoint.tls_ca else []
        argv += (
            [f"--tlscert={endpoint.tls_cert}", f"--tlskey={endpoint.tls_key}"] if endpoint.tls_cert else []
        )
    argv += ["stack", "deploy", "--resolve-image", "never"]
    for file in files:
        argv += ["-c", file]
    argv.append(stack)
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    except subprocess.TimeoutExpired as e:
        raise EngineError(f"docker stack deploy {stack} did not finish in {timeout_s:g}s") from e
    except OSError as e:
        raise EngineError(f"cannot run docker (the CLI deploys a compose file to a swarm): {e}") from e
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-8:])
        raise EngineError(f"docker stack deploy {stack} on {endpoint.shown()} failed:\n{tail}")
    return output
