"""An environment brought to what the store says and kept there: up, slots placed and removed,
interrupted deployments repaired, warm slots retired, down. Speaks to its platform only.

Each operation (a deployment, an `up`, a rollback, a repair) opens one `Site`: the platform,
the layout computed once, and one TrafficControl, which everything it does then shares.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.codedeploy import ecs_slots, images, ownership, router
from runner.codedeploy.compose_platform import ComposePlatform
from runner.codedeploy.control import TrafficControl
from runner.codedeploy.ecs_compose import SlotTask, target_member
from runner.codedeploy.environment import Layout, SlotSpec, other, slot_service
from runner.codedeploy.nginx_config import render_nginx
from runner.codedeploy.platform import Platform
from runner.core.config import Environment, PipelineConfig, Service
from runner.errors import EngineError, RunnerError
from runner.store import Store
from runner.store.deployments import (
    EnvState,
    env_states,
    put_env_state,
    unfinished_deployments,
    update_deployment,
)

Say = Callable[[str], None]
DRAIN_S = 1.0  # in-flight requests on a slot that lost its traffic finish before it is stopped
LOG_TAIL = 20


class Unhealthy(RunnerError):
    """A new slot did not answer its health path with 200 in time (the reason shows its logs)."""


@dataclass(frozen=True, slots=True)
class UpResult:
    environment: str
    project: str
    subnet: str
    live_url: str
    test_url: str
    started: tuple[str, ...] = ()
    config_changed: bool = False
    reloaded: bool = False
    reload_ms: float = 0.0
    services: dict[str, Any] = field(default_factory=dict)
    all_interfaces: bool = False  # Swarm publishes the ports on every interface of the manager
    ports: str = ""

    def as_json(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "project": self.project,
            "subnet": self.subnet,
            "live_url": self.live_url,
            "test_url": self.test_url,
            "started": list(self.started),
            "router_config_changed": self.config_changed,
            "router_reloaded": self.reloaded,
            "reload_ms": self.reload_ms,
            "all_interfaces": self.all_interfaces,
        }


@dataclass(frozen=True, slots=True)
class Site:
    """One environment as one operation sees it: where it runs, its layout, its traffic control."""

    config: PipelineConfig
    store: Store
    env: Environment
    platform: Platform
    layout: Layout
    control: TrafficControl
    say: Say


def platform_for(config: PipelineConfig, store: Store, env: Environment) -> Platform:
    """The platform the environment runs on: its `platform:` (compose unless swarm)."""
    owner = ownership.this_project(config, store).labels()
    if env.platform == "swarm":
        from runner.codedeploy.swarm_platform import SwarmPlatform  # only where a swarm environment is asked

        return SwarmPlatform(config, store, env, owner)
    return ComposePlatform(config, store, env, owner)


def open_site(
    config: PipelineConfig,
    store: Store,
    env: Environment,
    say: Say,
    subject: str,
    platform: Platform | None = None,
    fresh: bool = False,
) -> Site:
    """The environment's site for one operation; `subject` names it in traffic events."""
    platform = platform or platform_for(config, store, env)
    layout = platform.layout(fresh=fresh)
    services = [s.name for s in config.services]
    control = TrafficControl(store, env.name, services, subject, platform.publish_state)
    return Site(config, store, env, platform, layout, control, say)


def prepare_locked(
    config: PipelineConfig, store: Store, env: Environment, say: Say, subject: str
) -> tuple[Site, UpResult]:
    """Before changing an environment: refuse another project's, repair interrupted deployments,
    bring it up, stop expired warm slots. The caller holds the environment's lock."""
    platform = platform_for(config, store, env)
    ownership.check(config, store, env, platform)
    router_up = platform.router_running()
    site = open_site(config, store, env, say, subject, platform, fresh=not router_up)
    recover_interrupted(site)
    site, up = ensure_up_locked(site, router_up)
    reap(site)
    return site, up


