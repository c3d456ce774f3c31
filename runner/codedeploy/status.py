"""`runner status`: per environment and service, slots, images, weights, health, last deployment."""

from __future__ import annotations

from typing import Any

from runner.adapters.processes import still_running
from runner.codedeploy import locks, ownership, router, stack
from runner.codedeploy.environment import ROUTER, SLOTS, slot_service
from runner.codedeploy.platform import Unit
from runner.core.config import Environment, PipelineConfig, Service
from runner.errors import RunnerError
from runner.store import Store
from runner.store import queue as trigger_queue
from runner.store.deployments import (
    EnvState,
    env_states,
    get_network,
    list_deployments,
    unfinished_deployments,
)


def status(config: PipelineConfig, store: Store, environment: str | None = None) -> dict[str, Any]:
    """The `runner status --json` object: environments, plus the trigger queue's waiting rows."""
    envs = [config.environment(environment)] if environment else list(config.environments)
    return {
        "app": config.app,
        "environments": [environment_status(config, store, env) for env in envs],
        "queue": [entry.as_json() for entry in trigger_queue.active(store)],  # as `runner hook status`
    }


def environment_status(config: PipelineConfig, store: Store, env: Environment) -> dict[str, Any]:
    error = None
    try:
        platform = stack.platform_for(config, store, env)
        project, units = platform.project, platform.units()
    except RunnerError as e:  # a swarm manager unreachable (or no manager): the other environments still show
        project, units, error = f"{config.app}-{env.name}", {}, str(e)
    mine = ownership.this_project(config, store)
    owner = ownership.recorded(u.labels for u in units.values())
    if owner is not None and owner.home != mine.home:
        units = {}  # another project's: none of them is ours, and its router answers for it
    router_state = units.get(ROUTER)
    router_up = router_state is not None and router_state.running
    network = get_network(store, env.name)
    lock = locks.current(store, env.name)
    states = env_states(store, env.name)
    host = router.probe_host(env)
    return {
        "name": env.name,
        "project": project,
        "live_url": f"http://{host}:{env.port}",
        "test_url": f"http://{host}:{env.test_port}",
        "subnet": network.subnet if network else None,
        "router": router_state.status if router_state else "absent",
        "error": error,  # why the platform could not be asked (None when it answered)
        # Who owns the environment on the platform (None: nothing of it runs, or it predates owners).
        "owner": owner.as_json(mine) if owner else None,
        "active": {"holder": lock.holder, "pid": lock.pid, "since": lock.acquired} if lock else None,
        # Deployments whose runner died: the next writing runner command repairs them.
        "interrupted": [
            d.id for d in unfinished_deployments(store, env.name) if not still_running(d.pid, d.created)
        ],
        "services": [
            _service_status(store, env, s, states.get(s.name), units, router_up) for s in config.services
        ],
    }


def _service_status(
    store: Store,
    env: Environment,
    service: Service,
    state: EnvState | None,
    units: dict[str, Unit],
    router_up: bool,
) -> dict[str, Any]:
    state = state or EnvState(env.name, service.name)
    slots: dict[str, dict[str, Any]] = {}
    for slot in SLOTS:
        image = state.image(slot)
        container = units.get(slot_service(service.name, slot))
        running = container is not None and container.running
        slots[slot] = {
            "image": image.as_json() if image else None,
            "container": container.status if container else "absent",
            "health": _health(env, service, slot, running, router_up),
        }
        if container is not None and container.replicas is not None:  # a platform of replicas (Swarm)
            slots[slot]["replicas"] = f"{container.replicas[0]}/{container.replicas[1]}"
            slots[slot]["nodes"] = list(container.nodes)
    live = state.image(state.live_slot)
    recent = list_deployments(store, env.name, service.name, limit=1)
    return {
        "service": service.name,
        "route": service.route,
        "live_slot": state.live_slot,
        "image": live.as_json() if live else None,
        "weights": state.weights,
        "test_slot": state.test_slot,
        "health": slots[state.live_slot]["health"] if state.live_slot else None,
        "warm_until": state.warm_until,
        "slots": slots,
        # running/desired tasks of the live slot and their nodes (Swarm; None on compose)
        "replicas": slots[state.live_slot].get("replicas") if state.live_slot else None,
        "nodes": slots[state.live_slot].get("nodes") if state.live_slot else None,
        "last_deployment": recent[0].summary() if recent else None,
    }


def _health(env: Environment, service: Service, slot: str, running: bool, router_up: bool) -> str:
    if not running:
        return "absent"
    if not router_up:
        return "unknown (router down)"
    code, body = router.slot_health(env, service, slot, timeout_s=2.0)
    return "healthy" if code == 200 else f"unhealthy ({code or body.strip()[:60]})"
