"""An environment's layout (compose project, fixed subnet and addresses) and its compose file: pure.

nginx refuses to start when an upstream name does not resolve, and a slot container may
not exist; so the environment's network has a fixed subnet (chosen per app-environment,
away from existing networks) and every slot a fixed address the upstreams name directly.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.codedeploy import ecs_compose
from runner.core.config import Environment, PipelineConfig, Service
from runner.errors import RunnerError

POOL = ipaddress.IPv4Network("10.213.0.0/16")
ROUTER_HOST = 2
FIRST_SLOT_HOST = 10
MAX_SERVICES = 58  # two addresses each, below the dynamic range (.128/25)
SLOTS = ("blue", "green")
ROUTER = "router"
CONFIG_DIR = "/etc/runner"  # the router's bind-mounted directory (config, njs, state)
LOG_DIR = "/var/log/runner"


@dataclass(frozen=True, slots=True)
class Layout:
    app: str
    environment: str
    directory: Path  # RUNNER_HOME/envs/<environment>
    subnet: str
    addresses: Mapping[str, int]  # service → index of its address pair

    @property
    def project(self) -> str:
        return f"{self.app}-{self.environment}"

    @property
    def network(self) -> str:
        return f"{self.project}_default"

    @property
    def compose_file(self) -> Path:
        return self.directory / "compose.yml"

    @property
    def router_dir(self) -> Path:
        return self.directory / "router"

    @property
    def log_dir(self) -> Path:
        return self.directory / "logs"

    @property
    def access_log(self) -> Path:
        return self.log_dir / "access.log"

    def host(self, number: int) -> str:
        return str(ipaddress.ip_network(self.subnet)[number])

    @property
    def router_ip(self) -> str:
        return self.host(ROUTER_HOST)

    def slot_ip(self, service: str, slot: str) -> str:
        return self.host(FIRST_SLOT_HOST + 2 * self.addresses[service] + SLOTS.index(slot))

    def slot_of_address(self) -> dict[str, str]:
        return {self.slot_ip(s, slot): slot for s in self.addresses for slot in SLOTS}

    def container(self, compose_service: str) -> str:
        return f"{self.project}-{compose_service}"


def slot_service(service: str, slot: str) -> str:
    """The compose service (and container suffix) of one slot: `catalog-blue`."""
    return f"{service}-{slot}"


def other(slot: str | None) -> str:
    return "green" if slot == "blue" else "blue"


def choose_subnet(key: str, taken: Iterable[str]) -> str:
    """A /24 of the pool, first by a hash of `key` (stable), skipping ranges already in use."""
    used = [ipaddress.IPv4Network(t, strict=False) for t in taken if ":" not in t]
    subnets = list(POOL.subnets(new_prefix=24))
    start = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % len(subnets)
    for i in range(len(subnets)):
        candidate = subnets[(start + i) % len(subnets)]
        if not any(candidate.overlaps(u) for u in used):
            return str(candidate)
    raise RunnerError(f"no free /24 left in {POOL} for the environment network of {key}")


def allocate(existing: Mapping[str, int], services: Sequence[str]) -> dict[str, int]:
    """Keep each service's address pair; give new services the lowest free pair."""
    kept = {name: index for name, index in existing.items() if name in services}
    for name in services:
        if name not in kept:
            kept[name] = min(set(range(MAX_SERVICES + 1)) - set(kept.values()))
    if max(kept.values(), default=0) >= MAX_SERVICES:
        raise RunnerError(f"an environment holds at most {MAX_SERVICES} services")
    return kept


@dataclass(frozen=True, slots=True)
class SlotSpec:
    """What one slot container runs."""

    service: Service
    slot: str
    tag: str
    image_id: str
    commit: str = ""
    repo_digest: str | None = None  # the slot runs it when the image was pushed to pipeline.yml's registry
    task: ecs_compose.SlotTask | None = None  # the task definition installed in the slot, if any


def slot_env(config: PipelineConfig, env: Environment, spec: SlotSpec) -> dict[str, str]:
    """Decision 3: the variables every slot gets, then the service's own `env:`."""
    return {
        "RUNNER_SERVICE": spec.service.name,
        "RUNNER_ENVIRONMENT": env.name,
        "RUNNER_SLOT": spec.slot,
        "RUNNER_IMAGE_TAG": spec.tag,
        "RUNNER_IMAGE_ID": spec.image_id,
        "RUNNER_COMMIT": spec.commit,
        "PORT": str(spec.service.port),
        **spec.service.env,
    }


