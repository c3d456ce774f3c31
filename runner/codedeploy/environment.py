"""An environment's layout (project, fixed subnet and addresses) and what its slots run: pure records.

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


def env_dir(home: Path, environment: str) -> Path:
    """Where an environment's files live (the platform's, the router's, its task definitions)."""
    return home / "envs" / environment


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
