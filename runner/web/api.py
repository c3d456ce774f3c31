"""The read side of the JSON API: the same objects as the CLI's `--json` (runner/store/*views.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse

from runner import __version__
from runner.errors import RunnerError
from runner.store import metrics_views, views
from runner.store.batches import batch_links, get_batch, tasks_of, with_batch
from runner.web import actions, schemas
from runner.web.context import Context, reader
from runner.web.health import UNKNOWN, target
from runner.web.logstream import stream

router = APIRouter(prefix="/api")
Reader = Annotated[Context, Depends(reader)]


@router.get("/session", response_model=schemas.Session, tags=["session"])
def session(c: Reader) -> dict[str, Any]:
    """What this dashboard serves and which actions the installed runner provides."""
    return {
        "version": __version__,
        "store": str(c.store.path),
        "pipeline": str(c.config_path) if c.config_path else None,
        "actions": {
            "approve": True,
            "reject": True,
            "rerun_execution": True,
            "rollback": True,
        },
    }


@router.get("/builds", response_model=list[schemas.BuildSummary], tags=["builds"])
def builds(
    c: Reader,
    response: Response,
    service: str | None = None,
    status: str | None = None,
    project: str | None = None,
    q: Annotated[str | None, Query(description="part of a build id or commit")] = None,
    since: Annotated[float | None, Query(description="epoch seconds")] = None,
    until: Annotated[float | None, Query(description="epoch seconds")] = None,
    limit: Annotated[int, Query(ge=0, le=10000)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[dict[str, Any]]:
    """`runner history --json` with more filters; X-Total-Count holds the number of matches."""
    found, total = views.history(
        c.store, service=service, status=status, project=project, search=q,
        since=since, until=until, limit=limit, offset=offset,
    )  # fmt: skip
    response.headers["X-Total-Count"] = str(total)
    links = batch_links(c.store, [b.id for b in found])
    return [with_batch(b.summary(), links.get(b.id)) for b in found]


@router.get("/batches/{batch_id}", tags=["builds"])
def batch(c: Reader, batch_id: str) -> dict[str, Any]:
    """A batch build and its tasks (`runner build --batch --json`, plus each task's build id)."""
    found = get_batch(c.store, batch_id)
    if found is None:
        raise HTTPException(404, f"no batch {batch_id!r}")
    return {
        "batch_id": found.id,
        "project": found.project,
        "number": found.number,
        "kind": found.kind,
        "status": found.status,
        "started": found.started,
        "ended": found.ended,
        "builds": [t.as_json() | {"build_id": t.build_id} for t in tasks_of(c.store, found.id)],
    }


@router.get("/builds/facets", response_model=schemas.Facets, tags=["builds"])
def facets(c: Reader) -> dict[str, list[str]]:
    return views.build_facets(c.store)


def _build(c: Context, build_id: str) -> dict[str, Any]:
    found = views.build_detail(c.store, build_id)
    if found is None:
        raise HTTPException(404, f"no build {build_id!r}")
    return found


@router.get("/builds/{build_id}", response_model=schemas.BuildDetail, tags=["builds"])
def build(c: Reader, build_id: str) -> dict[str, Any]:
    """summary(), the phases recorded so far, and the `runner build --json` result once it ended."""
    return _build(c, build_id)


@router.get("/builds/{build_id}/logs", response_model=schemas.LogPage, tags=["logs"])
def logs(
    c: Reader,
    build_id: str,
    after: Annotated[int, Query(ge=0)] = 0,
    before: Annotated[int | None, Query(ge=1)] = None,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    tail: Annotated[int, Query(ge=0, le=10000)] = 0,
) -> dict[str, Any]:
    """Lines after `after`, the `limit` lines before `before`, or the last `tail` lines."""
    full_id = _build(c, build_id)["id"]
    page = views.log_page(c.store, full_id, after, limit, tail)
    if before is not None:
        page["lines"] = views.log_lines_before(c.store, full_id, before, limit)
    return page


@router.get("/builds/{build_id}/logs.txt", tags=["logs"], response_class=StreamingResponse)
def log_text(c: Reader, build_id: str) -> StreamingResponse:
    """The whole log as plain text (what `runner logs` prints)."""
    full_id = _build(c, build_id)["id"]

    def lines() -> Iterator[str]:
        after = 0
        while page := views.log_page(c.store, full_id, after, 5000)["lines"]:
            after = page[-1][0]
            yield "".join(text + "\n" for _, text in page)

    return StreamingResponse(lines(), media_type="text/plain; charset=utf-8")


@router.get("/builds/{build_id}/logs/stream", tags=["logs"], response_class=StreamingResponse)
def log_stream(c: Reader, request: Request, build_id: str, after: int = 0) -> StreamingResponse:
    """Server-sent events: `lines` ([[seq, text], …], id = last seq) while it runs, then `end`."""
    full_id = _build(c, build_id)["id"]
    resume = request.headers.get("last-event-id", "")
    start = int(resume) if resume.isdigit() else after
    return StreamingResponse(
        stream(c.store, full_id, start, request.is_disconnected),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )


@router.get("/builds/{build_id}/artifacts/{name}.zip", tags=["builds"], response_class=FileResponse)
def artifact_zip(c: Reader, build_id: str, name: str) -> FileResponse:
    """An artifact as the zip the build wrote (`artifacts` is the primary one)."""
    found = _build(c, build_id)
    path = _inside(views.artifacts_dir(c.home, found), f"{name}.zip")
    return FileResponse(path, filename=f"{found['number']}-{name}.zip")


@router.get("/builds/{build_id}/artifacts/{name}/{path:path}", tags=["builds"], response_class=FileResponse)
def artifact_file(c: Reader, build_id: str, name: str, path: str) -> FileResponse:
    """One file of an artifact."""
    found = _build(c, build_id)
    return FileResponse(_inside(views.artifacts_dir(c.home, found) / name, path))


def _inside(root: Path, relative: str) -> Path:
    """A file under root, refusing `..`, absolute paths and links that lead out of it."""
    candidate = (root / relative).resolve()
    if not candidate.is_relative_to(root.resolve()) or not candidate.is_file():
        raise HTTPException(404, f"{relative}: no such artifact file on this machine")
    return candidate


@router.get("/executions", response_model=list[schemas.Execution], tags=["pipeline"])
def executions(
    c: Reader, limit: Annotated[int, Query(ge=1, le=500)] = 20, status: str | None = None
) -> list[dict[str, Any]]:
    """Pipeline executions, newest first, with their stages and approvals."""
    return views.executions(c.store, limit, status, c.stage_names())


@router.get("/executions/{execution_id}", response_model=schemas.Execution, tags=["pipeline"])
def execution(c: Reader, execution_id: str) -> dict[str, Any]:
    found = views.execution(c.store, execution_id, c.stage_names())
    if found is None:
        raise HTTPException(404, f"no pipeline execution {execution_id!r}")
    return found


@router.get("/environments", response_model=list[schemas.EnvironmentState], tags=["deploy"])
def environments(c: Reader) -> list[dict[str, Any]]:
    """Per environment and service: live slot, images, weights, health, slot containers, last deployments."""
    found = views.environments(c.store, c.environment_names())
    _add_live_state(c, [s for env in found for s in env["services"]])
    return found


def _add_live_state(c: Context, services: list[dict[str, Any]]) -> None:
    """Health and the slots' containers as `runner status` reports them (runner.codedeploy); without
    it, health from a GET of the live health path and the slots' containers unknown."""
    try:
        config = c.config()
    except RunnerError:  # a broken pipeline.yml leaves health unknown, the page still works
        config = None
    for s in services:
        s["health"] = dict(UNKNOWN)
        s["slot_containers"] = {}
    if config is None:
        return
    reported = c.cached("service_status", lambda: actions.service_status(config, c.store))
    names = {(e.name, s.name): (e, s) for e in config.environments for s in config.services}
    for s in services:
        found = reported.get((s["environment"], s["service"]), {})
        # The store keeps the image a slot ran after its container is gone (a rollback, the
        # end of the termination wait): only the engine says whether it still runs.
        slots = found.get("slots") or {}
        s["slot_containers"] = {k: str(v.get("container")) for k, v in slots.items() if isinstance(v, dict)}
        if found.get("health"):
            word = str(found["health"]).split(" ", 1)[0]
            s["health"] = {"status": word, "url": None, "detail": f"runner status: {found['health']}"}
    probed = [s for s in services if (s["environment"], s["service"]) in names and s["health"] == UNKNOWN]
    checked = c.probe.many([target(*names[(s["environment"], s["service"])]) for s in probed])
    for s, health in zip(probed, checked, strict=True):
        s["health"] = health


@router.get(
    "/status", tags=["deploy"], responses={501: {"model": schemas.Error}, 409: {"model": schemas.Error}}
)
def deploy_status(c: Reader) -> dict[str, Any]:
    """Exactly `runner status --json` (from runner.codedeploy): environments, slots, containers, health."""
    return actions.deploy_status(c.required_config(), c.store)


@router.get("/deployments", response_model=list[schemas.Deployment], tags=["deploy"])
def deployments(
    c: Reader,
    environment: str | None = None,
    service: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 20,
) -> list[dict[str, Any]]:
    return views.deployments(c.store, environment, service, limit)


@router.get("/deployments/{deployment_id}", response_model=schemas.Deployment, tags=["deploy"])
def deployment(c: Reader, deployment_id: str) -> dict[str, Any]:
    """A deployment with its lifecycle events and its event trail (weight changes, hooks, alarms)."""
    found = views.deployment(c.store, deployment_id)
    if found is None:
        raise HTTPException(404, f"no deployment {deployment_id!r}")
    return found


@router.get("/metrics", response_model=schemas.MetricsReport, tags=["metrics"])
def delivery_metrics(
    c: Reader,
    days: Annotated[float, Query(gt=0, le=3660)] = 30.0,
    environment: str | None = None,
    service: str | None = None,
) -> dict[str, Any]:
    """The same object as `runner metrics --json`."""
    return metrics_views.metrics_report(c.store, days, environment, service)


@router.get("/jobs/{job_id}", response_model=schemas.Job, tags=["actions"])
def job(c: Reader, job_id: str) -> dict[str, Any]:
    """A background action (rollback, re-run) and the messages it printed so far."""
    found = c.jobs.get(job_id)
    if found is None:
        raise HTTPException(404, f"no job {job_id!r}")
    return found.as_json()
