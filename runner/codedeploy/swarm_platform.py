"""An environment on Docker Swarm: a stack of services on the swarm whose manager `engine:` names.

Per service a blue and a green Swarm service (`<app>-<env>_<service>-<slot>`, N replicas spread
over the nodes, endpoint mode dnsrr: this kernel has no IPVS, so no VIPs), the router as a
service on the manager publishing the live and test ports in host mode (on every interface of
the manager: Swarm cannot bind one address), all on one attachable overlay network that hooks
join. The router's files live in two volumes on the manager and travel through the engine API
only (a one-shot container while it is down, exec while it runs), never bind mounts of our
state directory: the manager may be another machine. Slots run an image by id or digest, which
is copied to every node that lacks it first (a node would try to pull a tag).

Swarm schedules and reschedules; runner states what should run and never creates, joins or
leaves a swarm.
"""

from __future__ import annotations

import ipaddress
import secrets as tokens
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from runner.adapters.docker import client as docker_client
from runner.adapters.docker import services as swarm
from runner.adapters.docker import transfer
from runner.adapters.docker.remote import Endpoint
from runner.codedeploy.environment import (
    CONFIG_DIR,
    LOG_DIR,
    ROUTER,
    Layout,
    SlotSpec,
    env_dir,
    slot_env,
    slot_service,
)
from runner.codedeploy.network_record import free_subnet, recorded, settle
from runner.codedeploy.nginx_config import ROUTER_JS
from runner.codedeploy.platform import ConfigChange, Listener, LogSource, Presence, Unit
from runner.core.config import Environment, PipelineConfig, Service
from runner.core.engines import Engine, named
from runner.core.image_ref import ImageRef
from runner.errors import EngineError, RunnerError
from runner.store import Store

MAX_ACCESS_LOG = 64 * 1024 * 1024
PLACE_TIMEOUT_S = 120.0  # a slot's tasks all running (image copies to nodes come before)
ROUTER_TIMEOUT_S = 60.0


def endpoint_of(engine: Engine) -> Endpoint:
    return Endpoint(engine.url, engine.tls_ca, engine.tls_cert, engine.tls_key)


