"""The generated compose file of an environment: the router, one service per slot, the network; pure.

nginx refuses to start when an upstream name does not resolve, and a slot container may
not exist; so the network has a fixed subnet and every slot a fixed address (the Layout's),
which the router's upstreams name directly.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from runner.codedeploy import ecs_compose
from runner.codedeploy.environment import (
    CONFIG_DIR,
    LOG_DIR,
    ROUTER,
    Layout,
    SlotSpec,
    slot_env,
    slot_service,
)
from runner.core.config import Environment, PipelineConfig


def path(layout: Layout) -> Path:
    return layout.directory / "compose.yml"


def network_name(project: str) -> str:
    """The network compose creates as the project's `default` (the router and every slot are on it)."""
    return f"{project}_default"


def container_name(layout: Layout, compose_service: str) -> str:
    return f"{layout.project}-{compose_service}"


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
            "container_name": container_name(layout, name),
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
        "container_name": container_name(layout, ROUTER),
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
