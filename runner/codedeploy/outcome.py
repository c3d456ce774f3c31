"""How a deployment ends: Succeeded, or Failed/Stopped with traffic restored and a ROLLBACK deployment.

As in ECS, a rollback is a new deployment with its own id that moves traffic back to
the original slot (CODEDEPLOY.md decision 5); a failure at BeforeInstall cannot roll
back because nothing moved.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from runner.codedeploy import stack, strategies
from runner.codedeploy.appspec import LIFECYCLE
from runner.codedeploy.control import TrafficControl
from runner.codedeploy.model import (
    DEPLOYMENT_FAILURE,
    FAILED,
    PENDING,
    ROLLBACK,
    SKIPPED,
    STOPPED,
    SUCCEEDED,
    DeploymentResult,
    new_deployment_id,
)
from runner.codedeploy.stack import Site
from runner.core.config import Environment, PipelineConfig, Service
from runner.core.image_ref import ImageRef
from runner.errors import RunnerError
from runner.store import Store
from runner.store.deployments import (
    DeploymentRecord,
    create_deployment,
    get_deployment,
    lifecycle_of,
    record_lifecycle,
    slot_image,
    update_deployment,
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What the end of a deployment needs to know."""

    site: Site
    service: Service
    deployment_id: str
    image: ImageRef
    previous: ImageRef | None
    original: str | None
    replacement: str
    installed: bool
    say: Callable[[str], None]
    timings: dict[str, float]

    @property
    def store(self) -> Store:
        return self.site.store

    @property
    def config(self) -> PipelineConfig:
        return self.site.config

    @property
    def env(self) -> Environment:
        return self.site.env

    @property
    def control(self) -> TrafficControl:
        return self.site.control


def succeed(o: Outcome) -> DeploymentResult:
    termination = strategies.scaled(o.env.termination_wait_s, o.config.time_scale)
    warm_until = time.time() + termination if o.original else None
    o.control.update(o.service.name, warm_until=warm_until, last_deployment=o.deployment_id)
    _finish(o, SUCCEEDED, "", {"warm_until": warm_until, "timings": o.timings})
    o.say(f"deployment {o.deployment_id}: {SUCCEEDED}")
    return result_of(o.store, o.deployment_id, o.timings)


def fail(o: Outcome, event: str, reason: str) -> DeploymentResult:
    o.say(f"deployment {o.deployment_id}: {FAILED} at {event}: {reason}")
    if event == "BeforeInstall":  # nothing moved yet: nothing to roll back
        _finish(o, FAILED, reason, {"failed_event": event})
        return result_of(o.store, o.deployment_id, o.timings)
    rollback_id = _roll_back(o, DEPLOYMENT_FAILURE, reason)
    _finish(o, FAILED, reason, {"failed_event": event, "rollback_deployment": rollback_id})
    return result_of(o.store, o.deployment_id, o.timings)


def stopped(o: Outcome, event: str, reason: str, alarm: dict[str, Any] | None) -> DeploymentResult:
    o.say(f"deployment {o.deployment_id}: {STOPPED} ({event}): {reason}")
    if alarm is not None:
        o.store.event("deploy.alarm", o.deployment_id, **alarm, reason=reason)
    rollback_id = _roll_back(o, event, reason)
    detail = {"rollback_event": event, "rollback_deployment": rollback_id, "alarm": alarm}
    _finish(o, STOPPED, reason, detail)
    return result_of(o.store, o.deployment_id, o.timings)


def abort(o: Outcome, error: BaseException) -> None:
    """Ctrl-C or an unexpected error: restore traffic, record the deployment, let the error go on."""
    interrupted = isinstance(error, KeyboardInterrupt)
    reason = "interrupted" if interrupted else f"{type(error).__name__}: {error}"
    try:
        rollback_id = _roll_back(o, DEPLOYMENT_FAILURE, reason)
    except Exception as e:  # the original error matters more; the next runner command repairs
        rollback_id = None
        o.say(f"could not restore traffic after {reason}: {e}")
    _finish(o, STOPPED if interrupted else FAILED, reason, {"rollback_deployment": rollback_id})


