"""Pure builders of the events AWS documents, from the records the store keeps.

Envelope: EventBridge's (`version`, `id`, `detail-type`, `source`, `account`, `time`,
`region`, `resources`, `detail`). Details and their names, as documented:
- codebuild/latest/userguide/sample-build-notifications.html#sample-build-notifications-ref
  (CodeBuild Build State Change, CodeBuild Build Phase Change);
- codepipeline/latest/userguide/detect-state-changes-cloudwatch-events.html
  (CodePipeline Pipeline / Stage / Action Execution State Change);
- codedeploy/latest/userguide/monitoring-cloudwatch-events.html
  (CodeDeploy Deployment State-change Notification: START, SUCCESS, FAILURE, STOP).
AWS documents no batch event: a batch's task builds carry their batch in `additional-information`.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

LOCAL_ACCOUNT = "000000000000"
BUILD_STATE = "CodeBuild Build State Change"
BUILD_PHASE = "CodeBuild Build Phase Change"
PIPELINE_STATE = "CodePipeline Pipeline Execution State Change"
STAGE_STATE = "CodePipeline Stage Execution State Change"
ACTION_STATE = "CodePipeline Action Execution State Change"
DEPLOYMENT_STATE = "CodeDeploy Deployment State-change Notification"
DETAIL_TYPES = (BUILD_STATE, BUILD_PHASE, PIPELINE_STATE, STAGE_STATE, ACTION_STATE, DEPLOYMENT_STATE)

# Our record statuses → the states AWS's events name.
PIPELINE_STATES = {
    "InProgress": "STARTED",
    "Succeeded": "SUCCEEDED",
    "Failed": "FAILED",
    "Stopped": "STOPPED",
    "Superseded": "SUPERSEDED",
}
ACTION_STATES = {
    "InProgress": "STARTED",
    "Succeeded": "SUCCEEDED",
    "Failed": "FAILED",
    "Stopped": "ABANDONED",
}
DEPLOYMENT_STATES = {"InProgress": "START", "Succeeded": "SUCCESS", "Failed": "FAILURE", "Stopped": "STOP"}
# A stage's one action: its name and type (owner, category, provider), by stage kind.
_ACTIONS = {
    "Source": ("Source", "Source", "CodeCommit"),
    "Build": ("Build", "Build", "CodeBuild"),
    "Test": ("Test", "Test", "CodeBuild"),
    "Deploy": ("Deploy", "Deploy", "CodeDeployToECS"),
    "Approval": ("Approval", "Approval", "Manual"),
}


@dataclass(frozen=True, slots=True)
class Where:
    """The account and region events name (pipeline.yml `account:` and `region:`)."""

    account: str = LOCAL_ACCOUNT
    region: str = "us-east-1"

    def arn(self, service: str, resource: str) -> str:
        return f"arn:aws:{service}:{self.region}:{self.account}:{resource}"


def envelope(
    where: Where,
    detail_type: str,
    source: str,
    resources: Sequence[str],
    detail: Mapping[str, Any],
    when: float,
) -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": where.account,
        "time": iso_time(when),
        "region": where.region,
        "resources": list(resources),
        "detail": dict(detail),
    }


def iso_time(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))


def console_time(when: float) -> str:
    """CodeBuild's own format in these events: `Sep 1, 2017 4:12:29 PM` (UTC)."""
    t = time.gmtime(when)
    hour = t.tm_hour % 12 or 12
    clock = f"{hour}:{t.tm_min:02d}:{t.tm_sec:02d} {'PM' if t.tm_hour >= 12 else 'AM'}"
    return f"{time.strftime('%b', t)} {t.tm_mday}, {t.tm_year} {clock}"


# ---------------------------------------------------------------- CodeBuild


@dataclass(frozen=True, slots=True)
class BuildFacts:
    """A build row, its phase rows, and (for a batch task) its batch and identifier."""

    build: Mapping[str, Any]
    phases: Sequence[Mapping[str, Any]]
    batch: tuple[str, str] | None = None


