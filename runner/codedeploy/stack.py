"""An environment on the engine: its compose project, router and slot containers (up, remove, down)."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import yaml

from runner.adapters import compose, docker_engine
from runner.codedeploy import ecs_slots, images, ownership, router
from runner.codedeploy.control import TrafficControl
from runner.codedeploy.ecs_compose import SlotTask, target_member
from runner.codedeploy.environment import (
    ROUTER,
    Layout,
    SlotSpec,
    allocate,
    choose_subnet,
    other,
    render_compose,
    slot_service,
)
from runner.codedeploy.nginx_config import render_nginx
from runner.errors import EngineError, RunnerError
from runner.spec.config import Environment, PipelineConfig, Service
from runner.store import Store
from runner.store.deployments import (
    EnvState,
    NetworkRecord,
    env_states,
    get_network,
    put_env_state,
    put_network,
    unfinished_deployments,
    update_deployment,
)

Say = Callable[[str], None]
DRAIN_S = 1.0  # in-flight requests on a slot that lost its traffic finish before it is stopped
LOG_TAIL = 20
MAX_ACCESS_LOG = 64 * 1024 * 1024


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
        }


def env_dir(store: Store, environment: str) -> Path:
    return store.path.parent / "envs" / environment


def layout_for(
    config: PipelineConfig, store: Store, env: Environment, check: bool = False, avoid: tuple[str, ...] = ()
) -> Layout:
    """The environment's layout. With check (before its network is created), adopt the subnet of an
    existing network of the project, or choose one that no other network uses (and not `avoid`)."""
    project = f"{config.app}-{env.name}"
    network = f"{project}_default"
    record = get_network(store, env.name)
    ours = record is not None and record.project == project
    subnet = record.subnet if record is not None and ours else ""
    if not ours or check or avoid:
        existing = None if avoid else docker_engine.network_subnet(network)
        if existing:
            subnet = existing
        else:
            taken = [*docker_engine.network_subnets(exclude=network), *avoid]
            if not subnet or avoid or _overlaps(subnet, taken):
                subnet = choose_subnet(project, taken)
    addresses = allocate(
        record.addresses if record is not None and ours else {}, [s.name for s in config.services]
    )
    updated = NetworkRecord(env.name, project, subnet, addresses)
    if updated != record:
        put_network(store, updated)
    return Layout(config.app, env.name, env_dir(store, env.name), subnet, addresses)


def _overlaps(subnet: str, taken: list[str]) -> bool:
    mine = IPv4Network(subnet)
    return any(mine.overlaps(IPv4Network(t, strict=False)) for t in taken if ":" not in t)


def user_compose(config: PipelineConfig, env: Environment) -> tuple[Path | None, list[str]]:
    """The environment's own compose file (backing services) and its service names."""
    if not env.compose_file:
        return None, []
    path = (config.root / env.compose_file).resolve()
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as e:
        raise RunnerError(f"environments.{env.name}.compose: cannot read {path}: {e}") from e
    return path, sorted((data.get("services") or {}).keys())


def project_of(
    config: PipelineConfig, env: Environment, layout: Layout, environment: Mapping[str, str] | None = None
) -> compose.Project:
    """The compose project; `environment` carries the installed tasks' secrets for an `up`."""
    user, _ = user_compose(config, env)
    files = (user, layout.compose_file) if user else (layout.compose_file,)
    return compose.Project(layout.project, files, user.parent if user else config.root, environment or {})


def _secrets(config: PipelineConfig, layout: Layout, states: Mapping[str, EnvState]) -> dict[str, str]:
    return ecs_slots.compose_environment(config, ecs_slots.installed(config, layout.directory, states))


def slot_specs(
    config: PipelineConfig, states: Mapping[str, EnvState], env_dir: Path | None = None
) -> list[SlotSpec]:
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


