"""Entry points other parts call: deploy, promote, ensure_up, down, live_images, hook_network (decision 7)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner.codedeploy import appspec, ecs_inputs, images, locks, ownership, stack, strategies
from runner.codedeploy.deployment_run import Request
from runner.codedeploy.environment import other
from runner.codedeploy.hooks import HookPlan, resolve
from runner.codedeploy.lifecycle import run_locked
from runner.codedeploy.model import STANDARD, DeploymentResult, new_deployment_id
from runner.core.config import Environment, PipelineConfig, Service
from runner.core.image_ref import ImageRef
from runner.errors import RunnerError, UsageError
from runner.store import Store
from runner.store.deployments import env_state, env_states

Say = Callable[[str], None]


def deploy(
    config: PipelineConfig,
    store: Store,
    environment: str,
    service: str,
    image: ImageRef,
    *,
    strategy: str | dict[str, Any] | None = None,
    execution_id: str | None = None,
    source_dir: Path | None = None,
    say: Say = print,
    wait_termination: bool = True,
) -> DeploymentResult:
    """Deploy one image of one service to an environment; blocks until the deployment ends.

    With wait_termination (default), also waits the scaled termination wait and then
    stops the original slot (a later runner command does it if this process is gone).
    """
    request = prepare(
        config, environment, service, image, strategy, source_dir, say, execution_id=execution_id, store=store
    )
    with locks.hold(store, request.env.name, request.deployment_id):
        result = run_locked(request, store)
    if wait_termination:
        finish_termination(config, store, request.env, request.service, result, say)
    return result


def prepare(
    config: PipelineConfig,
    environment: str,
    service: str,
    image: ImageRef,
    strategy: str | dict[str, Any] | None,
    source_dir: Path | None,
    say: Say,
    *,
    kind: str = STANDARD,
    rollback_of: str | None = None,
    execution_id: str | None = None,
    with_hooks: bool = True,
    deployment_id: str | None = None,
    store: Store | None = None,
) -> Request:
    """Resolve and validate everything before the lock is taken (bad input fails fast)."""
    env = config.environment(environment)
    svc = config.service(service)
    image = images.verify(image, config.registry)
    traffic = strategies.parse(strategy if strategy is not None else env.strategy, config.time_scale)
    source = (source_dir or config.root).resolve()
    ecs = _ecs_inputs(svc, image, source, store, env.name, say) if svc.ecs else None
    spec = (ecs.appspec if ecs else appspec.load_for(svc, source)) if with_hooks else None
    if spec is not None and ecs is None:
        for warning in spec.warnings:
            say(f"warning: {warning}")
    commit, commit_time = images.origin(image.id)
    return Request(
        config=config,
        env=env,
        service=svc,
        image=image,
        traffic=traffic,
        plans=plan_hooks(svc, spec, source, config.strict_hooks, say),
        source_dir=source,
        deployment_id=deployment_id or new_deployment_id(),
        say=say,
        kind=kind,
        rollback_of=rollback_of,
        execution_id=execution_id,
        commit=commit,
        commit_time=commit_time,
        ecs=ecs,
    )


def _ecs_inputs(
    svc: Service, image: ImageRef, source: Path, store: Store | None, environment: str, say: Say
) -> ecs_inputs.EcsInputs:
    """The service's taskdef and appspec: from the build's artifact when it made them, else the source."""
    artifacts = ecs_inputs.artifact_dir(store.path.parent, image) if store else None
    others = live_images(store, environment) if store else {}
    inputs = ecs_inputs.load(svc, image, source, artifacts, others, say)
    task = inputs.task.task
    say(
        f"{svc.name}: task definition {task.family} from {inputs.origin} ({len(task.containers)} "
        f"container(s), {task.network_mode}); listeners reach {inputs.task.container}:{inputs.task.port}"
    )
    return inputs


def plan_hooks(
    service: Service,
    spec: appspec.AppSpec | None,
    source_dir: Path,
    strict: bool = True,
    say: Say = print,
) -> dict[str, tuple[HookPlan, ...]]:
    """Each appspec hook's command; one that maps to none is skipped with a warning, as a Lambda
    that exists only in AWS would be, unless pipeline.yml says `strict_hooks: true`."""
    if spec is None:
        return {}
    plans: dict[str, tuple[HookPlan, ...]] = {}
    for event, name in spec.hooks:
        try:
            plan = resolve(service, event, name, source_dir)
        except UsageError as e:
            if strict:
                raise
            say(f"warning: {e}; skipped (strict_hooks: true makes this an error)")
            continue
        plans[event] = (*plans.get(event, ()), plan)
    return plans


def promote(
    config: PipelineConfig,
    store: Store,
    service: str,
    from_env: str,
    to_env: str,
    *,
    strategy: str | dict[str, Any] | None = None,
    say: Say = print,
    wait_termination: bool = True,
) -> DeploymentResult:
    """Deploy to `to_env` the exact image (id) that `from_env` runs live."""
    config.environment(from_env)
    config.service(service)
    live = live_images(store, from_env).get(service)
    if live is None:
        raise RunnerError(f"{service} has no live image in {from_env}: nothing to promote")
    say(f"promote {service}: {live} from {from_env} to {to_env}")
    return deploy(
        config, store, to_env, service, live, strategy=strategy, say=say, wait_termination=wait_termination
    )


def ensure_up(config: PipelineConfig, store: Store, environment: str, say: Say = print) -> stack.UpResult:
    """Bring an environment up (router, live slots, backing services); a no-op when it is."""
    env = config.environment(environment)
    holder = f"up:{os.getpid()}"
    with locks.hold(store, env.name, holder, wait_s=30.0):
        _, result = stack.prepare_locked(config, store, env, say, holder)
    return result


def down(
    config: PipelineConfig, store: Store, environment: str, say: Say = print, force: bool = False
) -> None:
    """Remove the environment's containers, network and volumes; the store keeps what was live.
    Another project's environment is refused (ownership.EnvironmentOwned) unless force."""
    env = config.environment(environment)
    with locks.hold(store, env.name, f"down:{os.getpid()}", wait_s=30.0):
        stack.down(config, store, env, say, force)