def ensure_up_locked(site: Site, router_up: bool, avoid: tuple[str, ...] = ()) -> tuple[Site, UpResult]:
    """Bring the environment to what the store says (router, live slots, backing services)."""
    config, env, platform, layout = site.config, site.env, site.platform, site.layout
    platform.prepare_router(layout)
    states = _usable_states(site)
    site.control.publish()
    fresh = router_up and platform.router_current(layout)
    if router_up and not fresh:
        site.say(f"{env.name}: the running router does not see {layout.router_dir}: recreating it")
    specs = slot_specs(config, states, layout.directory)
    text = render_nginx(layout, config.services, ecs_slots.ports(_tasks(specs)), platform.resolves_names)
    change = platform.apply_router_config(layout, text, running=fresh)
    if change.reloaded:
        site.say(
            f"{env.name}: router config changed (topology): checked and reloaded in {change.reload_ms:.0f} ms"
        )
        site.store.event("router.reload", env.name, reload_ms=change.reload_ms)
    wanted = [spec for spec in specs if _wanted(states[spec.service.name], spec.slot)]
    try:
        started = platform.bring_up(
            layout, specs, wanted, _secrets(config, specs), change.changed, router_up and not fresh
        )
    except EngineError as e:
        if "overlaps" not in str(e) or avoid:
            raise
        # Another network took the subnet between our check and the platform's create: choose again.
        site.say(f"{env.name}: subnet {layout.subnet} was taken meanwhile; choosing another")
        again = dataclasses.replace(site, layout=platform.layout(avoid=(layout.subnet,)))
        return ensure_up_locked(again, router_up, (layout.subnet,))
    router.wait_ready(env)
    host = router.probe_host(env)
    return site, UpResult(
        env.name,
        layout.project,
        layout.subnet,
        f"http://{host}:{env.port}",
        f"http://{host}:{env.test_port}",
        started,
        change.changed,
        change.reloaded,
        change.reload_ms,
        all_interfaces=env.platform == "swarm",
        ports=f"{env.port} and {env.test_port}",
    )


def _usable_states(site: Site) -> dict[str, EnvState]:
    """Slot states whose images still exist (a removed image cannot be started again)."""
    names = {s.name for s in site.config.services}
    states = {}
    for name, state in env_states(site.store, site.env.name).items():
        if name not in names:
            continue
        for slot in ("blue", "green"):
            image = state.image(slot)
            if image and not site.platform.image_present(image):
                gone = f"{name} {slot} image {image.tag} is gone from the engine"
                site.say(f"{site.env.name}: {gone}; slot forgotten")
                state = put_env_state(site.store, state.with_image(slot, None))
        states[name] = state
    return states


def slot_specs(
    config: PipelineConfig, states: Mapping[str, EnvState], env_dir: Path | None = None
) -> list[SlotSpec]:
    """What every slot that has an image runs (with its task definition, read from `env_dir`)."""
    specs = []
    for service in config.services:
        state = states.get(service.name)
        for slot in ("blue", "green"):
            image = state.image(slot) if state else None
            if image:
                ecs = env_dir is not None and service.ecs is not None
                task = ecs_slots.read(env_dir, service.name, slot, image.id) if ecs and env_dir else None
                specs.append(
                    SlotSpec(
                        service,
                        slot,
                        image.tag,
                        image.id,
                        images.commit_of(image.id),
                        image.repo_digest,
                        task,
                    )
                )
    return specs


def _wanted(state: EnvState, slot: str) -> bool:
    """A slot that takes traffic (live weight > 0, the test listener) or is the live one."""
    return state.weights.get(slot, 0) > 0 or state.test_slot == slot or state.live_slot == slot


def _tasks(specs: list[SlotSpec]) -> list[tuple[str, str, SlotTask]]:
    return [(s.service.name, s.slot, s.task) for s in specs if s.task is not None]


def _secrets(config: PipelineConfig, specs: list[SlotSpec]) -> dict[str, str]:
    """The values the installed tasks' secrets refer to (never written into a file)."""
    return ecs_slots.compose_environment(config, _tasks(specs))


def start_slot(site: Site, service: Service, slot: str) -> None:
    """(Re)create one slot from the image (and task) the store assigns it."""
    specs = slot_specs(site.config, env_states(site.store, site.env.name), site.layout.directory)
    spec = next(s for s in specs if s.service.name == service.name and s.slot == slot)
    site.platform.place(site.layout, specs, spec, _secrets(site.config, specs))


def refresh_router(site: Site) -> None:
    """After a task definition is installed: its appspec ContainerPort may be a new upstream port
    (a topology change, so a checked reload; an unchanged config is not reloaded)."""
    tasks = ecs_slots.installed(site.config, site.layout.directory, env_states(site.store, site.env.name))
    text = render_nginx(
        site.layout, site.config.services, ecs_slots.ports(tasks), site.platform.resolves_names
    )
    change = site.platform.apply_router_config(site.layout, text, running=True)
    if change.reloaded:
        site.say(
            f"  router: a task's container port changed the upstreams; reloaded in {change.reload_ms:.0f} ms"
        )


def remove_slot(site: Site, service: Service, slot: str) -> None:
    site.platform.remove(site.layout, service, slot)
    ecs_slots.forget(site.layout.directory, service.name, slot)