def write_compose(
    config: PipelineConfig, store: Store, env: Environment, layout: Layout, states: Mapping[str, EnvState]
) -> bool:
    _, user_services = user_compose(config, env)
    rendered = render_compose(
        config,
        env,
        layout,
        slot_specs(config, states, layout.directory),
        docker_engine.labels("environment"),
        user_services,
        ownership.this_project(config, store).labels(),
    )
    return router.write_atomic(layout.compose_file, yaml.safe_dump(rendered, sort_keys=False))


def live_slots(
    config: PipelineConfig, states: Mapping[str, EnvState], env_dir: Path | None = None
) -> list[str]:
    """Compose services of the slots that take traffic (live weights > 0, or the test listener)."""
    names = []
    for service in config.services:
        state = states.get(service.name)
        if state is None:
            continue
        for slot in ("blue", "green"):
            wanted = state.weights.get(slot, 0) > 0 or state.test_slot == slot or state.live_slot == slot
            image = state.image(slot)
            if wanted and image and service.ecs and env_dir:
                names += ecs_slots.slot_members(env_dir, service.name, slot, image.id)
            elif wanted and image:
                names.append(slot_service(service.name, slot))
    return names


def ensure_up_locked(
    config: PipelineConfig,
    store: Store,
    env: Environment,
    say: Say,
    subject: str,
    avoid: tuple[str, ...] = (),
) -> UpResult:
    """Bring the environment to what the store says (router, live slots, backing services)."""
    router_up = docker_engine.container_running(f"{config.app}-{env.name}-{ROUTER}")
    layout = layout_for(config, store, env, check=not router_up, avoid=avoid)
    router.prepare_dirs(layout)
    if layout.access_log.exists() and layout.access_log.stat().st_size > MAX_ACCESS_LOG:
        layout.access_log.write_bytes(b"")  # nginx appends (O_APPEND): truncation is safe
    control = TrafficControl(store, layout, [s.name for s in config.services], subject)
    states = _usable_states(config, store, env, say)
    control.publish()
    compose_changed = write_compose(config, store, env, layout, states)
    fresh = router_up and router.sees_our_files(layout, env)
    if router_up and not fresh:
        say(f"{env.name}: the running router does not see {layout.router_dir}: recreating it")
    tasks = ecs_slots.installed(config, layout.directory, states)
    text = render_nginx(layout, config.services, ecs_slots.ports(tasks))
    change = router.apply_config(layout, text, config.router_image, running=fresh)
    if change.reloaded:
        say(
            f"{env.name}: router config changed (topology): checked and reloaded in {change.reload_ms:.0f} ms"
        )
        store.event("router.reload", env.name, reload_ms=change.reload_ms)
    project = project_of(config, env, layout, ecs_slots.compose_environment(config, tasks))
    wanted = live_slots(config, states, layout.directory)
    _, backing = user_compose(config, env)
    try:
        started = _start(
            project, layout, wanted, backing, compose_changed or change.changed, router_up and not fresh
        )
    except EngineError as e:
        if "overlaps" not in str(e) or avoid:
            raise
        # Another network took the subnet between our check and compose's create: choose again.
        say(f"{env.name}: subnet {layout.subnet} was taken meanwhile; choosing another")
        return ensure_up_locked(config, store, env, say, subject, (layout.subnet,))
    router.wait_ready(env)
    host = router.probe_host(env)
    return UpResult(
        env.name,
        layout.project,
        layout.subnet,
        f"http://{host}:{env.port}",
        f"http://{host}:{env.test_port}",
        tuple(started),
        change.changed,
        change.reloaded,
        change.reload_ms,
    )


def prepare_locked(
    config: PipelineConfig, store: Store, env: Environment, say: Say, subject: str
) -> tuple[Layout, UpResult]:
    """Before changing an environment: refuse another project's, repair interrupted deployments,
    bring it up, stop expired warm slots. The caller holds the environment's lock."""
    ownership.check(config, store, env)
    recover_interrupted(config, store, env, layout_for(config, store, env), say, subject)
    up = ensure_up_locked(config, store, env, say, subject)
    layout = layout_for(config, store, env)
    reap(config, store, env, layout, say, subject)
    return layout, up


