"""One deployment through CodeDeploy's ECS blue/green lifecycle, recorded step by step.

BeforeInstall → Install (the idle slot gets the new image, must become healthy) →
AfterInstall → AllowTestTraffic (the test listener moves to it) → AfterAllowTestTraffic →
BeforeAllowTraffic → AllowTraffic (the traffic shift, watched by alarms) → AfterAllowTraffic
→ bake → Succeeded. A failure after BeforeInstall, an alarm or a stop request sends all
traffic back to the original slot and removes the replacement.
https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-steps-ecs.html
"""

from __future__ import annotations

import time
from collections.abc import Callable

from runner.codedeploy import ecs_slots, hooks, stack, strategies
from runner.codedeploy.alarms import Breach
from runner.codedeploy.deployment_run import (
    AlarmStop,
    Failure,
    Request,
    Run,
    StopRequest,
    hook_run,
    record_created,
)
from runner.codedeploy.environment import other
from runner.codedeploy.hooks import HookPlan
from runner.codedeploy.model import (
    BAKING,
    DEPLOYMENT_STOP_ON_ALARM,
    DEPLOYMENT_STOP_ON_REQUEST,
    FAILED,
    IN_PROGRESS,
    SKIPPED,
    SUCCEEDED,
    DeploymentResult,
)
from runner.codedeploy.outcome import abort, fail, stopped, succeed
from runner.codedeploy.watch import Watcher
from runner.errors import EngineError
from runner.store import Store
from runner.store.deployments import record_lifecycle, slot_image, stop_requested, update_deployment

STOP_POLL_S = 0.5


def run_locked(request: Request, store: Store) -> DeploymentResult:
    """Run the deployment (the caller holds the environment's lock)."""
    site, up = stack.prepare_locked(request.config, store, request.env, request.say, request.deployment_id)
    control = site.control
    state = control.state(request.service.name)
    original = state.live_slot if state.image(state.live_slot) else None
    run = Run(request, site, original, other(original), state.image(original))
    record_created(run, up.as_json())
    try:
        _lifecycle(run)
        _stop_watching(run)
        control.retry_on(run.service, None)  # succeeded: the original slot retires
    except Failure as failure:
        return fail(run.outcome(), failure.event, failure.reason)
    except AlarmStop as alarm:
        assert run.watcher is not None
        run.timings["alarm_to_old_slot_ms"] = round(
            (run.watcher.reacted_at - run.watcher.breached_at) * 1000, 1
        )
        return stopped(run.outcome(), DEPLOYMENT_STOP_ON_ALARM, alarm.breach.reason(), alarm.breach.as_json())
    except StopRequest as stop:
        return stopped(run.outcome(), DEPLOYMENT_STOP_ON_REQUEST, str(stop), None)
    except BaseException as e:
        abort(run.outcome(), e)
        raise
    finally:
        if run.watcher is not None:
            run.watcher.stop()
    return succeed(run.outcome())


def _lifecycle(run: Run) -> None:
    _hooks(run, 0, "BeforeInstall")
    _step(run, 1, "Install", _install)
    _hooks(run, 2, "AfterInstall")
    _step(run, 3, "AllowTestTraffic", _allow_test_traffic)
    _hooks(run, 4, "AfterAllowTestTraffic")
    _hooks(run, 5, "BeforeAllowTraffic")
    run.watcher = _watcher(run)
    _step(run, 6, "AllowTraffic", _shift)
    _hooks(run, 7, "AfterAllowTraffic")
    _bake(run)


def _stop_watching(run: Run) -> None:
    """Stop the alarm watcher; an alarm that fired after the last check still stops the deployment."""
    if run.watcher is not None:
        run.watcher.stop()
        if run.watcher.breach is not None:
            raise AlarmStop(run.watcher.breach)


def _step(run: Run, idx: int, name: str, action: Callable[[Run], str]) -> None:
    started = time.time()
    record_lifecycle(run.store, run.id, idx, name, IN_PROGRESS, started)
    try:
        message = action(run)
    except (Failure, AlarmStop, StopRequest) as e:
        record_lifecycle(run.store, run.id, idx, name, FAILED, started, time.time(), str(e)[:2000])
        raise
    except EngineError as e:
        record_lifecycle(run.store, run.id, idx, name, FAILED, started, time.time(), str(e)[:2000])
        raise Failure(name, str(e)) from e
    record_lifecycle(run.store, run.id, idx, name, SUCCEEDED, started, time.time(), message)
    run.timings[name] = round(time.time() - started, 3)
    run.store.event("deploy.lifecycle", run.id, event=name, status=SUCCEEDED, message=message)


def _hooks(run: Run, idx: int, name: str) -> None:
    plans = run.request.plans.get(name, ())
    if not plans:
        record_lifecycle(run.store, run.id, idx, name, SKIPPED, message="no hook")
        return
    _step(run, idx, name, lambda r: _run_hooks(r, name, plans))


