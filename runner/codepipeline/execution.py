"""CodePipeline's part: an execution walks Source → Build → Deploy-<env> (→ Test) … stages.

Each stage is entered under CodePipeline's locking rules (runner/store/pipelines.py:
SUPERSEDED, QUEUED, PARALLEL), and every step is recorded before the next one starts,
so `runner pipeline resume` continues an interrupted execution without redoing what
finished: built services are not rebuilt, deployed services not redeployed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runner.adapters import git as source
from runner.adapters.processes import pid_alive
from runner.core.config import PipelineConfig
from runner.core.image_ref import ImageResult
from runner.errors import RunnerError, UsageError
from runner.localaws import mode as aws_mode
from runner.paths import runner_home
from runner.store import Store
from runner.store import pipelines as records
from runner.store.pipelines import (
    APPROVED,
    FAILED,
    IN_PROGRESS,
    PENDING,
    REJECTED,
    STOPPED,
    SUCCEEDED,
    ExecutionRecord,
)

POLL_S = 0.2
Say = Callable[[str], None]


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    kind: str  # Source | Build | Deploy | Test | Approval
    environment: str | None = None


def stages(config: PipelineConfig) -> tuple[Stage, ...]:
    """Source, Build, then per environment an optional manual approval and its deploy;
    the test stage runs right after the first environment (staging)."""
    result = [Stage("Source", "Source"), Stage("Build", "Build")]
    for index, env in enumerate(config.environments):
        if env.approval == "manual":
            result.append(Stage(f"Approval-{env.name}", "Approval", env.name))
        result.append(Stage(f"Deploy-{env.name}", "Deploy", env.name))
        if index == 0 and config.test is not None:
            result.append(Stage("Test", "Test", env.name))
    return tuple(result)


class StageFailed(RunnerError):
    """An action of the stage failed: the stage and the execution are Failed."""


@dataclass
class Context:
    """What stage actions get: the execution, where its snapshot is, and how to talk."""

    config: PipelineConfig
    store: Store
    execution: ExecutionRecord
    say: Say
    verbose: bool = False  # every build log line, not only the phase outcomes

    def build_output(self, prefix: str) -> Say:
        """Where a build's lines go: all of them when verbose, else what a reader needs
        (failed phases, failed commands, reports); `runner logs BUILD` has the rest."""

        def show(line: str) -> None:
            if self.verbose or _worth_showing(line):
                self.say(f"  {prefix} | {line}")

        return show

    @property
    def commit(self) -> str:
        assert self.execution.commit_sha
        return self.execution.commit_sha

    @property
    def snapshot(self) -> Path:
        return snapshot_dir(self.commit)

    def stage_detail(self, stage: str) -> dict[str, Any]:
        row = records.stage_rows(self.store, self.execution.id).get(stage)
        return dict(row["detail"]) if row else {}

    def record(self, stage: Stage, **detail: Any) -> None:
        records.record_stage(self.store, self.execution.id, stage.name, IN_PROGRESS, detail)

    def images(self) -> dict[str, ImageResult]:
        """The Build stage's images, loaded back typed (repo_digest included) from its record."""
        recorded = self.stage_detail("Build").get("images", {})
        return {name: ImageResult.from_json(data) for name, data in recorded.items()}


Action = Callable[[Context, Stage], None]
_NOTABLE = (
    "Command did not exit successfully",
    "Phase context status code: COMMAND",
    "Phase context status code: CLIENT",
    "Report ",
    " completed: ",
)


def _worth_showing(line: str) -> bool:
    if not line.startswith("[Container]"):
        return False
    if "Phase complete:" in line:
        return not line.endswith("State: SUCCEEDED")
    return any(marker in line for marker in _NOTABLE)


def snapshot_dir(commit: str) -> Path:
    return runner_home() / "snapshots" / commit


# ---------------------------------------------------------------- executions


def create_execution(config: PipelineConfig, store: Store, commit: str | None, trigger: str) -> str:
    resolved = source.resolve_commit(config.root, commit or "HEAD")
    execution_id = str(uuid.uuid4())
    records.create_execution(store, execution_id, config.app, resolved, config.execution_mode, trigger)
    store.event("pipeline.execution.created", execution_id, commit=resolved, trigger=trigger)
    return execution_id


def start_execution(
    config: PipelineConfig, store: Store, commit: str | None, trigger: str, say: Say = print
) -> str:
    """Create an execution for a commit and run it to its end; returns its id."""
    execution_id = create_execution(config, store, commit, trigger)
    run_execution(config, store, execution_id, say)
    return execution_id