def build_state(where: Where, facts: BuildFacts, when: float) -> dict[str, Any]:
    build = facts.build
    complete = build["ended"] is not None
    current = "COMPLETED" if complete else (facts.phases[-1]["name"] if facts.phases else "SUBMITTED")
    detail = {
        "build-status": build["status"],
        "project-name": build["project"],
        "build-id": _build_arn(where, build),
        "additional-information": _build_information(where, facts),
        "current-phase": current,
        "current-phase-context": _context_text(facts.phases[-1] if facts.phases and not complete else None),
        "version": "1",
    }
    return envelope(where, BUILD_STATE, "aws.codebuild", [_build_arn(where, build)], detail, when)


def build_phase(where: Where, facts: BuildFacts, phase: Mapping[str, Any], when: float) -> dict[str, Any]:
    build = facts.build
    ended = phase["ended"] if phase["ended"] is not None else when
    detail = {
        "completed-phase": phase["name"],
        "project-name": build["project"],
        "build-id": _build_arn(where, build),
        "completed-phase-context": _context_text(phase),
        "additional-information": _build_information(where, facts),
        "completed-phase-status": phase["status"],
        "completed-phase-duration-seconds": round(ended - phase["started"]),
        "version": "1",
        "completed-phase-start": console_time(phase["started"]),
        "completed-phase-end": console_time(ended),
    }
    return envelope(where, BUILD_PHASE, "aws.codebuild", [_build_arn(where, build)], detail, when)


def _build_arn(where: Where, build: Mapping[str, Any]) -> str:
    return where.arn("codebuild", f"build/{build['id']}")


def _build_information(where: Where, facts: BuildFacts) -> dict[str, Any]:
    build = facts.build
    pipeline = str(build["initiator"]).startswith("codepipeline/")
    info: dict[str, Any] = {
        "environment": {
            "image": build["build_image"],
            "privileged-mode": False,
            "compute-type": "BUILD_GENERAL1_SMALL",
            "type": "LINUX_CONTAINER",
            "environment-variables": [],
        },
        "timeout-in-minutes": 60,
        "build-complete": build["ended"] is not None,
        "initiator": build["initiator"],
        "build-start-time": console_time(build["started"]),
        "source": {"location": build["source_dir"], "type": "CODEPIPELINE" if pipeline else "NO_SOURCE"},
        "source-version": build["resolved_source_version"] or build["source_version"] or "",
        "logs": {
            "group-name": f"/aws/codebuild/{build['project']}",
            "stream-name": str(build["id"]).split(":")[-1],
        },
        "phases": [_phase_entry(p) for p in facts.phases if p["ended"] is not None],
    }
    if build["ended"] is not None:
        info["phases"].append({"start-time": console_time(build["ended"]), "phase-type": "COMPLETED"})
    if facts.batch is not None:
        info["build-batch-arn"] = where.arn("codebuild", f"build-batch/{facts.batch[0]}")
        info["batch-build-identifier"] = facts.batch[1]
    return info


def _phase_entry(phase: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "phase-context": [_context_line(c) for c in _contexts(phase) if _context_line(c)],
        "start-time": console_time(phase["started"]),
        "end-time": console_time(phase["ended"]),
        "duration-in-seconds": round(phase["ended"] - phase["started"]),
        "phase-type": phase["name"],
        "phase-status": phase["status"],
    }