def _run_hooks(run: Run, event: str, plans: tuple[HookPlan, ...]) -> str:
    done = []
    for plan in plans:
        run.request.say(f"  {event}: hook {plan.name} ({plan.origin})")
        result = hooks.run(plan, hook_run(run, event), lambda: _should_stop(run), run.request.say)
        run.store.event(
            "deploy.hook",
            run.id,
            event=event,
            hook=plan.name,
            status=result.status,
            exit_code=result.exit_code,
            duration_s=round(result.duration_s, 3),
            output=list(result.output[-10:]),
        )
        if result.status != hooks.SUCCEEDED:
            _check(run)  # an alarm or a stop request explains the kill
            tail = " | ".join(result.output[-5:])
            raise Failure(event, f"{result.reason}" + (f": {tail}" if tail else ""))
        done.append(f"{plan.name} succeeded in {result.duration_s:.1f}s")
    return "; ".join(done)


def _install(run: Run) -> str:
    slot, image = run.replacement, run.request.image
    run.control.update(run.service, force=True, **slot_image(slot, image))
    run.installed = True
    service, ecs = run.request.service, run.request.ecs
    if ecs is not None:  # the replacement task set: this task definition, registered for the slot
        ecs_slots.write(run.layout.directory, service.name, slot, image.id, ecs.text, ecs.fmt, ecs.task)
        stack.refresh_router(run.site)
    stack.start_slot(run.site, service, slot)
    try:
        took = stack.wait_healthy(run.site, service, slot, ecs.task if ecs else None)
    except stack.Unhealthy as e:
        raise Failure("Install", str(e)) from e
    run.request.say(f"  Install: {service.name}-{slot} runs {image.tag}, healthy after {took:.1f}s")
    return f"{service.name}-{slot} healthy after {took:.1f}s"


def _allow_test_traffic(run: Run) -> str:
    run.control.update(run.service, test_slot=run.replacement)
    run.request.say(f"  AllowTestTraffic: test listener :{run.request.env.test_port} → {run.replacement}")
    return f"test listener → {run.replacement}"


def _watcher(run: Run) -> Watcher | None:
    if not run.original or not run.request.env.alarms:
        return None
    original = run.original

    def send_back(breach: Breach) -> None:
        run.control.freeze(run.service, weights={original: 100}, test_slot=original, live_slot=original)

    request = run.request
    log = run.site.platform.access_log()
    return Watcher(
        request.env.alarms, run.layout, request.env, request.service, run.replacement, send_back, log
    ).start()


def _shift(run: Run) -> str:
    steps = run.request.traffic.steps() if run.original else (strategies.Step(100, 0.0),)
    if run.original and run.request.env.retry_on_canary_failure:
        # From the first step to the end of bake, what the replacement fails on a GET or HEAD
        # is answered by the original slot (the alarm still counts the failure).
        run.control.retry_on(run.service, run.replacement)
    for step in steps:
        _check(run)
        weights = {run.replacement: step.percent}
        if run.original and step.percent < 100:
            weights[run.original] = 100 - step.percent
        run.control.update(run.service, weights=weights)
        wait = f", next step in {step.wait_s:g}s" if step.wait_s else ""
        run.request.say(f"  AllowTraffic: {step.percent}% → {run.replacement}{wait}")
        _wait(run, step.wait_s)
    _check(run)
    run.control.update(run.service, live_slot=run.replacement)
    return f"100% → {run.replacement} in {len(steps)} step(s)"


def _bake(run: Run) -> None:
    bake = strategies.scaled(run.request.env.bake_s, run.request.config.time_scale)
    if bake <= 0:
        return
    if run.original is None:
        # A first deployment has no original slot: no alarm is watched, nothing to roll back to.
        run.request.say("  Bake skipped: a first deployment has no original slot to roll back to")
        return
    update_deployment(run.store, run.id, status=BAKING)
    run.request.say(f"  Baking for {bake:g}s (alarms watched)")
    _wait(run, bake)


def _wait(run: Run, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while True:
        _check(run)
        left = deadline - time.monotonic()
        if left <= 0:
            return
        time.sleep(min(0.05, left))


def _should_stop(run: Run) -> bool:
    try:
        _check(run)
    except (AlarmStop, StopRequest):
        return True
    return False


def _check(run: Run) -> None:
    """Raise when an alarm fired or someone asked to stop the deployment."""
    if run.watcher is not None and run.watcher.breach is not None:
        raise AlarmStop(run.watcher.breach)
    now = time.monotonic()
    if now - run.last_stop_check >= STOP_POLL_S:
        run.last_stop_check = now
        reason = stop_requested(run.store, run.id)
        if reason:
            raise StopRequest(reason)
