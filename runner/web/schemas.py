"""Response models: they describe the JSON API in its OpenAPI document (extra fields pass through)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Open(BaseModel):
    """A documented object that keeps any field it does not declare (nothing is dropped)."""

    model_config = ConfigDict(extra="allow")


class BuildSummary(Open):
    """One build as `runner history --json` prints it."""

    id: str
    number: int
    project: str
    service: str | None
    status: str
    initiator: str
    source_version: str | None
    resolved_source_version: str | None
    started: float
    ended: float | None
    duration_s: float | None


class Phase(Open):
    name: str
    status: str
    started: float | None
    ended: float | None
    duration_s: float | None
    status_code: str
    context: str


class BuildDetail(BuildSummary):
    """summary + phases so far + the stored `runner build --json` result (null while running)."""

    build_image: str
    buildspec: str
    phases: list[Phase]
    result: dict[str, Any] | None
    log_lines: int
    last_seq: int


class LogPage(Open):
    """Log lines as [seq, text] pairs (secrets already masked)."""

    lines: list[tuple[int, str]]
    first_seq: int
    last_seq: int


class Facets(Open):
    services: list[str]
    projects: list[str]
    statuses: list[str]


class Stage(Open):
    name: str
    status: str
    started: float | None
    ended: float | None
    duration_s: float | None
    detail: dict[str, Any]


class Approval(Open):
    """The execution's latest approval, as `runner pipeline status --json` prints it."""

    stage: str
    status: str
    requested: float
    expires: float
    summary: str | None


class ApprovalRecord(Approval):
    decided: float | None


class Execution(Open):
    id: str
    pipeline: str
    commit: str | None
    status: str
    mode: str
    trigger: str
    waiting_for: str | None
    current_stage: str | None
    created: float
    ended: float | None
    duration_s: float | None
    stages: list[Stage]
    approval: Approval | None
    approvals: list[ApprovalRecord]
    detail: dict[str, Any]


class ImageRef(Open):
    tag: str | None
    id: str | None


class LifecycleEvent(Open):
    name: str
    status: str
    started: float | None
    ended: float | None
    duration_s: float | None
    message: str


class Deployment(Open):
    id: str
    environment: str
    service: str
    status: str
    kind: str
    strategy: str
    image: ImageRef
    previous_image: ImageRef | None
    from_slot: str | None
    to_slot: str | None
    commit: str | None
    execution_id: str | None
    rollback_of: str | None
    rolled_back: bool
    reason: str | None
    created: float
    started: float | None
    ended: float | None
    duration_s: float | None
    lifecycle_events: list[LifecycleEvent]
    detail: dict[str, Any]


class Health(Open):
    status: str  # healthy | unhealthy | unreachable | unknown
    url: str | None
    detail: str


class ServiceState(Open):
    environment: str
    service: str
    live_slot: str | None
    live: ImageRef | None
    slots: dict[str, ImageRef]
    weights: dict[str, float]
    test_slot: str | None
    warm_until: float | None
    updated: float
    health: Health
    slot_containers: dict[str, str]  # slot → its container as `runner status` sees it (running, absent …)
    deployments: list[Deployment]


class EnvironmentState(Open):
    name: str
    services: list[ServiceState]


class Summary(Open):
    count: int
    median: float | None
    p90: float | None


class Day(Open):
    day: str
    deployments: int
    failures: int
    lead_time_s: float | None


class MetricGroup(Open):
    environment: str
    service: str | None
    deployments: int
    deployment_frequency_per_day: float | None
    changes: int
    failures: int
    change_failure_rate: float | None
    lead_time_s: Summary
    time_to_restore_s: Summary
    unrestored: int
    daily: list[Day]


class MetricsReport(Open):
    """The same object as `runner metrics --json`."""

    period: dict[str, float]
    groups: list[MetricGroup]


class Job(Open):
    id: str
    action: str
    subject: str
    status: str
    messages: list[str]
    result: Any
    error: str | None
    started: float
    ended: float | None


class ActionResult(Open):
    action: str
    execution_id: str
    result: Any


class Decision(BaseModel):
    summary: str = ""


class RollbackRequest(BaseModel):
    service: str | None = None


class Session(Open):
    version: str
    store: str
    pipeline: str | None
    actions: dict[str, bool]


class Error(BaseModel):
    error: str
