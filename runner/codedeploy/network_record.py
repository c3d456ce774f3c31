"""An environment's addressing as the store keeps it (its subnet and each service's address
pair), whichever platform runs it: compose and Swarm differ only in where the subnet in use
is read from."""

from __future__ import annotations

from ipaddress import IPv4Network
from pathlib import Path

from runner.codedeploy.environment import Layout, allocate, choose_subnet
from runner.core.config import PipelineConfig
from runner.store import Store
from runner.store.deployments import NetworkRecord, get_network, put_network


def recorded(store: Store, environment: str, project: str) -> NetworkRecord | None:
    """The environment's record when this project made it (another copy's is not ours to keep)."""
    record = get_network(store, environment)
    return record if record is not None and record.project == project else None


def free_subnet(project: str, subnet: str, taken: list[str], avoid: tuple[str, ...]) -> str:
    """`subnet` while it is set, not to be avoided and clear of every `taken` one; else a new one."""
    taken = [*taken, *avoid]
    if subnet and not avoid and not _overlaps(subnet, taken):
        return subnet
    return choose_subnet(project, taken)


def settle(
    store: Store,
    config: PipelineConfig,
    environment: str,
    project: str,
    directory: Path,
    record: NetworkRecord | None,
    subnet: str,
) -> Layout:
    """The layout on `subnet`, each service keeping its address pair (`record`: ours, from
    `recorded`); recorded when it changed."""
    addresses = allocate(record.addresses if record else {}, [s.name for s in config.services])
    updated = NetworkRecord(environment, project, subnet, addresses)
    if updated != record:
        put_network(store, updated)
    return Layout(config.app, environment, directory, subnet, addresses)


def _overlaps(subnet: str, taken: list[str]) -> bool:
    mine = IPv4Network(subnet)
    return any(mine.overlaps(IPv4Network(t, strict=False)) for t in taken if ":" not in t)