class SwarmPlatform:
    """One environment as a Swarm stack (implements platform.Platform)."""

    kind = "swarm stack"
    resolves_names = True  # slots' tasks come and go: the router reaches them by name

    def __init__(
        self, config: PipelineConfig, store: Store, env: Environment, owner: Mapping[str, str]
    ) -> None:
        self.config = config
        self.store = store
        self.env = env
        self.owner = dict(owner)
        self.engine = named(config.engines, env.engine)
        self.manager = endpoint_of(self.engine)
        self.directory = env_dir(store.path.parent, env.name)
        self._router: str | None = None  # the router task's container on the manager, found once
        self._unserved: tuple[str, ...] = ()  # ready nodes that got no image copy (no engine reaches them)
        self.role = swarm.role(self.manager)
        if not self.role.manager:
            where = self.engine.url or "the default engine"
            raise RunnerError(
                f"environment {env.name}: engine {self.engine.name} ({where}) is not a swarm manager "
                f"(swarm: {self.role.state}); runner never creates, joins or leaves a swarm: "
                "run `docker swarm init` there, or name a manager's engine"
            )

    @property
    def project(self) -> str:
        return f"{self.config.app}-{self.env.name}"

    def service_name(self, name: str) -> str:
        return f"{self.project}_{name}"

    @property
    def network(self) -> str:
        return f"{self.project}_default"

    def _volume(self, what: str) -> str:
        return f"{self.project}_{what}"

    def _labels(self, **extra: str) -> dict[str, str]:
        return {
            **docker_client.labels("environment"),
            "runner.app": self.config.app,
            "runner.environment": self.env.name,
            swarm.STACK_LABEL: self.project,
            **self.owner,
            **extra,
        }

    # ------------------------------------------------------------ addressing

    def layout(self, *, fresh: bool = False, avoid: tuple[str, ...] = ()) -> Layout:
        """The overlay network's subnet (kept when it exists); its upper half holds the tasks'
        addresses, so no task has one of the fixed slot addresses the alarms look up."""
        record = recorded(self.store, self.env.name, self.project)
        subnet = record.subnet if record else ""
        existing = swarm.network_subnet(self.manager, self.network)
        if existing:
            subnet = existing
        elif not subnet or fresh or avoid:
            subnet = free_subnet(self.project, subnet, swarm.subnets(self.manager), avoid)
        return settle(self.store, self.config, self.env.name, self.project, self.directory, record, subnet)

    # ------------------------------------------------------------ what runs

    def _states(self) -> dict[str, swarm.ServiceState]:
        found = swarm.states(self.manager, {swarm.STACK_LABEL: self.project})
        prefix = f"{self.project}_"
        return {name.removeprefix(prefix): s for name, s in found.items()}

    def presence(self) -> Presence:
        states = self._states()
        router = states.get(ROUTER)
        return Presence(tuple(s.labels for s in states.values()), router is not None and router.running > 0)

    def listeners(self) -> tuple[Listener, ...]:
        found = swarm.published(self.manager, {docker_client.KIND: ROUTER})
        where = f"docker -H {self.engine.url} " if self.engine.url else "docker "
        return tuple(
            Listener(
                labels.get(swarm.STACK_LABEL, name),
                labels,
                tuple(("0.0.0.0", port) for port in ports),
                f"{where}stack rm {labels.get(swarm.STACK_LABEL, name)}",
            )
            for name, labels, ports in found
        )

    def units(self) -> dict[str, Unit]:
        return {name: _unit(name, s) for name, s in self._states().items()}

    def unit(self, name: str) -> Unit | None:
        found = swarm.state(self.manager, self.service_name(name))
        return _unit(name, found) if found is not None else None

    def logs(self, name: str, tail: int) -> str:
        return swarm.logs(self.manager, self.service_name(name), tail)

    def container_name(self, name: str) -> str:
        return self.service_name(name)

    def image_present(self, image: ImageRef) -> bool:
        if image.repo_digest:
            return True  # every node pulls it by digest
        return swarm.has_image(Endpoint(), image.id)

    def hook_network(self) -> str | None:
        return self.network if swarm.network_subnet(self.manager, self.network) else None

    # ------------------------------------------------------------ the router

    def _router_container(self, refresh: bool = False) -> str | None:
        if self._router is None or refresh:
            self._router = swarm.local_container(self.manager, self.service_name(ROUTER))
        return self._router

    def router_running(self) -> bool:
        found = swarm.state(self.manager, self.service_name(ROUTER))
        return found is not None and found.running > 0 and self._router_container(refresh=True) is not None

    def _identity(self, layout: Layout) -> str:
        """A token the router serves: proves the router answering on the ports reads our volume."""
        path = layout.router_dir / "id"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(tokens.token_hex(16))
        return path.read_text().strip()

    def prepare_router(self, layout: Layout) -> None:
        self._identity(layout)
        container = self._router_container()
        if container is not None:
            log = f"{LOG_DIR}/access.log"
            script = f'[ "$(stat -c %s {log} 2>/dev/null || echo 0)" -le {MAX_ACCESS_LOG} ] || : > {log}'
            self._exec(["sh", "-c", script])

    def router_current(self, layout: Layout) -> bool:
        from runner.codedeploy import router
        from runner.codedeploy.nginx_config import IDENTITY

        status, body = router.get(self.env, self.env.test_port, IDENTITY, timeout_s=2.0)
        return status == 200 and body.strip() == self._identity(layout)

    def _exec(self, command: list[str]) -> tuple[int, str]:
        container = self._router_container()
        if container is None:
            raise EngineError(f"the router of {self.project} runs no container on {self.manager.shown()}")
        try:
            code, output = swarm.exec_in(self.manager, container, command)
        except EngineError:  # its task was replaced since: find the new one once
            container = self._router_container(refresh=True)
            if container is None:
                raise
            code, output = swarm.exec_in(self.manager, container, command)
        return code, output.decode(errors="replace")

    def _offline(self, files: Mapping[str, bytes], command: list[str]) -> tuple[int, str]:
        """A one-shot router container on the manager with the router's volumes (created when missing)."""
        return swarm.with_volumes(
            self.manager,
            self._router_image(),
            command,
            [(self._volume("router"), CONFIG_DIR), (self._volume("router-logs"), LOG_DIR)],
            docker_client.labels("router-check"),
            {CONFIG_DIR: files},
        )

    def apply_router_config(self, layout: Layout, text: str, running: bool) -> ConfigChange:
        conf = f"{CONFIG_DIR}/nginx.conf"
        files = {
            "nginx.conf.new": text.encode(),
            "router.js": ROUTER_JS.encode(),
            "id": self._identity(layout).encode(),
        }
        check = f"nginx -t -q -c {conf}.new"
        if not running:
            script = f"{check} && mv -f {conf}.new {conf} && chmod 755 {CONFIG_DIR}"
            code, output = self._offline(files, ["sh", "-c", script])
            if code != 0:
                raise RunnerError(
                    f"router config for {layout.project} rejected by nginx -t: {output.strip()[-800:]}"
                )
            return ConfigChange(True, False)
        code, current = self._exec(["cat", conf])
        if code == 0 and current == text:
            return ConfigChange(False, False)
        container = self._router_container()
        assert container is not None
        swarm.put_files(self.manager, container, CONFIG_DIR, files)
        code, output = self._exec(["sh", "-c", f"{check} && mv -f {conf}.new {conf}"])
        if code != 0:
            raise RunnerError(
                f"router config for {layout.project} rejected by nginx -t: {output.strip()[-800:]}"
            )
        started = time.monotonic()
        code, output = self._exec(["nginx", "-c", conf, "-s", "reload"])
        if code != 0:
            raise RunnerError(f"router of {layout.project}: nginx -s reload failed: {output.strip()[-400:]}")
        return ConfigChange(True, True, round((time.monotonic() - started) * 1000, 1))

    def publish_state(self, text: str) -> None:
        """Written in place by a rename (njs reads it on every request: never a half-written file)."""
        target = f"{CONFIG_DIR}/state.json"
        script = 'printf "%s" "$1" > "$2.$$" && chmod 644 "$2.$$" && mv -f "$2.$$" "$2"'
        if self._router_container() is not None:
            code, output = self._exec(["sh", "-c", script, "sh", text, target])
        else:
            code, output = self._offline({}, ["sh", "-c", script, "sh", text, target])
        if code != 0:
            raise EngineError(f"router state of {self.project}: {output.strip()[-300:]}")

    def access_log(self) -> LogSource:
        return _RemoteLog(self)

    # ------------------------------------------------------------ slots

    def _router_image(self) -> str:
        """The router image by id: a node pulls a tag before every task start."""
        image = self.config.router_image
        local = swarm.image_id(self.manager, image)
        if local is None:
            raise RunnerError(
                f"no router image {image} on {self.manager.shown()}: run `runner images bootstrap`"
            )
        return local

    def _router_spec(self) -> swarm.ServiceSpec:
        return swarm.ServiceSpec(
            name=self.service_name(ROUTER),
            image=self._router_image(),
            replicas=1,
            network=self.network,
            aliases=(ROUTER,),
            labels=self._labels(**{docker_client.KIND: ROUTER}),
            env={},
            command=("nginx", "-c", f"{CONFIG_DIR}/nginx.conf", "-g", "daemon off;"),
            constraints=(f"node.id=={self.role.node_id}",),  # the manager we reach: its volumes, its ports
            spread=False,
            ports=((self.env.port, 80), (self.env.test_port, 81)),
            mounts=((self._volume("router"), CONFIG_DIR), (self._volume("router-logs"), LOG_DIR)),
            stop_grace_s=3.0,
        )

    def _slot_spec(self, spec: SlotSpec) -> swarm.ServiceSpec:
        name = slot_service(spec.service.name, spec.slot)
        labels = self._labels(
            **{
                docker_client.KIND: "slot",
                "runner.service": spec.service.name,
                "runner.slot": spec.slot,
                "runner.image": spec.tag,
            }
        )
        return swarm.ServiceSpec(
            name=self.service_name(name),
            image=spec.repo_digest or spec.image_id,
            replicas=spec.service.replicas,
            network=self.network,
            aliases=(name,),
            labels=labels,
            env=slot_env(self.config, self.env, spec),
        )

    def _network(self, layout: Layout) -> None:
        network = ipaddress.ip_network(layout.subnet)
        upper = str(list(network.subnets(new_prefix=network.prefixlen + 1))[1])
        labels = {**docker_client.labels("environment"), "runner.app": self.config.app}
        labels |= {"runner.environment": self.env.name, swarm.STACK_LABEL: self.project}
        swarm.ensure_network(self.manager, self.network, layout.subnet, upper, labels)

    def _distribute(self, spec: SlotSpec) -> None:
        """Copy the slot's image to every node engine named under engines: that lacks it."""
        if spec.repo_digest:
            return
        ready = {n.id: n for n in swarm.nodes(self.manager) if n.ready}
        wanted = set(ready)
        for engine in self.config.engines:
            endpoint = endpoint_of(engine)
            try:
                node = swarm.role(endpoint).node_id
            except EngineError:
                continue  # an unreachable engine is no node we can serve
            if node in wanted:
                wanted.discard(node)
                if not swarm.has_image(endpoint, spec.image_id):
                    transfer.copy_image(Endpoint(), spec.image_id, endpoint)
        # Nodes no engines: entry reaches: their tasks start only where the image is already.
        self._unserved = tuple(f"{ready[n].hostname} ({ready[n].address})" for n in sorted(wanted))

    def _wait_running(self, names: Sequence[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        waiting = list(names)
        last: dict[str, swarm.ServiceState | None] = {}
        while waiting:
            for name in list(waiting):
                found = swarm.state(self.manager, self.service_name(name))
                last[name] = found
                if found is not None and found.running >= found.desired:
                    waiting.remove(name)
            if not waiting:
                return
            if time.monotonic() > deadline:
                shown = []
                for name in waiting:
                    s = last.get(name)
                    counts = f"{s.running}/{s.desired} running" if s else "absent"
                    error = f" (last task error: {s.failed})" if s and s.failed else ""
                    shown.append(f"{self.service_name(name)} {counts}{error}")
                hint = ""
                if self._unserved:
                    hint = (
                        f"; no engines: entry reaches node(s) {', '.join(self._unserved)}, so the image "
                        "was not copied there: name them under engines: or set registry:"
                    )
                raise RunnerError(f"{'; '.join(shown)} after {timeout_s:g}s{hint}")
            time.sleep(0.3)

    def bring_up(
        self,
        layout: Layout,
        slots: Sequence[SlotSpec],
        wanted: Sequence[SlotSpec],
        secrets: Mapping[str, str],
        changed: bool,
        stale_router: bool,
    ) -> tuple[str, ...]:
        self._network(layout)
        states = self._states()
        started = []
        for spec in wanted:
            name = slot_service(spec.service.name, spec.slot)
            self._distribute(spec)
            current = states.get(name)
            if swarm.apply(self.manager, self._slot_spec(spec)) or current is None or current.running == 0:
                started.append(name)
        backing = self._backing(layout)
        missing = [name for name in backing if name not in states or not states[name].running]
        if missing:
            self._deploy_backing(layout, backing)
            started += missing
        router = states.get(ROUTER)
        if (
            swarm.apply(self.manager, self._router_spec(), force=stale_router)
            or router is None
            or not router.running
        ):
            started.append(ROUTER)
        self._wait_running([*started], max(PLACE_TIMEOUT_S, ROUTER_TIMEOUT_S))
        self._router_container(refresh=True)
        return tuple(started)

    def place(
        self, layout: Layout, slots: Sequence[SlotSpec], slot: SlotSpec, secrets: Mapping[str, str]
    ) -> None:
        self._network(layout)
        self._distribute(slot)
        swarm.apply(self.manager, self._slot_spec(slot), force=True)
        timeout = max(PLACE_TIMEOUT_S, slot.service.health_timeout_s)
        self._wait_running([slot_service(slot.service.name, slot.slot)], timeout)

    def _backing(self, layout: Layout) -> list[str]:
        """The services of the environment's own compose file (backing services), by name."""
        if not self.env.compose_file:
            return []
        data = self._user_compose()[1]
        return sorted((data.get("services") or {}).keys())

    def _user_compose(self) -> tuple[Path, dict[str, Any]]:
        path = (self.config.root / str(self.env.compose_file)).resolve()
        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as e:
            raise RunnerError(f"environments.{self.env.name}.compose: cannot read {path}: {e}") from e
        return path, data

    def _deploy_backing(self, layout: Layout, names: Sequence[str]) -> None:
        """`docker stack deploy` of the user's file into our stack, with an override that puts the
        owner's labels on each of its services and reaches them by DNS round robin; they join the
        stack's network as `default`."""
        path, data = self._user_compose()
        labels = {**self._labels(), docker_client.KIND: "backing"}
        override = {
            "version": str(data.get("version") or "3.8"),
            # dnsrr: a VIP needs IPVS, which this kind of kernel lacks (and Swarm cannot know)
            "services": {name: {"deploy": {"labels": labels, "endpoint_mode": "dnsrr"}} for name in names},
        }
        extra = layout.directory / "stack-labels.yml"
        extra.parent.mkdir(parents=True, exist_ok=True)
        extra.write_text(yaml.safe_dump(override, sort_keys=False))
        swarm.stack_deploy(self.manager, self.project, [str(path), str(extra)])

    def remove(self, layout: Layout, service: Service, slot: str) -> None:
        """Scaled to 0: the service stays (its spec, its history), its tasks stop."""
        swarm.scale(self.manager, self.service_name(slot_service(service.name, slot)), 0)

    def down(self, layout: Layout) -> None:
        for name in self._states():
            swarm.remove(self.manager, self.service_name(name))
        self._router = None
        swarm.remove_network(self.manager, self.network)
        for what in ("router", "router-logs"):
            swarm.remove_volume(self.manager, self._volume(what))


class _RemoteLog:
    """The router's access log read through exec on the manager, from its end when opened."""

    def __init__(self, platform: SwarmPlatform) -> None:
        self.platform = platform
        self.offset = self._size()
        self.pending = b""

    def _size(self) -> int:
        try:
            code, output = self.platform._exec(
                ["sh", "-c", f"stat -c %s {LOG_DIR}/access.log 2>/dev/null || echo 0"]
            )
            return int(output.strip() or 0) if code == 0 else 0
        except (EngineError, ValueError):
            return 0

    def read(self) -> list[str]:
        script = (
            f'f={LOG_DIR}/access.log; s=$(stat -c %s "$f" 2>/dev/null || echo 0); echo "$s"; '
            f'[ "$s" -gt "$1" ] && tail -c +$(($1 + 1)) "$f" | head -c $(($s - $1)); true'
        )
        try:
            container = self.platform._router_container()
            if container is None:
                return []
            _, raw = swarm.exec_in(
                self.platform.manager, container, ["sh", "-c", script, "sh", str(self.offset)]
            )
        except EngineError:
            return []
        head, _, data = raw.partition(b"\n")
        try:
            size = int(head.strip() or 0)
        except ValueError:
            return []
        if size < self.offset:  # emptied (it grew too large): from its start next time
            self.offset, self.pending = 0, b""
            return []
        self.offset += len(data)
        *lines, self.pending = (self.pending + data).split(b"\n")
        return [line.decode(errors="replace") for line in lines if line]


def _unit(name: str, state: swarm.ServiceState) -> Unit:
    if state.running > 0:
        status = "running"
    elif state.desired == 0:
        status = "scaled to 0"
    else:
        status = "failing" if state.failed else "starting"
    return Unit(
        name,
        status,
        state.labels,
        replicas=(state.running, state.desired),
        nodes=state.nodes,
    )