def hook_network(config: PipelineConfig, store: Store, environment: str) -> str | None:
    """The network hooks and the pipeline's tests join to reach the environment's router as
    `router` (None while the environment is down)."""
    env = config.environment(environment)
    return stack.platform_for(config, store, env).hook_network()


def live_images(store: Store, environment: str) -> dict[str, ImageRef]:
    """Service → the image its live slot runs."""
    found = {}
    for name, state in env_states(store, environment).items():
        image = state.image(state.live_slot)
        if image:
            found[name] = image
    return found


def finish_termination(
    config: PipelineConfig,
    store: Store,
    env: Environment,
    service: Service,
    result: DeploymentResult,
    say: Say,
) -> None:
    """Keep the original slot warm for the (scaled) termination wait, then stop it."""
    state = env_state(store, env.name, service.name)
    if not result.succeeded or not result.from_slot or not state.warm_until:
        return
    old = other(result.to_slot)
    say(f"  {service.name}-{old} stays warm {state.warm_until - time.time():.1f}s for an instant rollback")
    try:
        while time.time() < (state.warm_until or 0):
            time.sleep(min(0.2, max(0.0, (state.warm_until or 0) - time.time())))
            state = env_state(store, env.name, service.name)
            if state.last_deployment != result.id or state.live_slot != result.to_slot:
                return  # rolled back, or another deployment took over: not ours to stop
    except KeyboardInterrupt:
        say(f"  termination wait interrupted: the next runner command stops {service.name}-{old}")
        return
    try:
        with locks.hold(store, env.name, f"terminate:{result.id}"):
            platform = stack.platform_for(config, store, env)
            ownership.check(config, store, env, platform, ports=False)
            state = env_state(store, env.name, service.name)
            if state.last_deployment == result.id and state.live_slot == result.to_slot and state.warm_until:
                site = stack.open_site(config, store, env, say, result.id, platform)
                stack.remove_slot(site, service, old)
                site.control.update(service.name, warm_until=None)
                store.event("deploy.original_terminated", result.id, slot=old)
                say(f"  {service.name}-{old} terminated (termination wait over)")
    except locks.EnvironmentBusy:
        pass  # a deployment runs now; it (or the next command) reaps the old slot
    except ownership.EnvironmentOwned as e:
        say(f"  {service.name}-{old} left alone: {e.where}")  # taken over (`down --force`) meanwhile
