"""Where an environment runs: the `Platform` protocol and the records it takes and returns.

A platform is bound to one environment of one project. It owns everything that depends on
how the environment's parts run: its addressing (the `Layout`), bringing the router and the
slots up, placing and removing one slot, what runs now (`Unit`s), the network hooks and
the pipeline's tests join, the router's config and state and its access log. The rest of
codedeploy (lifecycle, traffic, alarms, rollback, status, ownership) speaks only this.

Two implementations: compose (`compose_platform.py`: containers of a compose project, the
router's files bind-mounted from our state directory) and Swarm (`swarm_platform.py`: a unit
is a service whose `replicas` and `nodes` say where its tasks run, `place` creates a slot's
service with N replicas and returns once they all run, and the router's state and access log
travel through the engine API: `publish_state`, `access_log`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from runner.codedeploy.environment import Layout, SlotSpec
from runner.core.config import Service
from runner.core.image_ref import ImageRef


@dataclass(frozen=True, slots=True)
class Unit:
    """One part of an environment as its platform runs it: the router, a slot (or one container
    of a slot's task), a backing service. A container on compose; a service on Swarm."""

    name: str  # within the environment: router, catalog-blue, db
    status: str  # the engine's word: created | running | restarting | exited | dead …
    labels: Mapping[str, str] = field(default_factory=dict)
    exit_code: int = 0
    health: str = ""  # starting | healthy | unhealthy, "" without a health check
    replicas: tuple[int, int] | None = None  # (running, desired) where the platform schedules replicas
    nodes: tuple[str, ...] = ()  # where its replicas run, on a platform of several machines

    @property
    def running(self) -> bool:
        return self.status == "running"

    @property
    def ended(self) -> bool:
        return self.status in ("exited", "dead")


@dataclass(frozen=True, slots=True)
class Presence:
    """What of the environment exists on the platform, from one cheap look (ownership's question)."""

    labels: tuple[Mapping[str, str], ...]  # of each unit, running or not
    router_running: bool


@dataclass(frozen=True, slots=True)
class Listener:
    """A running router of any project on the platform, and the host ports it publishes."""

    project: str  # the name the platform knows its environment by
    labels: Mapping[str, str]
    ports: tuple[tuple[str, int], ...]  # (host address, port)
    remove_hint: str  # the command that removes its environment without runner


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """What installing a router config did."""

    changed: bool
    reloaded: bool
    reload_ms: float = 0.0


class LogSource(Protocol):
    """The router's access log, read as it grows."""

    def read(self) -> list[str]:
        """The complete lines written since the last read (from where the log was when opened)."""
        ...


class Platform(Protocol):
    """One environment on the machinery that runs it."""

    @property
    def project(self) -> str:
        """The name the platform knows the environment by (compose project, Swarm stack)."""
        ...

    @property
    def kind(self) -> str:
        """What `project` is, for messages: `compose project`."""
        ...

    @property
    def resolves_names(self) -> bool:
        """Whether the router reaches slots by name (their tasks' addresses change) rather than
        at the layout's fixed addresses."""
        ...

    def layout(self, *, fresh: bool = False, avoid: tuple[str, ...] = ()) -> Layout:
        """The environment's addressing, recorded in the store. `fresh` (before its network is
        created): adopt what exists on the engine, or choose a free subnet (not one of `avoid`)."""
        ...

    def presence(self) -> Presence:
        """One cheap look at the environment's units (their owner labels, whether the router runs)."""
        ...

    def listeners(self) -> tuple[Listener, ...]:
        """The running routers of every project on the platform (who holds which port)."""
        ...

    def units(self) -> dict[str, Unit]:
        """Every unit of the environment, running or not, by name."""
        ...

    def unit(self, name: str) -> Unit | None:
        """One unit, or None when it does not exist."""
        ...

    def logs(self, name: str, tail: int) -> str:
        """The last lines a unit wrote ("" when it wrote none or does not exist)."""
        ...

    def container_name(self, name: str) -> str:
        """What the user sees a unit as on the engine (`docker ps`), for messages."""
        ...

    def image_present(self, image: ImageRef) -> bool:
        """Whether a slot of this image can be started again."""
        ...

    def hook_network(self) -> str | None:
        """The network hooks and the pipeline's tests join to reach `router` by name (None: down)."""
        ...

    def router_running(self) -> bool: ...

    def prepare_router(self, layout: Layout) -> None:
        """Make the router's files ready (its picker, its identity; a log that grew too large is emptied)."""
        ...

    def router_current(self, layout: Layout) -> bool:
        """Whether the running router reads the state this platform publishes (not a stale copy)."""
        ...

    def apply_router_config(self, layout: Layout, text: str, running: bool) -> ConfigChange:
        """Check and install nginx.conf; reload a running router gracefully when it changed."""
        ...

    def publish_state(self, text: str) -> None:
        """Hand the router its state file (weights, test slot, retry): read on every request."""
        ...

    def access_log(self) -> LogSource:
        """The router's access log, from its current end."""
        ...

    def bring_up(
        self,
        layout: Layout,
        slots: Sequence[SlotSpec],
        wanted: Sequence[SlotSpec],
        secrets: Mapping[str, str],
        changed: bool,
        stale_router: bool,
    ) -> tuple[str, ...]:
        """Run the router, the `wanted` slots (of all `slots` that have an image) and the backing
        services; what was started. `changed`: the router config changed; `stale_router`: the
        running router must be recreated. `secrets`: values the slots' tasks refer to."""
        ...

    def place(
        self, layout: Layout, slots: Sequence[SlotSpec], slot: SlotSpec, secrets: Mapping[str, str]
    ) -> None:
        """(Re)create one slot from what it runs now (one of `slots`, all that have an image)."""
        ...

    def remove(self, layout: Layout, service: Service, slot: str) -> None:
        """Stop and remove one slot (nothing when it does not run)."""
        ...

    def down(self, layout: Layout) -> None:
        """Remove the environment: every unit, its network and volumes."""
        ...
