"""`runner rollback`: back to the image that was live before, as a new deployment (kind ROLLBACK).

While the original slot is still warm (termination wait) the rollback is a flip of the
router state (well under a second); after that the previous image is deployed again,
all at once. During a running deployment of the service, the rollback asks it to stop
(DEPLOYMENT_STOP_ON_REQUEST): the deployment rolls itself back.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from runner.codedeploy import locks, ownership, router, stack
from runner.codedeploy.deployment import finish_termination, prepare
from runner.codedeploy.environment import other, slot_service
from runner.codedeploy.lifecycle import run_locked
from runner.codedeploy.model import ROLLBACK, DeploymentResult, new_deployment_id
from runner.codedeploy.outcome import record_rollback, result_of
from runner.core.config import PipelineConfig, Service
from runner.core.image_ref import ImageRef
from runner.errors import RunnerError, UsageError
from runner.store import Store
from runner.store.deployments import EnvState, get_deployment, list_deployments, request_stop

Say = Callable[[str], None]
STOP_WAIT_S = 600.0


def rollback(
    config: PipelineConfig, store: Store, environment: str, service: str | None = None, say: Say = print
) -> DeploymentResult:
    env = config.environment(environment)
    svc = config.service(service or _last_service(store, env.name))
    platform = stack.platform_for(config, store, env)
    ownership.check(config, store, env, platform, ports=False)
    active = locks.current(store, env.name)
    if active is not None and active.holder.startswith("d-"):
        running = get_deployment(store, active.holder)
        if running is not None and running.ended is None and running.service == svc.name:
            return _stop_running(store, running.id, say)
    deployment_id = new_deployment_id()
    with locks.hold(store, env.name, deployment_id):
        site = stack.open_site(config, store, env, say, deployment_id, platform)
        stack.recover_interrupted(site)
        state = site.control.state(svc.name)
        if not state.image(state.live_slot):
            raise RunnerError(f"{svc.name} has nothing live in {env.name}: nothing to roll back")
        if _warm(site, svc, state):
            return _flip(site, svc, state, deployment_id)
        target = _previous_image(store, state)
        say(f"rollback {svc.name} in {env.name}: the old slot is gone; deploying {target} again")
        request = prepare(
            config,
            env.name,
            svc.name,
            target,
            "AllAtOnce",
            None,
            say,
            kind=ROLLBACK,
            rollback_of=state.last_deployment,
            with_hooks=False,
            deployment_id=deployment_id,
            store=store,
        )
        result = run_locked(request, store)
    finish_termination(config, store, env, svc, result, say)
    return result


def _last_service(store: Store, environment: str) -> str:
    recent = list_deployments(store, environment, limit=1)
    if not recent:
        raise UsageError(f"nothing was deployed to {environment}: name the service to roll back")
    return recent[0].service


def _warm(site: stack.Site, service: Service, state: EnvState) -> bool:
    """The other slot still runs its image and answers its health check."""
    slot = other(state.live_slot)
    if not state.image(slot):
        return False
    unit = site.platform.unit(slot_service(service.name, slot))
    if unit is None or not unit.running:
        return False
    status, _ = router.slot_health(site.env, service, slot)
    return status == 200


def _flip(site: stack.Site, service: Service, state: EnvState, deployment_id: str) -> DeploymentResult:
    store, env, control, say = site.store, site.env, site.control, site.say
    bad_slot = state.live_slot
    warm = other(bad_slot)
    warm_image, bad_image = state.image(warm), state.image(bad_slot)
    assert warm_image is not None and bad_image is not None and bad_slot is not None
    started = time.time()
    flip = time.monotonic()
    control.update(
        service.name,
        force=True,
        weights={warm: 100},
        test_slot=warm,
        live_slot=warm,
        warm_until=None,
        last_deployment=deployment_id,
    )
    flip_ms = round((time.monotonic() - flip) * 1000, 1)
    record_rollback(
        store,
        env.name,
        service.name,
        image=warm_image,
        bad=bad_image,
        from_slot=bad_slot,
        to_slot=warm,
        rollback_of=state.last_deployment,
        reason=f"manual rollback (runner rollback): 100% back to the warm {warm} slot",
        started=started,
        detail={"flip_ms": flip_ms, "rollback_event": "MANUAL"},
        deployment_id=deployment_id,
    )
    say(f"rollback {deployment_id}: {service.name} 100% → {warm} ({warm_image.tag}) in {flip_ms:.0f} ms")
    time.sleep(stack.DRAIN_S)
    stack.remove_slot(site, service, bad_slot)
    say(f"  {service.name}-{bad_slot} ({bad_image.tag}) removed")
    return result_of(store, deployment_id, {"flip_ms": flip_ms})


def _previous_image(store: Store, state: EnvState) -> ImageRef:
    """The image that was live before the current one."""
    last = get_deployment(store, state.last_deployment) if state.last_deployment else None
    previous = last.previous_image if last is not None else None
    if previous is not None:
        return ImageRef(previous.tag or previous.id, previous.id, previous.repo_digest)
    found = state.image(other(state.live_slot))
    if found:
        return found
    raise RunnerError(f"no earlier image of {state.service} in {state.environment} to roll back to")


def _stop_running(store: Store, deployment_id: str, say: Say) -> DeploymentResult:
    """Ask the running deployment to stop and roll back; wait for it to end."""
    request_stop(store, deployment_id, "stopped by runner rollback")
    say(f"rollback: asked deployment {deployment_id} to stop and roll back")
    deadline = time.monotonic() + STOP_WAIT_S
    while time.monotonic() < deadline:
        record = get_deployment(store, deployment_id)
        if record is not None and record.ended is not None:
            rollback_id = record.detail.get("rollback_deployment")
            return result_of(store, rollback_id or deployment_id)
        time.sleep(0.1)
    raise RunnerError(f"deployment {deployment_id} did not stop within {STOP_WAIT_S:g}s")