def wait_healthy(site: Site, service: Service, slot: str, task: SlotTask | None = None) -> float:
    """Poll the slot's health path through the router (and, for a task, its containers' health
    checks and essential containers); seconds it took, or Unhealthy with its logs."""
    started = time.monotonic()
    deadline = started + service.health_timeout_s
    own = target_member(service.name, slot, task) if task else slot_service(service.name, slot)
    last = "no answer yet"
    while time.monotonic() < deadline:
        status, body = router.slot_health(site.env, service, slot)
        waiting, failed = (
            ecs_slots.readiness(site.platform.unit, service.name, slot, task) if task else ("", "")
        )
        if failed:
            raise Unhealthy(_unhealthy(site, own, failed))
        if status == 200 and not waiting:
            return time.monotonic() - started
        last = f"{status} {body.strip()[:120]}" if status else body.strip()[:160]
        last += f"; waiting for health checks: {waiting}" if waiting else ""
        unit = site.platform.unit(own)
        if unit is None or unit.ended:
            code = f" with code {unit.exit_code}" if unit else ""
            raise Unhealthy(_unhealthy(site, own, f"exited{code} before answering GET {service.health}"))
        time.sleep(0.2)
    why = f"did not answer GET {service.health} with 200 within {service.health_timeout_s:g}s (last: {last})"
    raise Unhealthy(_unhealthy(site, own, why))


def _unhealthy(site: Site, unit: str, why: str) -> str:
    logs = site.platform.logs(unit, LOG_TAIL).rstrip()
    container, say = site.platform.container_name(unit), site.say
    say(f"  target {container} failed to become healthy: {why}")
    say(f"  last {LOG_TAIL} log lines of {container}:" if logs else f"  {container} wrote no log lines")
    for line in logs.splitlines():
        say(f"    | {line}")
    tail = " | ".join(logs.splitlines()[-5:]) if logs else "(no log lines)"
    return f"target {container} failed to become healthy: {why}; last log lines: {tail}"


def reap(site: Site) -> None:
    """Stop old slots whose termination wait has passed (their deployment's process may be gone)."""
    for service in site.config.services:
        state = site.control.state(service.name)
        if state.warm_until and state.warm_until <= time.time() and state.live_slot:
            remove_slot(site, service, other(state.live_slot))
            site.control.update(service.name, warm_until=None)
            old = other(state.live_slot)
            site.say(f"{site.env.name}: {service.name} {old} slot terminated (termination wait over)")


def recover_interrupted(site: Site) -> None:
    """Deployments whose runner died: traffic back to their live slot, replacement removed, Failed."""
    control, store = site.control, site.store
    for deployment in unfinished_deployments(store, site.env.name):
        if deployment.id == control.subject:
            continue
        state = control.state(deployment.service)
        live = state.live_slot
        control.update(deployment.service, force=True, weights={live: 100} if live else {}, test_slot=live)
        if deployment.to_slot and deployment.to_slot != live:
            try:
                remove_slot(site, site.config.service(deployment.service), deployment.to_slot)
            except (EngineError, RunnerError) as e:
                site.say(f"  could not remove {deployment.to_slot}: {e}")
        reason = f"the runner (pid {deployment.pid}) ended during the deployment; traffic restored to {live}"
        update_deployment(store, deployment.id, status="Failed", reason=reason, ended=time.time())
        store.event("deploy.interrupted", deployment.id, reason=reason)
        site.say(f"{site.env.name}: deployment {deployment.id} was interrupted: recorded as Failed")


def repair_locked(config: PipelineConfig, store: Store, env: Environment, say: Say, subject: str) -> None:
    """Repair interrupted deployments only (no bring-up); the caller holds the environment's lock."""
    platform = platform_for(config, store, env)
    ownership.check(config, store, env, platform, ports=False)
    recover_interrupted(open_site(config, store, env, say, subject, platform))


def down(config: PipelineConfig, store: Store, env: Environment, say: Say, force: bool = False) -> None:
    """Remove the environment from the engine; another project's only with force (a takeover)."""
    platform = platform_for(config, store, env)
    taken_from = ownership.check(config, store, env, platform, force=force, ports=False)
    site = open_site(config, store, env, say, f"down:{env.name}", platform)
    platform.down(site.layout)
    for service in config.services:
        if site.control.state(service.name).warm_until:
            site.control.update(service.name, warm_until=None)
    taken = f", taken over from the project in {taken_from.project}" if taken_from else ""
    say(f"{env.name}: down ({site.layout.project}){taken}")