def run_execution(
    config: PipelineConfig,
    store: Store,
    execution_id: str,
    say: Say = print,
    actions: Mapping[str, Action] | None = None,
    verbose: bool = False,
) -> str:
    """Run (or resume) an execution; returns its final status."""
    execution = records.get_execution(store, execution_id)
    if execution is None:
        raise UsageError(f"no pipeline execution {execution_id!r}")
    records.set_execution(store, execution.id, pid=os.getpid(), status=IN_PROGRESS, ended=None)
    execution = records.get_execution(store, execution.id)
    assert execution is not None
    ctx = Context(config, store, execution, say, verbose=verbose)
    done = {
        name for name, row in records.stage_rows(store, execution.id).items() if row["status"] == SUCCEEDED
    }
    chosen = {**ACTIONS, **(actions or {})}
    say(f"pipeline {config.app}: execution {execution.id[:8]} for commit {ctx.commit[:12]}")
    for stage in stages(config):
        if stage.name in done:
            continue
        outcome = _run_stage(ctx, stage, chosen[stage.kind])
        if outcome != SUCCEEDED:
            return _finish(ctx, outcome)
    return _finish(ctx, SUCCEEDED)


def _run_stage(ctx: Context, stage: Stage, action: Action) -> str:
    entered = _enter(ctx, stage)
    if entered != "entered":
        return entered
    started = time.monotonic()
    ctx.say(f"[{stage.name}] started")
    records.record_stage(ctx.store, ctx.execution.id, stage.name, IN_PROGRESS)
    try:
        action(ctx, stage)
    except KeyboardInterrupt:
        records.record_stage(ctx.store, ctx.execution.id, stage.name, STOPPED, ended=True)
        records.leave_stage(ctx.store, ctx.execution, stage.name)
        records.finish_execution(ctx.store, ctx.execution.id, STOPPED)
        raise
    except RunnerError as e:
        records.record_stage(ctx.store, ctx.execution.id, stage.name, FAILED, {"error": str(e)}, ended=True)
        records.leave_stage(ctx.store, ctx.execution, stage.name)  # a failure releases the lock
        ctx.say(f"[{stage.name}] FAILED: {e}")
        return FAILED
    records.record_stage(ctx.store, ctx.execution.id, stage.name, SUCCEEDED, ended=True)
    records.leave_stage(ctx.store, ctx.execution, stage.name)
    ctx.say(f"[{stage.name}] succeeded in {time.monotonic() - started:.1f}s")
    return SUCCEEDED


def _enter(ctx: Context, stage: Stage) -> str:
    announced = False
    while True:
        state = records.try_enter_stage(ctx.store, ctx.execution, stage.name)
        if state != "waiting":
            if state not in ("entered",):
                ctx.say(f"[{stage.name}] execution {ctx.execution.id[:8]} {state.lower()}")
            return state
        if not announced:
            ctx.say(f"[{stage.name}] waiting: the stage is busy with another execution")
            announced = True
        time.sleep(POLL_S)


def _finish(ctx: Context, status: str) -> str:
    records.finish_execution(ctx.store, ctx.execution.id, status)
    final = records.get_execution(ctx.store, ctx.execution.id)
    result = final.status if final else status
    ctx.store.event("pipeline.execution.ended", ctx.execution.id, status=result)
    ctx.say(f"pipeline {ctx.config.app}: execution {ctx.execution.id[:8]} {result}")
    return result


# ---------------------------------------------------------------- stage actions


def _source(ctx: Context, stage: Stage) -> None:
    """A clean snapshot of the commit (never uncommitted files), shared by later stages."""
    target = ctx.snapshot
    if not target.is_dir():
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = Path(tempfile.mkdtemp(prefix=f".{ctx.commit[:12]}-", dir=target.parent))
        try:
            source.export_commit(ctx.config.root, ctx.commit, partial)
            os.replace(partial, target)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    ctx.record(stage, commit=ctx.commit, snapshot=str(target))


def _build(ctx: Context, stage: Stage) -> None:
    from runner.codepipeline.build_fleet import Fleet
    from runner.codepipeline.service_build import ServiceBuildResult, build_service

    built = ctx.images()
    todo = [s.name for s in ctx.config.services if s.name not in built]
    failures: list[str] = []
    fleet = Fleet.of(ctx.config, ctx.say)  # None: every build on this process's engine

    def one(name: str) -> ServiceBuildResult:
        return build_service(
            ctx.config,
            name,
            ctx.store,
            commit=ctx.commit,
            initiator=f"codepipeline/{ctx.config.app}",
            show=ctx.build_output(name),
            snapshot_dir=ctx.snapshot,
            run=fleet.run if fleet else None,
        )

    with ThreadPoolExecutor(max_workers=ctx.config.build_parallelism) as pool:
        futures = {pool.submit(one, name): name for name in todo}
        for future in as_completed(futures):
            name = futures[future]
            result = future.result()
            if result.image is None:
                failures.append(f"{name}: {result.error or 'build ' + result.status}")
                continue
            image = built[name] = result.image
            ctx.record(stage, images={service: done.as_json() for service, done in built.items()})
            ctx.say(f"  {name}: {image.reason or ('reused ' if image.reused else 'built ') + image.tag}")
    if failures:
        raise StageFailed("; ".join(failures))