def _start(
    project: compose.Project,
    layout: Layout,
    wanted: list[str],
    backing: list[str],
    changed: bool,
    stale: bool,
) -> list[str]:
    running = {
        name for name, state in docker_engine.project_containers(layout.project).items() if state.running
    }
    missing = [name for name in [ROUTER, *wanted, *backing] if name not in running]
    if not missing and not changed and not stale:
        return []
    if wanted or backing:
        compose.up_all(project, [*backing, *wanted])
    compose.up(project, [ROUTER], recreate="force" if stale else "auto", remove_orphans=True)
    return [*missing, ROUTER] if stale and ROUTER not in missing else missing


def _usable_states(config: PipelineConfig, store: Store, env: Environment, say: Say) -> dict[str, EnvState]:
    """Slot states whose images still exist (a removed image cannot be started again)."""
    names = {s.name for s in config.services}
    states = {}
    for name, state in env_states(store, env.name).items():
        if name not in names:
            continue
        for slot in ("blue", "green"):
            image = state.image(slot)
            if image and docker_engine.image(image.id) is None:
                say(f"{env.name}: {name} {slot} image {image.tag} is gone from the engine; slot forgotten")
                state = put_env_state(store, state.with_image(slot, None))
        states[name] = state
    return states


def start_slot(
    config: PipelineConfig, env: Environment, layout: Layout, store: Store, service: Service, slot: str
) -> None:
    """(Re)create one slot's containers from the image (and task) the store assigns it."""
    states = env_states(store, env.name)
    write_compose(config, store, env, layout, states)
    names = ecs_slots.slot_members(layout.directory, service.name, slot) if service.ecs else []
    project = project_of(config, env, layout, _secrets(config, layout, states))
    compose.up(project, names or [slot_service(service.name, slot)], recreate="force")


def refresh_router(config: PipelineConfig, store: Store, env: Environment, layout: Layout, say: Say) -> None:
    """After a task definition is installed: its appspec ContainerPort may be a new upstream port
    (a topology change, so a checked reload; an unchanged config is not reloaded)."""
    tasks = ecs_slots.installed(config, layout.directory, env_states(store, env.name))
    text = render_nginx(layout, config.services, ecs_slots.ports(tasks))
    change = router.apply_config(layout, text, config.router_image, running=True)
    if change.reloaded:
        say(f"  router: a task's container port changed the upstreams; reloaded in {change.reload_ms:.0f} ms")


def remove_slot(
    config: PipelineConfig, env: Environment, layout: Layout, service: Service, slot: str
) -> None:
    name = slot_service(service.name, slot)
    names = ecs_slots.slot_members(layout.directory, service.name, slot) if service.ecs else [name]
    if docker_engine.container_state(layout.container(name)) is not None:
        compose.remove(project_of(config, env, layout), names)
    ecs_slots.forget(layout.directory, service.name, slot)


def wait_healthy(
    env: Environment, layout: Layout, service: Service, slot: str, say: Say, task: SlotTask | None = None
) -> float:
    """Poll the slot's health path through the router (and, for a task, its containers' health
    checks and essential containers); seconds it took, or Unhealthy with its logs."""
    started = time.monotonic()
    deadline = started + service.health_timeout_s
    own = target_member(service.name, slot, task) if task else slot_service(service.name, slot)
    container = layout.container(own)
    last = "no answer yet"
    while time.monotonic() < deadline:
        status, body = router.slot_health(env, service, slot)
        waiting, failed = _task_readiness(layout, service, slot, task)
        if failed:
            raise Unhealthy(_unhealthy(container, failed, say))
        if status == 200 and not waiting:
            return time.monotonic() - started
        last = f"{status} {body.strip()[:120]}" if status else body.strip()[:160]
        last += f"; waiting for health checks: {waiting}" if waiting else ""
        state = docker_engine.container_state(container)
        if state is None or state.status in ("exited", "dead"):
            code = f" with code {state.exit_code}" if state else ""
            raise Unhealthy(_unhealthy(container, f"exited{code} before answering GET {service.health}", say))
        time.sleep(0.2)
    why = f"did not answer GET {service.health} with 200 within {service.health_timeout_s:g}s (last: {last})"
    raise Unhealthy(_unhealthy(container, why, say))


