"""One running deployment: its request (resolved before the lock), its state, its record.

lifecycle.py walks the steps; this module holds what the steps share: the Request, the
mutable Run (with the Site its environment was opened as, once per deployment), the
exceptions that end a walk, the deployment's first record and where its hooks run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from runner.adapters.docker import client as docker_client
from runner.codedeploy import hooks, router, strategies
from runner.codedeploy.alarms import Breach
from runner.codedeploy.appspec import LIFECYCLE
from runner.codedeploy.control import TrafficControl
from runner.codedeploy.ecs_inputs import EcsInputs
from runner.codedeploy.environment import Layout
from runner.codedeploy.hooks import HookPlan
from runner.codedeploy.model import CREATED, IN_PROGRESS, PENDING, STANDARD
from runner.codedeploy.outcome import Outcome
from runner.codedeploy.stack import Site
from runner.codedeploy.watch import Watcher
from runner.core.config import Environment, PipelineConfig, Service
from runner.core.image_ref import ImageRef
from runner.store import Store
from runner.store.deployments import DeploymentRecord, create_deployment, record_lifecycle, update_deployment

Say = Callable[[str], None]


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
    site: Site  # the environment: its platform, layout and traffic control, once per deployment
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
    def store(self) -> Store:
        return self.site.store

    @property
    def layout(self) -> Layout:
        return self.site.layout

    @property
    def control(self) -> TrafficControl:
        return self.site.control

    @property
    def service(self) -> str:
        return self.request.service.name

    def outcome(self) -> Outcome:
        return Outcome(
            self.site,
            self.request.service,
            self.id,
            self.request.image,
            self.previous,
            self.original,
            self.replacement,
            self.installed,
            self.request.say,
            self.timings,
        )


def record_created(run: Run, up: dict[str, object]) -> None:
    """The deployment's record, its pending lifecycle events, and the line that announces it."""
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


def hook_run(run: Run, event: str) -> hooks.HookRun:
    """Where and with what the hooks of one lifecycle event run (the platform's hook network)."""
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
        network=run.site.platform.hook_network(),
        service_dir=(request.source_dir / service.path).resolve(),
        env=values,
        host_env=host_values,
        timeout_s=request.config.hook_timeout_s,
        labels=docker_client.labels("hook", deployment=run.id),
    )