def render_compose(
    config: PipelineConfig,
    env: Environment,
    layout: Layout,
    slots: Sequence[SlotSpec],
    labels: Mapping[str, str],
    user_services: Sequence[str] = (),
    owner: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """The generated compose file: the router, one service per slot that has an image, the network.
    The owner's labels go on every container, never on the network (compose recreates a network
    whose labels change, and fails while slots are attached to it)."""
    network_labels = {**labels, "runner.app": config.app, "runner.environment": env.name}
    base = {**network_labels, **(owner or {})}
    services: dict[str, Any] = {ROUTER: _router(config, env, layout, base)}
    for spec in slots:
        name = slot_service(spec.service.name, spec.slot)
        if spec.task is not None:
            services |= ecs_compose.render(spec.task, _place(config, env, layout, spec, base))
            continue
        services[name] = {
            "image": spec.repo_digest or spec.image_id,
            "container_name": layout.container(name),
            "pull_policy": "missing" if spec.repo_digest else "never",  # a digest names one content
            "init": True,
            "environment": _escape(slot_env(config, env, spec)),
            "labels": _escape(
                {
                    **base,
                    "runner.kind": "slot",
                    "runner.service": spec.service.name,
                    "runner.slot": spec.slot,
                    "runner.image": spec.tag,
                }
            ),
            "networks": {"default": {"ipv4_address": layout.slot_ip(spec.service.name, spec.slot)}},
            "stop_grace_period": "10s",
        }
    for name in user_services:  # backing services of the user's compose file: label them too
        services.setdefault(name, {"labels": _escape(base)})
    network = ipaddress.ip_network(layout.subnet)
    return {
        "name": layout.project,
        "services": services,
        "networks": {
            "default": {
                "labels": _escape(network_labels),
                "ipam": {
                    "config": [
                        {
                            "subnet": layout.subnet,
                            "gateway": str(network[1]),
                            # Dynamic addresses (hooks, backing services) stay above the fixed ones.
                            "ip_range": str(list(network.subnets(new_prefix=network.prefixlen + 1))[1]),
                        }
                    ]
                },
            }
        },
    }


def _place(
    config: PipelineConfig, env: Environment, layout: Layout, spec: SlotSpec, labels: Mapping[str, str]
) -> ecs_compose.SlotPlace:
    slot_labels = {
        **labels,
        "runner.kind": "slot",
        "runner.service": spec.service.name,
        "runner.slot": spec.slot,
        "runner.image": spec.tag,
    }
    runner_env = {k: v for k, v in slot_env(config, env, spec).items() if k != "PORT"}
    return ecs_compose.SlotPlace(
        spec.service.name,
        spec.slot,
        layout.slot_ip(spec.service.name, spec.slot),
        layout.project,
        slot_labels,
        runner_env,
        config.router_image,  # any image with `sleep` holds the task's network namespace
        "never" if config.router_image.startswith("runner/") else "missing",
    )


def _router(
    config: PipelineConfig, env: Environment, layout: Layout, labels: Mapping[str, str]
) -> dict[str, Any]:
    local = config.router_image.startswith("runner/")
    return {
        "image": config.router_image,
        "container_name": layout.container(ROUTER),
        "pull_policy": "never" if local else "missing",
        "init": True,
        "command": ["nginx", "-c", f"{CONFIG_DIR}/nginx.conf", "-g", "daemon off;"],
        "ports": [f"{env.host}:{env.port}:80", f"{env.host}:{env.test_port}:81"],
        "volumes": [f"{layout.router_dir}:{CONFIG_DIR}:ro", f"{layout.log_dir}:{LOG_DIR}"],
        "labels": _escape({**labels, "runner.kind": ROUTER}),
        "networks": {"default": {"ipv4_address": layout.router_ip}},
        "restart": "unless-stopped",
    }


def _escape(values: Mapping[str, str]) -> dict[str, str]:
    """Compose interpolates `$NAME` in its files: our values are literal."""
    return {k: str(v).replace("$", "$$") for k, v in values.items()}
