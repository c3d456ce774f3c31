"""The dashboard's mutations, delegated to the pipeline, deploy and build packages.

They are imported inside each action so that serving pages never loads the engines. Long
actions (rollback, re-run) run in a background thread as a job whose messages the page polls.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner.errors import RunnerError
from runner.store import Store
from runner.store.builds import get_build
from runner.store.pipelines import get_execution

MAX_JOBS = 100


class Refused(Exception):
    """The action cannot run as asked (unknown id, no pipeline.yml …): HTTP 409."""


def plain(value: Any) -> Any:
    """A JSON-able form of whatever an implementation returned."""
    if hasattr(value, "as_json"):
        return value.as_json()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return value if value is None or isinstance(value, str | int | float | bool) else str(value)


def _run(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    try:
        return function(*args, **kwargs)
    except RunnerError as e:
        raise Refused(str(e)) from e


# ------------------------------------------------------------------ reads owned by other modules


def deploy_status(config: Any, store: Store) -> dict[str, Any]:
    """`runner status --json` (runner.codedeploy.status): slots, containers and health per service."""
    from runner.codedeploy import status

    result = _run(status, config, store)
    return plain(result)  # type: ignore[no-any-return]


def service_status(config: Any, store: Store) -> dict[tuple[str, str], dict[str, Any]]:
    """(environment, service) → its `runner status` object (live health, slot containers); {} if unknown."""
    try:
        status = deploy_status(config, store)
    except Refused:
        return {}
    return {
        (env["name"], svc["service"]): svc
        for env in status.get("environments", [])
        for svc in env.get("services", [])
        if isinstance(svc, dict) and "service" in svc
    }


# ------------------------------------------------------------------ approvals (quick, synchronous)


def approve(store: Store, execution_id: str, summary: str) -> dict[str, Any]:
    from runner.codepipeline.execution import approve as approve_execution

    result = _run(approve_execution, store, execution_id, summary)
    return {"action": "approve", "execution_id": execution_id, "result": plain(result)}


def reject(store: Store, execution_id: str, summary: str) -> dict[str, Any]:
    from runner.codepipeline.execution import reject as reject_execution

    result = _run(reject_execution, store, execution_id, summary)
    return {"action": "reject", "execution_id": execution_id, "result": plain(result)}


# ------------------------------------------------------------------ jobs (long, in a thread)


@dataclass
class Job:
    id: str
    action: str
    subject: str
    status: str = "InProgress"  # InProgress | Succeeded | Failed
    messages: list[str] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    ended: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


class Jobs:
    """The background actions of this dashboard process (kept in memory, newest MAX_JOBS)."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def start(self, action: str, subject: str, work: Callable[[Callable[[str], None]], Any]) -> Job:
        job = Job(f"job-{uuid.uuid4().hex[:12]}", action, subject)
        with self._lock:
            self._jobs[job.id] = job
            for old in list(self._jobs)[:-MAX_JOBS]:
                del self._jobs[old]
        threading.Thread(target=self._work, args=(job, work), name=job.id, daemon=True).start()
        return job

    @staticmethod
    def _work(job: Job, work: Callable[[Callable[[str], None]], Any]) -> None:
        try:
            job.result = plain(work(job.messages.append))
            job.status = "Succeeded"
        except Exception as e:  # a job reports every failure on its own page, never a traceback
            job.error = f"{type(e).__name__}: {e}" if not isinstance(e, RunnerError) else str(e)
            job.status = "Failed"
        job.ended = time.time()


def rollback(jobs: Jobs, config: Any, store: Store, environment: str, service: str | None) -> Job:
    from runner.codedeploy import rollback as function

    subject = f"{environment}/{service}" if service else environment
    return jobs.start("rollback", subject, lambda say: function(config, store, environment, service, say=say))


def rerun_execution(jobs: Jobs, config: Any, store: Store, execution_id: str) -> Job:
    from runner.codepipeline.execution import start_execution as start

    execution = get_execution(store, execution_id)
    if execution is None:
        raise Refused(f"no pipeline execution {execution_id!r}")
    commit = execution.commit_sha
    return jobs.start("rerun", execution_id, lambda say: start(config, store, commit, "ui", say=say))


def rerun_build(jobs: Jobs, config: Any, store: Store, home: Path, build_id: str) -> Job:
    """The same build again (codebuild/build_control.py keeps its request): flags, overrides, limits."""
    from runner.codebuild.build_control import rerun_request, service_options

    build = get_build(store, build_id)
    if build is None:
        raise Refused(f"no build {build_id!r}")
    if build.service:
        if config is None:
            raise Refused(f"build {build.id} is a service build and no pipeline.yml was found")
        from runner.codepipeline.service_build import build_service

        commit, service, options = build.resolved_source_version, build.service, service_options(build)
        return jobs.start(
            "rerun",
            build.id,
            lambda say: build_service(
                config, service, store, commit=commit, initiator="ui", show=say, **options
            ),
        )
    request = _run(rerun_request, build, home)
    from runner.codebuild.build import run_build

    return jobs.start("rerun", build.id, lambda say: run_build(request, store, show=say))
