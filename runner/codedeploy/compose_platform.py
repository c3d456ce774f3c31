"""Today's platform: an environment is a compose project on the local engine.

Its parts are containers named `<app>-<env>-<compose service>`, on one network with a
fixed subnet; the generated compose file (compose_file.py) sits beside the user's own
(backing services); the router's files are bind-mounted from our state directory
(local_router.py). The only module of codedeploy that runs compose or asks the engine
about containers and networks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import yaml

from runner.adapters import compose
from runner.adapters.docker import client as docker_client
from runner.adapters.docker import containers as docker_containers
from runner.adapters.docker import images as docker_images
from runner.adapters.docker import networks as docker_networks
from runner.codedeploy import compose_file, ecs_compose, ecs_slots, local_router
from runner.codedeploy.environment import (
    ROUTER,
    Layout,
    SlotSpec,
    env_dir,
    slot_service,
)
from runner.codedeploy.network_record import free_subnet, recorded, settle
from runner.codedeploy.platform import ConfigChange, Listener, LogSource, Presence, Unit
from runner.core.config import Environment, PipelineConfig, Service
from runner.core.image_ref import ImageRef
from runner.errors import RunnerError
from runner.store import Store

COMPOSE_PROJECT = "com.docker.compose.project"
COMPOSE_SERVICE = "com.docker.compose.service"


class ComposePlatform:
    """One environment as a compose project (implements platform.Platform)."""

    kind = "compose project"
    resolves_names = False  # every slot has a fixed address on the project's network

    def __init__(
        self, config: PipelineConfig, store: Store, env: Environment, owner: Mapping[str, str]
    ) -> None:
        self.config = config
        self.store = store
        self.env = env
        self.owner = dict(owner)  # labels naming the project that owns the environment
        self._network: str | None = None  # found once: every hook of a deployment joins it
        self.directory = env_dir(store.path.parent, env.name)

    @property
    def project(self) -> str:
        return f"{self.config.app}-{self.env.name}"

    # ------------------------------------------------------------ addressing

    def layout(self, *, fresh: bool = False, avoid: tuple[str, ...] = ()) -> Layout:
        """With fresh (before its network is created), adopt the subnet of an existing network of
        the project, or choose one that no other network uses (and not `avoid`)."""
        network = compose_file.network_name(self.project)
        record = recorded(self.store, self.env.name, self.project)
        subnet = record.subnet if record else ""
        if record is None or fresh or avoid:
            existing = None if avoid else docker_networks.network_subnet(network)
            taken = [] if existing else docker_networks.network_subnets(exclude=network)
            subnet = existing or free_subnet(self.project, subnet, taken, avoid)
        return settle(self.store, self.config, self.env.name, self.project, self.directory, record, subnet)

    # ------------------------------------------------------------ what runs

    def presence(self) -> Presence:
        containers = docker_containers.container_summaries([f"{COMPOSE_PROJECT}={self.project}"])
        router_up = any(c.running and c.labels.get(docker_client.KIND) == ROUTER for c in containers)
        return Presence(tuple(c.labels for c in containers), router_up)

    def listeners(self) -> tuple[Listener, ...]:
        wanted = [f"{docker_client.KIND}={ROUTER}"]
        routers = docker_containers.container_summaries(wanted, include_stopped=False)
        return tuple(_listener(r.labels.get(COMPOSE_PROJECT, r.name), r.labels, r.ports) for r in routers)

    def units(self) -> dict[str, Unit]:
        found = docker_containers.project_containers(self.project)
        return {name: _unit(name, state) for name, state in found.items()}

    def unit(self, name: str) -> Unit | None:
        state = docker_containers.container_state(self.container_name(name))
        return _unit(name, state) if state is not None else None

    def logs(self, name: str, tail: int) -> str:
        return str(docker_containers.container_logs(self.container_name(name), tail=tail))

    def container_name(self, name: str) -> str:
        return f"{self.project}-{name}"

    def image_present(self, image: ImageRef) -> bool:
        return docker_images.image(image.id) is not None

    def hook_network(self) -> str | None:
        if self._network is None:
            found = docker_networks.compose_network(self.project, ROUTER)
            self._network = str(found) if found else None
        return self._network

    # ------------------------------------------------------------ the router

    def router_running(self) -> bool:
        return docker_containers.container_running(self.container_name(ROUTER))

    def prepare_router(self, layout: Layout) -> None:
        local_router.prepare(layout)

    def router_current(self, layout: Layout) -> bool:
        return local_router.sees_our_files(layout, self.env)

    def apply_router_config(self, layout: Layout, text: str, running: bool) -> ConfigChange:
        container = self.container_name(ROUTER)
        return local_router.apply_config(layout, container, text, self.config.router_image, running)

    def publish_state(self, text: str) -> None:
        local_router.write_atomic(local_router.state_file(self.directory), text)

    def access_log(self) -> LogSource:
        return local_router.LogTail(self.directory / "logs" / "access.log")

    # ------------------------------------------------------------ slots

    def bring_up(
        self,
        layout: Layout,
        slots: Sequence[SlotSpec],
        wanted: Sequence[SlotSpec],
        secrets: Mapping[str, str],
        changed: bool,
        stale_router: bool,
    ) -> tuple[str, ...]:
        compose_changed = self._write(layout, slots)
        project = self._project(layout, secrets)
        names = [name for spec in wanted for name in _members(spec)]
        _, backing = self._user_compose()
        running = {name for name, unit in self.units().items() if unit.running}
        missing = [name for name in [ROUTER, *names, *backing] if name not in running]
        if not missing and not compose_changed and not changed and not stale_router:
            return ()
        if names or backing:
            compose.up_all(project, [*backing, *names])
        compose.up(project, [ROUTER], recreate="force" if stale_router else "auto", remove_orphans=True)
        return (*missing, ROUTER) if stale_router and ROUTER not in missing else tuple(missing)

    def place(
        self, layout: Layout, slots: Sequence[SlotSpec], slot: SlotSpec, secrets: Mapping[str, str]
    ) -> None:
        self._write(layout, slots)
        compose.up(self._project(layout, secrets), _members(slot), recreate="force")

    def remove(self, layout: Layout, service: Service, slot: str) -> None:
        name = slot_service(service.name, slot)
        names = ecs_slots.slot_members(layout.directory, service.name, slot) if service.ecs else [name]
        if docker_containers.container_state(compose_file.container_name(layout, name)) is not None:
            compose.remove(self._project(layout), names)

    def down(self, layout: Layout) -> None:
        if compose_file.path(layout).exists():
            compose.down(self._project(layout), volumes=True)
        else:  # not brought up from this runner home: compose finds the project by its labels
            layout.directory.mkdir(parents=True, exist_ok=True)  # holds no compose file: none is read
            compose.down(compose.Project(layout.project, (), layout.directory), volumes=True)

    # ------------------------------------------------------------ compose files

    def _user_compose(self) -> tuple[Path | None, list[str]]:
        """The environment's own compose file (backing services) and its service names."""
        if not self.env.compose_file:
            return None, []
        path = (self.config.root / self.env.compose_file).resolve()
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise RunnerError(f"environments.{self.env.name}.compose: cannot read {path}: {e}") from e
        return path, sorted((data.get("services") or {}).keys())

    def _project(self, layout: Layout, secrets: Mapping[str, str] | None = None) -> compose.Project:
        """The compose project; `secrets` carries the installed tasks' secret values for an `up`."""
        user, _ = self._user_compose()
        files = (user, compose_file.path(layout)) if user else (compose_file.path(layout),)
        return compose.Project(
            layout.project, files, user.parent if user else self.config.root, secrets or {}
        )

    def _write(self, layout: Layout, slots: Sequence[SlotSpec]) -> bool:
        _, user_services = self._user_compose()
        rendered = compose_file.render_compose(
            self.config,
            self.env,
            layout,
            slots,
            docker_client.labels("environment"),
            user_services,
            self.owner,
        )
        text = yaml.safe_dump(rendered, sort_keys=False)
        return local_router.write_atomic(compose_file.path(layout), text)


def _members(spec: SlotSpec) -> list[str]:
    """The compose services of one slot: one for a plain slot, the task's for a task slot."""
    if spec.task is not None:
        return ecs_compose.members(spec.service.name, spec.slot, spec.task)
    return [slot_service(spec.service.name, spec.slot)]


def _listener(project: str, labels: Mapping[str, str], ports: tuple[tuple[str, int], ...]) -> Listener:
    return Listener(project, labels, ports, f"docker compose -p {project} down -v")


def _unit(name: str, state: docker_containers.ContainerState) -> Unit:
    return Unit(name, state.status, state.labels, state.exit_code, state.health)