def _roll_back(o: Outcome, event: str, reason: str) -> str | None:
    """Traffic back to the original slot, the replacement removed; the ROLLBACK deployment's id."""
    started = time.time()
    flip = time.monotonic()
    original = o.original
    o.control.freeze(
        o.service.name,
        weights={original: 100} if original else {},
        test_slot=original,
        live_slot=original,
    )
    o.timings["rollback_flip_ms"] = round((time.monotonic() - flip) * 1000, 1)
    if o.installed:
        time.sleep(stack.DRAIN_S)
        stack.remove_slot(o.site, o.service, o.replacement)
        slot = o.replacement
        o.control.update(o.service.name, force=True, **slot_image(slot, None))
    if original is None or o.previous is None:
        o.say("  nothing to roll back to (no original slot): the replacement was removed")
        return None
    rollback_id = record_rollback(
        o.store,
        o.env.name,
        o.service.name,
        image=o.previous,
        bad=o.image,
        from_slot=o.replacement,
        to_slot=original,
        rollback_of=o.deployment_id,
        reason=f"{event}: {reason}",
        started=started,
        detail={"rollback_event": event, "flip_ms": o.timings["rollback_flip_ms"]},
    )
    o.say(f"  rolled back ({rollback_id}): 100% → {original} ({o.previous.tag}); {o.replacement} removed")
    return rollback_id


def record_rollback(
    store: Store,
    environment: str,
    service: str,
    *,
    image: ImageRef,
    bad: ImageRef,
    from_slot: str,
    to_slot: str,
    rollback_of: str | None,
    reason: str,
    started: float,
    detail: dict[str, Any],
    deployment_id: str | None = None,
) -> str:
    """A finished ROLLBACK deployment that moved traffic back to a warm slot."""
    rollback_id = deployment_id or new_deployment_id()
    create_deployment(
        store,
        DeploymentRecord(
            id=rollback_id,
            environment=environment,
            service=service,
            image_tag=image.tag,
            image_id=image.id,
            image_repo_digest=image.repo_digest,
            strategy="CodeDeployDefault.ECSAllAtOnce",
            status=SUCCEEDED,
            created=started,
            kind=ROLLBACK,
            previous_tag=bad.tag,
            previous_image_id=bad.id,
            previous_repo_digest=bad.repo_digest,
            rollback_of=rollback_of,
            from_slot=from_slot,
            to_slot=to_slot,
            reason=reason,
            detail=detail,
            started=started,
            ended=time.time(),
        ),
    )
    for idx, name in enumerate(LIFECYCLE):
        moved = name in ("AllowTestTraffic", "AllowTraffic")
        message = f"→ {to_slot} (warm)" if moved else "warm slot: nothing to do"
        record_lifecycle(
            store, rollback_id, idx, name, SUCCEEDED if moved else SKIPPED, started, time.time(), message
        )
    store.event("deploy.rollback", rollback_id, rollback_of=rollback_of, reason=reason, to_slot=to_slot)
    if rollback_of:
        update_deployment(store, rollback_of, detail={"rollback_deployment": rollback_id})
    return rollback_id


def _finish(o: Outcome, status: str, reason: str, detail: dict[str, Any]) -> None:
    for event in lifecycle_of(o.store, o.deployment_id):
        if event["status"] == PENDING:
            idx = LIFECYCLE.index(event["name"])
            record_lifecycle(o.store, o.deployment_id, idx, event["name"], SKIPPED, message="not reached")
    update_deployment(
        o.store, o.deployment_id, detail=detail, status=status, reason=reason or None, ended=time.time()
    )
    o.store.event("deploy.finished", o.deployment_id, status=status, reason=reason)


def result_of(store: Store, deployment_id: str, timings: dict[str, float] | None = None) -> DeploymentResult:
    """A recorded deployment as a DeploymentResult."""
    record = get_deployment(store, deployment_id)
    if record is None:
        raise RunnerError(f"no deployment {deployment_id}")
    detail = record.detail
    return DeploymentResult(
        id=record.id,
        environment=record.environment,
        service=record.service,
        status=record.status,
        image=record.image,
        kind=record.kind,
        rolled_back=bool(detail.get("rollback_deployment")),
        reason=record.reason or "",
        previous_image=record.previous_image,
        from_slot=record.from_slot,
        to_slot=record.to_slot,
        rollback_deployment=detail.get("rollback_deployment"),
        rollback_of=record.rollback_of,
        rollback_event=detail.get("rollback_event")
        or (DEPLOYMENT_FAILURE if record.status == FAILED and detail.get("rollback_deployment") else None),
        strategy=detail.get("traffic") or {"name": record.strategy},
        alarm=detail.get("alarm"),
        lifecycle=tuple(lifecycle_of(store, record.id)),
        started=record.started or record.created,
        ended=record.ended or 0.0,
        timings=dict(timings if timings is not None else detail.get("timings") or {}),
    )