def _contexts(phase: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    context = phase.get("context") or []
    return list(json.loads(context) if isinstance(context, str) else context)


def _context_line(context: Mapping[str, Any]) -> str:
    code, message = context.get("status_code") or "", context.get("message") or ""
    return f"{code}: {message}" if code or message else ""


def _context_text(phase: Mapping[str, Any] | None) -> str:
    """CodeBuild sends the context as the text of a list (`"[]"`, `"[CLIENT_ERROR: …]"`)."""
    lines = [_context_line(c) for c in _contexts(phase)] if phase else []
    return "[" + ", ".join(line for line in lines if line) + "]"


# ---------------------------------------------------------------- CodePipeline


def pipeline_state(where: Where, execution: Mapping[str, Any], state: str, when: float) -> dict[str, Any]:
    trigger = str(execution["trigger"])
    detail = {
        "pipeline": execution["pipeline"],
        "version": 1,
        "state": state,
        "execution-id": execution["id"],
        "execution-trigger": {
            "trigger-type": "StartPipelineExecution" if trigger == "manual" else "CloudWatchEvent",
            "trigger-detail": trigger,
        },
        "start-time": _iso_millis(execution["created"]),
    }
    return _pipeline_event(where, PIPELINE_STATE, execution, detail, when)


def stage_state(
    where: Where, execution: Mapping[str, Any], stage: str, state: str, when: float
) -> dict[str, Any]:
    detail = {
        "pipeline": execution["pipeline"],
        "version": 1,
        "execution-id": execution["id"],
        "stage": stage,
        "state": state,
    }
    return _pipeline_event(where, STAGE_STATE, execution, detail, when)


def action_state(
    where: Where, execution: Mapping[str, Any], stage: str, state: str, summary: str, when: float
) -> dict[str, Any]:
    action, category, provider = _ACTIONS[stage_kind(stage)]
    detail: dict[str, Any] = {
        "pipeline": execution["pipeline"],
        "version": 1,
        "execution-id": execution["id"],
        "stage": stage,
        "action": action,
        "state": state,
        "region": where.region,
        "type": {"owner": "AWS", "category": category, "provider": provider, "version": 1},
    }
    if state in ("SUCCEEDED", "FAILED"):
        detail["execution-result"] = {"external-execution-summary": summary}
    return _pipeline_event(where, ACTION_STATE, execution, detail, when)


def stage_kind(stage: str) -> str:
    """`Deploy-prod` → Deploy, `Approval-prod` → Approval, `Build` → Build."""
    kind = stage.split("-", 1)[0]
    return kind if kind in _ACTIONS else "Build"


def _pipeline_event(
    where: Where, detail_type: str, execution: Mapping[str, Any], detail: Mapping[str, Any], when: float
) -> dict[str, Any]:
    resources = [where.arn("codepipeline", str(execution["pipeline"]))]
    return envelope(where, detail_type, "aws.codepipeline", resources, detail, when)


def _iso_millis(when: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(when)) + f".{int(when * 1000) % 1000:03d}Z"


# ---------------------------------------------------------------- CodeDeploy


def deployment_state(where: Where, deployment: Mapping[str, Any], state: str, when: float) -> dict[str, Any]:
    """Application: the service; deployment group: the environment (one group per environment)."""
    application, group = str(deployment["service"]), str(deployment["environment"])
    detail = {
        "region": where.region,
        "deploymentId": deployment["id"],
        "instanceGroupId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"runner:{group}/{application}")),
        "deploymentGroup": group,
        "state": state,
        "application": application,
    }
    resources = [
        where.arn("codedeploy", f"application:{application}"),
        where.arn("codedeploy", f"deploymentgroup:{application}/{group}"),
    ]
    return envelope(where, DEPLOYMENT_STATE, "aws.codedeploy", resources, detail, when)


def summary_line(event: Mapping[str, Any]) -> str:
    """One short line for `runner events` without --json."""
    detail = event.get("detail") or {}
    kind = str(event.get("detail-type", ""))
    if kind == BUILD_STATE:
        what = f"{detail.get('project-name')} {_short(detail.get('build-id'))} {detail.get('build-status')}"
    elif kind == BUILD_PHASE:
        phase, status = detail.get("completed-phase"), detail.get("completed-phase-status")
        what = f"{_short(detail.get('build-id'))} {phase} {status}"
    elif kind == DEPLOYMENT_STATE:
        where = f"{detail.get('application')} → {detail.get('deploymentGroup')}"
        what = f"{where} {detail.get('deploymentId')} {detail.get('state')}"
    else:
        where = "/".join(str(detail[k]) for k in ("pipeline", "stage", "action") if k in detail)
        what = f"{where} {str(detail.get('execution-id', ''))[:8]} {detail.get('state')}"
    return f"{event.get('time')}  {kind}: {what}"


def _short(arn: Any) -> str:
    return str(arn or "").rsplit("/", 1)[-1]
