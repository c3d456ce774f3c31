"""The mutating side of the JSON API: approve, reject, rollback, re-run (token + same origin)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException

from runner.store import views
from runner.web import actions, schemas
from runner.web.context import Context, writer

router = APIRouter(prefix="/api", tags=["actions"])
Writer = Annotated[Context, Depends(writer)]
ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"model": schemas.Error, "description": "no session token, or a cross-site request"},
    409: {"model": schemas.Error, "description": "the action cannot run as asked"},
    501: {"model": schemas.Error, "description": "this runner does not provide the action yet"},
}


def _waiting(c: Context, execution_id: str) -> None:
    if views.execution(c.store, execution_id) is None:
        raise HTTPException(404, f"no pipeline execution {execution_id!r}")


@router.post("/executions/{execution_id}/approve", response_model=schemas.ActionResult, responses=ERRORS)
def approve(c: Writer, execution_id: str, decision: schemas.Decision) -> dict[str, Any]:
    """Approve the execution's waiting manual approval (CodePipeline's PutApprovalResult Approved)."""
    _waiting(c, execution_id)
    return actions.approve(c.store, execution_id, decision.summary)


@router.post("/executions/{execution_id}/reject", response_model=schemas.ActionResult, responses=ERRORS)
def reject(c: Writer, execution_id: str, decision: schemas.Decision) -> dict[str, Any]:
    """Reject it: the approval stage fails and the execution stops (a reason is required)."""
    _waiting(c, execution_id)
    if not decision.summary.strip():
        raise HTTPException(422, "a rejection needs a reason (summary)")
    return actions.reject(c.store, execution_id, decision.summary)


@router.post(
    "/executions/{execution_id}/rerun", response_model=schemas.Job, responses=ERRORS, status_code=202
)
def rerun_execution(c: Writer, execution_id: str) -> dict[str, Any]:
    """Start a new execution of the same commit."""
    _waiting(c, execution_id)
    return actions.rerun_execution(c.jobs, c.required_config(), c.store, execution_id).as_json()


@router.post(
    "/environments/{environment}/rollback", response_model=schemas.Job, responses=ERRORS, status_code=202
)
def rollback(c: Writer, environment: str, body: schemas.RollbackRequest) -> dict[str, Any]:
    """Move traffic back to the previous slot (CodeDeploy's rollback: a new deployment)."""
    return actions.rollback(c.jobs, c.required_config(), c.store, environment, body.service).as_json()


@router.post("/builds/{build_id}/rerun", response_model=schemas.Job, responses=ERRORS, status_code=202)
def rerun_build(c: Writer, build_id: str) -> dict[str, Any]:
    """Run the same build again (a service build through the image builder)."""
    return actions.rerun_build(c.jobs, c.config(), c.store, c.home, build_id).as_json()
