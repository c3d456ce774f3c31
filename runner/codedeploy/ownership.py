"""Which project owns an environment on the engine; every other project is refused (issue 17.4).

Two copies of one project (a second clone, a `git worktree`) share `app:`, so they name the
same compose projects and usually the same ports, while each keeps its own state. The owner
is recorded where every copy sees it, on the engine: labels on each container of the compose
project, carrying the owner's state directory (its identity: RUNNER_HOME, else
<project>/.runner) and its project directory (named in messages). Not on the network:
compose 2.40 recreates a network whose labels change, and fails while slots are attached.

A refusal exits 2, like a configuration error: it is decided before anything runs, retrying
never helps, and what does is this copy's pipeline.yml (another `app:`, other ports),
`runner down ENV` in the owner, or an explicit `runner down ENV --force` here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.adapters.docker import client as docker_client
from runner.adapters.docker import containers as docker_containers
from runner.codedeploy.environment import ROUTER
from runner.core.config import Environment, PipelineConfig
from runner.errors import UsageError
from runner.store import Store

OWNER_HOME = "runner.owner.home"
OWNER_PROJECT = "runner.owner.project"
ANY_ADDRESS = ("", "0.0.0.0", "::")
COMPOSE_PROJECT = "com.docker.compose.project"


@dataclass(frozen=True, slots=True)
class Owner:
    home: str  # the state directory: what identifies the owner
    project: str  # the project directory (where pipeline.yml is)

    def labels(self) -> dict[str, str]:
        return {OWNER_HOME: self.home, OWNER_PROJECT: self.project}

    @property
    def missing(self) -> str | None:
        """Why the owner can no longer act on its environment (None while it can)."""
        if not Path(self.project).is_dir():
            return "that directory no longer exists"
        if not Path(self.home).is_dir():
            return f"its state directory {self.home} no longer exists"
        return None

    def as_json(self, mine: Owner) -> dict[str, Any]:
        return {
            "project": self.project,
            "home": self.home,
            "ours": self.home == mine.home,
            "gone": bool(self.missing),
        }


class EnvironmentOwned(UsageError):
    """Another project owns the environment's compose project, or the router holding its ports."""

    def __init__(self, where: str, how: str, owner: Owner | None) -> None:
        self.where = where  # whose it is
        self.owner = owner
        super().__init__(f"{where}: {how}")


def this_project(config: PipelineConfig, store: Store) -> Owner:
    return Owner(str(store.path.parent.resolve()), str(config.root.resolve()))


def recorded(labels: Iterable[Mapping[str, str]]) -> Owner | None:
    """The owner the first labelled container of a compose project names (they all agree)."""
    for found in labels:
        home = found.get(OWNER_HOME)
        if home:
            return Owner(home, found.get(OWNER_PROJECT) or home)
    return None


def check(
    config: PipelineConfig, store: Store, env: Environment, *, force: bool = False, ports: bool = True
) -> Owner | None:
    """Before any compose call: refuse (EnvironmentOwned) when another project owns the
    environment or (with ports) the router holding its ports. With force, return the other
    owner instead. One list call of the engine (two when our router is not running)."""
    mine = this_project(config, store)
    project = f"{config.app}-{env.name}"
    containers = docker_containers.container_summaries([f"{COMPOSE_PROJECT}={project}"])
    owner = recorded(c.labels for c in containers)
    if owner is not None and owner.home != mine.home:
        if force:
            return owner
        where = f"{env.name}: compose project {project} belongs to the project in {owner.project}"
        raise EnvironmentOwned(where, _how_to_proceed(config, env, owner), owner)
    router_up = any(c.running and c.labels.get(docker_client.KIND) == ROUTER for c in containers)
    if ports and not router_up:
        _check_ports(config, env, project, mine)
    return None


def _how_to_proceed(config: PipelineConfig, env: Environment, owner: Owner) -> str:
    pipeline = config.path.resolve()
    if owner.missing:
        return (
            f"{owner.missing}; `runner down {env.name} --force` here removes its containers so that this "
            f"copy can take it over, or give this copy another app: and other ports in {pipeline}"
        )
    return (
        f"give this copy another app: and other ports in {pipeline}, "
        f"or run `runner down {env.name}` in {owner.project} first"
    )


def _check_ports(config: PipelineConfig, env: Environment, project: str, mine: Owner) -> None:
    """A router of another compose project publishing our ports: say whose, not a compose error."""
    wanted = {env.port, env.test_port}
    routers = docker_containers.container_summaries([f"{docker_client.KIND}={ROUTER}"], include_stopped=False)
    for router in routers:
        holder = router.labels.get(COMPOSE_PROJECT, router.name)
        if holder == project:
            continue
        for address, port in router.ports:
            if port in wanted and (address in ANY_ADDRESS or env.host in (address, *ANY_ADDRESS)):
                owner = recorded([router.labels])
                other_env = router.labels.get("runner.environment", "?")
                where = f"{env.name}: port {port} is held by the router of {holder}"
                raise EnvironmentOwned(
                    where, _free_the_port(config, env, other_env, holder, owner, mine), owner
                )


def _free_the_port(
    config: PipelineConfig, env: Environment, other_env: str, holder: str, owner: Owner | None, mine: Owner
) -> str:
    choose = f"give this copy other ports in {config.path.resolve()}"
    remove = f"or remove it with `docker compose -p {holder} down -v`"
    if owner is None:
        return f"no owning project is recorded on it; {choose}, {remove}"
    if owner.home == mine.home:
        return (
            f"it is environment {other_env} of this project; "
            f"give {env.name} other ports, or run `runner down {other_env}`"
        )
    if owner.missing:
        return f"it belongs to the project in {owner.project}, but {owner.missing}; {choose}, {remove}"
    return (
        f"it belongs to the project in {owner.project}; {choose}, "
        f"or run `runner down {other_env}` in {owner.project} first"
    )
