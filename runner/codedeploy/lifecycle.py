"""One deployment through CodeDeploy's ECS blue/green lifecycle, recorded step by step.

BeforeInstall → Install (the idle slot gets the new image, must become healthy) →
AfterInstall → AllowTestTraffic (the test listener moves to it) → AfterAllowTestTraffic →
BeforeAllowTraffic → AllowTraffic (the traffic shift, watched by alarms) → AfterAllowTraffic
→ bake → Succeeded. A failure after BeforeInstall, an alarm or a stop request sends all
traffic back to the original slot and removes the replacement.
https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-steps-ecs.html
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from runner.adapters.docker import client as docker_client
from runner.codedeploy import ecs_slots, hooks, router, stack, strategies
from runner.codedeploy.alarms import Breach
from runner.codedeploy.appspec import LIFECYCLE
from runner.codedeploy.control import TrafficControl
from runner.codedeploy.ecs_inputs import EcsInputs
from runner.codedeploy.environment import Layout, other
from runner.codedeploy.hooks import HookPlan
from runner.codedeploy.model import (
    BAKING,
    CREATED,
    DEPLOYMENT_STOP_ON_ALARM,
    DEPLOYMENT_STOP_ON_REQUEST,
    FAILED,
    IN_PROGRESS,
    PENDING,
    SKIPPED,
    STANDARD,
    SUCCEEDED,
    DeploymentResult,
)
from runner.codedeploy.outcome import Outcome, abort, fail, stopped, succeed
from runner.codedeploy.watch import Watcher
from runner.core.config import Environment, PipelineConfig, Service
from runner.core.image_ref import ImageRef
from runner.errors import EngineError
from runner.store import Store
from runner.store.deployments import (
    DeploymentRecord,
    create_deployment,
    record_lifecycle,
    slot_image,
    stop_requested,
    update_deployment,
)

Say = Callable[[str], None]
STOP_POLL_S = 0.5


@dataclass(frozen=True, slots=True)
class Request:
    """Everything one deployment needs, resolved and validated before the lock is taken."""

    config: PipelineConfig
    env: Environment
    service: Service
    image: ImageRef
    traffic: strategies.TrafficConfig
    plans: dict[str, tuple[HookPlan, ...]]
    source_dir: Path
    deployment_id: str
    say: Say
    kind: str = STANDARD
    rollback_of: str | None = None
    execution_id: str | None = None
    commit: str = ""
    commit_time: float | None = None  # for the lead-time metric, from the image's labels (no git here)
    ecs: EcsInputs | None = None  # the task definition to install, for a service described by one


class Failure(Exception):
    def __init__(self, event: str, reason: str) -> None:
        super().__init__(reason)
        self.event = event
        self.reason = reason


class AlarmStop(Exception):
    def __init__(self, breach: Breach) -> None:
        super().__init__(breach.reason())
        self.breach = breach


class StopRequest(Exception):
    pass


@dataclass
class Run:
    """The state of a running deployment (internal, mutable)."""

    request: Request
    store: Store
    layout: Layout
    control: TrafficControl
    original: str | None
    replacement: str
    previous: ImageRef | None
    watcher: Watcher | None = None
    installed: bool = False
    last_stop_check: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return self.request.deployment_id

    @property
    def service(self) -> str:
        return self.request.service.name

    def outcome(self) -> Outcome:
        return Outcome(
            self.store,
            self.request.config,
            self.request.env,
            self.request.service,
            self.layout,
            self.control,
            self.id,
            self.request.image,
            self.previous,
            self.original,
            self.replacement,
            self.installed,
            self.request.say,
            self.timings,
        )


def run_locked(request: Request, store: Store) -> DeploymentResult:
    """Run the deployment (the caller holds the environment's lock)."""
    config, env = request.config, request.env
    layout, up = stack.prepare_locked(config, store, env, request.say, request.deployment_id)
    control = TrafficControl(store, layout, [s.name for s in config.services], request.deployment_id)
    state = control.state(request.service.name)
    original = state.live_slot if state.image(state.live_slot) else None
    run = Run(request, store, layout, control, original, other(original), state.image(original))
    _create(run, up.as_json())
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


def _create(run: Run, up: dict[str, object]) -> None:
    request, now = run.request, time.time()
    termination = strategies.scaled(request.env.termination_wait_s, request.config.time_scale)
    bake = strategies.scaled(request.env.bake_s, request.config.time_scale)
    record = DeploymentRecord(
        id=run.id,
        environment=request.env.name,
        service=run.service,
        image_tag=request.image.tag,
        image_id=request.image.id,
        image_repo_digest=request.image.repo_digest,
        strategy=request.traffic.name,
        status=CREATED,
        created=now,
        kind=request.kind,
        previous_tag=run.previous.tag if run.previous else None,
        previous_image_id=run.previous.id if run.previous else None,
        previous_repo_digest=run.previous.repo_digest if run.previous else None,
        rollback_of=request.rollback_of,
        from_slot=run.original,
        to_slot=run.replacement,
        commit_sha=request.commit or None,
        execution_id=request.execution_id,
        detail={
            "traffic": request.traffic.as_json(),
            "time_scale": request.config.time_scale,
            "termination_wait_s": round(termination, 3),
            "bake_s": round(bake, 3),
            "router": up,
            "alarms": [a.name for a in request.env.alarms],
            # change lead time (runner metrics) runs from here to the deployment's end
            "commit_time": request.commit_time,
        },
        pid=os.getpid(),
    )
    create_deployment(run.store, record)
    for idx, name in enumerate(LIFECYCLE):
        record_lifecycle(run.store, run.id, idx, name, PENDING)
    update_deployment(run.store, run.id, status=IN_PROGRESS, started=time.time())
    run.store.event(
        "deploy.started", run.id, environment=request.env.name, service=run.service, image=request.image.tag
    )
    shift = request.traffic.describe() if run.original else "first deployment: all traffic at once"
    request.say(
        f"deployment {run.id}: {run.service} {request.image} → {request.env.name} "
        f"(slot {run.original or '-'} → {run.replacement}); {shift}"
    )


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
        result = hooks.run(plan, _hook_env(run, event), lambda: _should_stop(run), run.request.say)
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


def _hook_env(run: Run, event: str) -> hooks.HookRun:
    request = run.request
    service, env = request.service, request.env
    route = "" if service.route_host else service.route.rstrip("/")
    host = router.probe_host(env)
    values = {
        "RUNNER_TEST_URL": f"http://router:81{route}",
        "RUNNER_LIVE_URL": f"http://router:80{route}",
        "RUNNER_ROUTE_HOST": service.route_host or "",
        "RUNNER_DEPLOYMENT_ID": run.id,
        "RUNNER_SERVICE": service.name,
        "RUNNER_ENVIRONMENT": env.name,
        "RUNNER_LIFECYCLE_EVENT": event,
        "RUNNER_NEW_IMAGE": request.image.tag,
        "RUNNER_OLD_IMAGE": run.previous.tag if run.previous else "",
    }
    host_values = values | {
        "RUNNER_TEST_URL": f"http://{host}:{env.test_port}{route}",
        "RUNNER_LIVE_URL": f"http://{host}:{env.port}{route}",
    }
    return hooks.HookRun(
        build_image=request.config.build_image,
        network=run.layout.network,
        service_dir=(request.source_dir / service.path).resolve(),
        env=values,
        host_env=host_values,
        timeout_s=request.config.hook_timeout_s,
        labels=docker_client.labels("hook", deployment=run.id),
    )


def _install(run: Run) -> str:
    slot, image = run.replacement, run.request.image
    run.control.update(run.service, force=True, **slot_image(slot, image))
    run.installed = True
    config, env, service, ecs = run.request.config, run.request.env, run.request.service, run.request.ecs
    if ecs is not None:  # the replacement task set: this task definition, registered for the slot
        ecs_slots.write(run.layout.directory, service.name, slot, image.id, ecs.text, ecs.fmt, ecs.task)
        stack.refresh_router(config, run.store, env, run.layout, run.request.say)
    stack.start_slot(config, env, run.layout, run.store, service, slot)
    try:
        took = stack.wait_healthy(env, run.layout, service, slot, run.request.say, ecs.task if ecs else None)
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

    return Watcher(
        run.request.env.alarms, run.layout, run.request.env, run.request.service, run.replacement, send_back
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
