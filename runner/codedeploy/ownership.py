"""Which project owns an environment on the engine; every other project is refused (issue 17.4).

Two copies of one project (a second clone, a `git worktree`) share `app:`, so they name the
same compose projects and usually the same ports, while each keeps its own state. The owner
is recorded where every copy sees it, on the engine: labels on each unit the platform runs
(each container of the compose project), carrying the owner's state directory (its
identity: RUNNER_HOME, else <project>/.runner) and its project directory (named in
messages). Not on the network:
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

from runner.codedeploy.platform import Listener, Platform
from runner.core.config import Environment, PipelineConfig
from runner.errors import UsageError
from runner.store import Store

OWNER_HOME = "runner.owner.home"
OWNER_PROJECT = "runner.owner.project"
ANY_ADDRESS = ("", "0.0.0.0", "::")


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
    """The owner the first labelled unit of an environment names (they all agree)."""
    for found in labels:
        home = found.get(OWNER_HOME)
        if home:
            return Owner(home, found.get(OWNER_PROJECT) or home)
    return None


def check(
    config: PipelineConfig,
    store: Store,
    env: Environment,
    platform: Platform,
    *,
    force: bool = False,
    ports: bool = True,
) -> Owner | None:
    """Before the platform changes anything: refuse (EnvironmentOwned) when another project owns
    the environment or (with ports) the router holding its ports. With force, return the other
    owner instead. One cheap look at the platform (two when our router is not running)."""
    mine = this_project(config, store)
    presence = platform.presence()
    owner = recorded(presence.labels)
    if owner is not None and owner.home != mine.home:
        if force:
            return owner
        where = f"{env.name}: {platform.kind} {platform.project} belongs to the project in {owner.project}"
        raise EnvironmentOwned(where, _how_to_proceed(config, env, owner), owner)
    if ports and not presence.router_running:
        _check_ports(config, env, platform, mine)
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


def _check_ports(config: PipelineConfig, env: Environment, platform: Platform, mine: Owner) -> None:
    """A router of another environment publishing our ports: say whose, not a platform error."""
    wanted = {env.port, env.test_port}
    for listener in platform.listeners():
        if listener.project == platform.project:
            continue
        for address, port in listener.ports:
            if port in wanted and (address in ANY_ADDRESS or env.host in (address, *ANY_ADDRESS)):
                owner = recorded([listener.labels])
                where = f"{env.name}: port {port} is held by the router of {listener.project}"
                raise EnvironmentOwned(where, _free_the_port(config, env, listener, owner, mine), owner)


def _free_the_port(
    config: PipelineConfig, env: Environment, listener: Listener, owner: Owner | None, mine: Owner
) -> str:
    other_env = listener.labels.get("runner.environment", "?")
    choose = f"give this copy other ports in {config.path.resolve()}"
    remove = f"or remove it with `{listener.remove_hint}`"
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
