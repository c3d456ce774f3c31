"""Networks on the Docker engine: a compose project's network, the subnets in use, and the
host's address on a network."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

from runner.adapters.docker.client import client, translate

if TYPE_CHECKING:
    import docker
    import docker.errors
else:
    from runner.adapters.docker.client import docker


@translate("find the environment network")
def compose_network(project: str, service: str = "router") -> str | None:
    """The network a compose project's service is attached to (its first one)."""
    found = client().containers.list(
        filters={"label": [f"com.docker.compose.project={project}", f"com.docker.compose.service={service}"]}
    )
    for container in found:
        networks = container.attrs.get("NetworkSettings", {}).get("Networks") or {}
        if networks:
            return str(next(iter(networks)))
    return None


@translate("list networks")
def network_subnets(exclude: str | None = None) -> list[str]:
    """Every IPv4/IPv6 subnet in use by a Docker network (except the one named `exclude`)."""
    subnets = []
    for network in client().networks.list():
        if network.name == exclude:
            continue
        config = (client().api.inspect_network(str(network.id)).get("IPAM") or {}).get("Config") or []
        subnets += [str(c["Subnet"]) for c in config if c.get("Subnet")]
    return subnets


@translate("inspect network")
def network_subnet(name: str) -> str | None:
    """The first IPv4 subnet of a network, or None when there is no such network."""
    try:
        config = (client().api.inspect_network(name).get("IPAM") or {}).get("Config") or []
    except docker.errors.NotFound:
        return None
    return next((str(c["Subnet"]) for c in config if c.get("Subnet") and ":" not in c["Subnet"]), None)


@translate("inspect network")
def network_gateway(name: str = "bridge") -> str | None:
    """The host's IPv4 address on a network (its gateway): where containers reach the host.
    The default bridge often records only its subnet; its gateway is then the first address."""
    try:
        config = (client().api.inspect_network(name).get("IPAM") or {}).get("Config") or []
    except docker.errors.NotFound:
        return None
    for entry in config:
        if entry.get("Gateway") and ":" not in entry["Gateway"]:
            return str(entry["Gateway"])
        if entry.get("Subnet") and ":" not in entry["Subnet"]:
            return str(next(ipaddress.ip_network(entry["Subnet"]).hosts()))
    return None