def _deploy(ctx: Context, stage: Stage) -> None:
    from runner.codedeploy import deploy, ensure_up, live_images

    assert stage.environment is not None
    env = stage.environment
    ensure_up(ctx.config, ctx.store, env, say=ctx.say)
    deployed = dict(ctx.stage_detail(stage.name).get("deployments", {}))
    live = live_images(ctx.store, env)
    for name, image in ctx.images().items():
        if name in deployed:
            continue
        if name in live and live[name].id == image.id:
            ctx.say(f"  {name}: {image.tag} is already live in {env}")
            deployed[name] = {"id": None, "status": "AlreadyLive"}
        else:
            result = deploy(
                ctx.config,
                ctx.store,
                env,
                name,
                image.ref,
                execution_id=ctx.execution.id,
                source_dir=ctx.snapshot,
                say=ctx.say,
                wait_termination=False,  # the old slot stays warm; a later command retires it
            )
            deployed[name] = {"id": result.id, "status": result.status}
            if result.status != "Succeeded":
                ctx.record(stage, deployments=deployed)
                raise StageFailed(f"{name}: deployment {result.id} {result.status}: {result.reason}")
        ctx.record(stage, deployments=deployed)


def _test(ctx: Context, stage: Stage) -> None:
    from runner.codebuild.build import run_build
    from runner.codebuild.build_control import make_request
    from runner.codedeploy import hook_network

    test = ctx.config.test
    assert test is not None and stage.environment is not None
    request = make_request(
        ctx.snapshot,
        home=ctx.store.path.parent,
        buildspec=ctx.snapshot / test.buildspec,
        image=test.image or ctx.config.build_image,
        project=f"{ctx.config.app}-test",
        overrides={"RUNNER_STAGING_URL": "http://router:80"},
        network=hook_network(ctx.config, ctx.store, stage.environment),  # staging's router is `router`
        initiator=f"codepipeline/{ctx.config.app}",
        resolved_source_version=ctx.commit,
        region=ctx.config.region,
        aws_account=aws_mode.account(ctx.config.aws, ctx.config.account),
    )
    result = run_build(request, ctx.store, show=ctx.build_output("test"))
    ctx.record(stage, build=result.id, status=result.status)
    if result.status != "SUCCEEDED":
        raise StageFailed(f"test build {result.id} {result.status}")


def _approval(ctx: Context, stage: Stage) -> None:
    assert stage.environment is not None
    env = ctx.config.environment(stage.environment)
    records.request_approval(
        ctx.store, ctx.execution.id, stage.name, uuid.uuid4().hex, env.approval_timeout_s
    )
    ctx.say(
        f"  waiting for approval: runner approve {ctx.execution.id[:8]}  "
        f"(or runner reject {ctx.execution.id[:8]} --reason …)"
    )
    while True:
        row = records.approval(ctx.store, ctx.execution.id, stage.name)
        assert row is not None
        if row["status"] == APPROVED:
            ctx.say(f"  approved{': ' + row['summary'] if row['summary'] else ''}")
            return
        if row["status"] == REJECTED:
            raise StageFailed(f"approval rejected: {row['summary'] or 'no reason given'}")
        if row["status"] == PENDING and time.time() > row["expires"]:
            records.decide_approval(ctx.store, ctx.execution.id, records.EXPIRED, "timed out")
            raise StageFailed("approval timed out")
        time.sleep(POLL_S)


ACTIONS: dict[str, Action] = {
    "Source": _source,
    "Build": _build,
    "Deploy": _deploy,
    "Test": _test,
    "Approval": _approval,
}


# ---------------------------------------------------------------- approvals and resume


def approve(store: Store, execution_ref: str, summary: str = "") -> str:
    return _decide(store, execution_ref, APPROVED, summary)


def reject(store: Store, execution_ref: str, reason: str) -> str:
    return _decide(store, execution_ref, REJECTED, reason)


def _decide(store: Store, execution_ref: str, status: str, summary: str) -> str:
    execution = records.get_execution(store, execution_ref)
    if execution is None:
        raise UsageError(f"no pipeline execution {execution_ref!r}")
    if not records.decide_approval(store, execution.id, status, summary):
        raise RunnerError(f"execution {execution.id[:8]} has no approval waiting")
    store.event(f"pipeline.approval.{status.lower()}", execution.id, summary=summary)
    return execution.id


def resumable(store: Store) -> list[ExecutionRecord]:
    """Stopped executions, and in-progress ones whose runner died."""
    return [
        e
        for e in records.list_executions(store, limit=100)
        if e.status == STOPPED or (e.status == IN_PROGRESS and not pid_alive(e.pid))
    ]