def _task_readiness(layout: Layout, service: Service, slot: str, task: SlotTask | None) -> tuple[str, str]:
    return ecs_slots.readiness(layout.container, service.name, slot, task) if task else ("", "")


def _unhealthy(container: str, why: str, say: Say) -> str:
    logs = docker_engine.container_logs(container, tail=LOG_TAIL).rstrip()
    say(f"  target {container} failed to become healthy: {why}")
    say(f"  last {LOG_TAIL} log lines of {container}:" if logs else f"  {container} wrote no log lines")
    for line in logs.splitlines():
        say(f"    | {line}")
    tail = " | ".join(logs.splitlines()[-5:]) if logs else "(no log lines)"
    return f"target {container} failed to become healthy: {why}; last log lines: {tail}"


def reap(
    config: PipelineConfig, store: Store, env: Environment, layout: Layout, say: Say, subject: str
) -> None:
    """Stop old slots whose termination wait has passed (their deployment's process may be gone)."""
    control = TrafficControl(store, layout, [s.name for s in config.services], subject)
    for service in config.services:
        state = control.state(service.name)
        if state.warm_until and state.warm_until <= time.time() and state.live_slot:
            remove_slot(config, env, layout, service, other(state.live_slot))
            control.update(service.name, warm_until=None)
            say(
                f"{env.name}: {service.name} {other(state.live_slot)} slot terminated (termination wait over)"
            )


def recover_interrupted(
    config: PipelineConfig, store: Store, env: Environment, layout: Layout, say: Say, subject: str
) -> None:
    """Deployments whose runner died: traffic back to their live slot, replacement removed, Failed."""
    control = TrafficControl(store, layout, [s.name for s in config.services], subject)
    for deployment in unfinished_deployments(store, env.name):
        if deployment.id == subject:
            continue
        state = control.state(deployment.service)
        live = state.live_slot
        control.update(deployment.service, force=True, weights={live: 100} if live else {}, test_slot=live)
        if deployment.to_slot and deployment.to_slot != live:
            try:
                remove_slot(config, env, layout, config.service(deployment.service), deployment.to_slot)
            except (EngineError, RunnerError) as e:
                say(f"  could not remove {deployment.to_slot}: {e}")
        reason = f"the runner (pid {deployment.pid}) ended during the deployment; traffic restored to {live}"
        update_deployment(store, deployment.id, status="Failed", reason=reason, ended=time.time())
        store.event("deploy.interrupted", deployment.id, reason=reason)
        say(f"{env.name}: deployment {deployment.id} was interrupted: recorded as Failed")


def down(config: PipelineConfig, store: Store, env: Environment, say: Say, force: bool = False) -> None:
    """Remove the environment from the engine; another project's only with force (a takeover)."""
    other = ownership.check(config, store, env, force=force, ports=False)
    layout = layout_for(config, store, env)
    if layout.compose_file.exists():
        compose.down(project_of(config, env, layout), volumes=True)
    else:  # not brought up from this runner home: compose finds the project by its labels
        layout.directory.mkdir(parents=True, exist_ok=True)  # holds no compose file: none is read
        compose.down(compose.Project(layout.project, (), layout.directory), volumes=True)
    control = TrafficControl(store, layout, [s.name for s in config.services], f"down:{env.name}")
    for service in config.services:
        if control.state(service.name).warm_until:
            control.update(service.name, warm_until=None)
    taken = f", taken over from the project in {other.project}" if other else ""
    say(f"{env.name}: down ({layout.project}){taken}")
