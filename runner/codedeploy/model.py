"""Deployment vocabulary (CodeDeploy's, decision 6) and the records deployments hand back.

ImageRef is the one image reference (runner/core/image_ref.py), imported here for deploy's callers.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field
from typing import Any

from runner.core.image_ref import ImageRef

CREATED = "Created"
QUEUED = "Queued"
IN_PROGRESS = "InProgress"
BAKING = "Baking"
READY = "Ready"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
STOPPED = "Stopped"
FINAL = (SUCCEEDED, FAILED, STOPPED)

# Lifecycle event statuses.
PENDING = "Pending"
SKIPPED = "Skipped"

STANDARD = "STANDARD"
ROLLBACK = "ROLLBACK"

# Why a deployment rolled back (AutoRollbackConfiguration events).
DEPLOYMENT_FAILURE = "DEPLOYMENT_FAILURE"
DEPLOYMENT_STOP_ON_ALARM = "DEPLOYMENT_STOP_ON_ALARM"
DEPLOYMENT_STOP_ON_REQUEST = "DEPLOYMENT_STOP_ON_REQUEST"


def new_deployment_id() -> str:
    """`d-` and nine uppercase letters or digits, like CodeDeploy's."""
    return "d-" + "".join(secrets.choice(string.ascii_uppercase + string.digits) for _ in range(9))


@dataclass(frozen=True, slots=True)
class DeploymentResult:
    """How a deployment ended; `as_json()` is the `runner deploy --json` object."""

    id: str
    environment: str
    service: str
    status: str
    image: ImageRef
    kind: str = STANDARD
    rolled_back: bool = False
    reason: str = ""
    previous_image: ImageRef | None = None
    from_slot: str | None = None
    to_slot: str | None = None
    rollback_deployment: str | None = None
    rollback_of: str | None = None
    rollback_event: str | None = None
    strategy: dict[str, Any] = field(default_factory=dict)
    alarm: dict[str, Any] | None = None
    lifecycle: tuple[dict[str, Any], ...] = ()
    started: float = 0.0
    ended: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def succeeded(self) -> bool:
        return self.status == SUCCEEDED

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "environment": self.environment,
            "service": self.service,
            "kind": self.kind,
            "status": self.status,
            "rolled_back": self.rolled_back,
            "reason": self.reason,
            "image": self.image.as_json(),
            "previous_image": self.previous_image.as_json() if self.previous_image else None,
            "from_slot": self.from_slot,
            "to_slot": self.to_slot,
            "rollback_deployment": self.rollback_deployment,
            "rollback_of": self.rollback_of,
            "rollback_event": self.rollback_event,
            "strategy": self.strategy,
            "alarm": self.alarm,
            "lifecycle_events": list(self.lifecycle),
            "started": self.started,
            "ended": self.ended,
            "duration_s": round(self.ended - self.started, 3) if self.ended else None,
            "timings": self.timings,
        }
