"""Runs a batch build: each task is a normal build, run in parallel up to `jobs`, in
dependency order, with CodeBuild's fast-fail; a stop, Ctrl-C or the batch timeout stops
every running task (no container is left) and starts no other.

`plan` checks everything first (each task's buildspec, --max-builds): a config error
leaves nothing recorded. Our choices where CodeBuild is silent are in the README.
"""

from __future__ import annotations

import os
import shutil
import time
import zipfile
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from runner.codebuild import batch as model
from runner.codebuild.batch import Batch, BatchMember, Task
from runner.codebuild.batch_view import BatchView
from runner.codebuild.build import BuildRequest, BuildResult, load_inputs, run_build
from runner.codebuild.build_control import stop_build
from runner.codebuild.phase_runner import StopSignal
from runner.codebuild.phases import FAULT, STOPPED, TIMED_OUT
from runner.errors import ConfigError, UsageError
from runner.store import Store
from runner.store.batches import (
    BatchTask,
    batch_stop_requested,
    create_batch,
    finish_batch,
    set_task_status,
    tasks_of,
)

POLL_S = 0.25  # how often the loop looks for `runner stop BATCH` and the batch timeout
COMBINED = "artifacts"  # with --combine-artifacts: DIR/artifacts.zip and DIR/artifacts/<identifier>/


@dataclass(frozen=True, slots=True)
class BatchOptions:
    jobs: int
    combine_artifacts: bool = False
    timeout_min: float | None = None  # --batch-timeout: the whole batch
    max_builds: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """A checked batch: each task's build request (without its batch id yet)."""

    batch: Batch
    buildspec: str  # as shown in messages
    requests: Mapping[str, BuildRequest]


@dataclass(frozen=True, slots=True)
class BatchResult:
    batch_id: str
    status: str
    tasks: tuple[BatchTask, ...]
    results: Mapping[str, BuildResult]  # the tasks that ran to their end, by identifier
    combined: Path | None = None

    def as_json(self) -> dict[str, Any]:
        """`runner build --batch --json` (the contract)."""
        return {
            "batch_id": self.batch_id,
            "status": self.status,
            "builds": [t.as_json() for t in self.tasks],
        }


# ---------------------------------------------------------------- planning


def plan(base: BuildRequest, batch: Batch, display: str, options: BatchOptions) -> Plan:
    """Every task's request, its buildspec loaded and checked: ConfigError/UsageError (exit 2)."""
    count = len(batch.tasks)
    if options.max_builds is not None and count > options.max_builds:
        raise UsageError(f"the batch has {count} builds; --max-builds allows {options.max_builds}")
    if options.combine_artifacts and base.artifacts_dir is None:
        raise UsageError("--combine-artifacts needs -a DIR")
    if options.combine_artifacts and any(t.identifier == COMBINED for t in batch.tasks):
        raise UsageError(f"--combine-artifacts writes DIR/{COMBINED}/: no task may be named {COMBINED!r}")
    requests = {}
    for task in batch.tasks:
        request = task_request(base, task, batch)
        spec, _ = load_inputs(request)
        if not spec.phases:
            raise ConfigError(task.position, task.path, f"the buildspec {spec.path} has no phases to run")
        requests[task.identifier] = request
    return Plan(batch, display, requests)


def task_request(base: BuildRequest, task: Task, batch: Batch) -> BuildRequest:
    """A task is the batch's build with its own buildspec and env: the task's image wins
    over -i, --env/-e win over the task's variables (as over the buildspec's)."""
    return replace(
        base,
        buildspec=_task_buildspec(base, task, batch),
        image=task.env.image or base.image,
        overrides={**task.env.variables, **base.overrides},
        privileged=base.privileged or task.env.privileged,
        artifacts_dir=base.artifacts_dir / task.identifier if base.artifacts_dir else None,
        reports_dir=base.reports_dir / task.identifier if base.reports_dir else None,
    )


def _task_buildspec(base: BuildRequest, task: Task, batch: Batch) -> Path:
    if task.buildspec is None:
        if not batch.own_phases:
            raise ConfigError(task.position, task.path, "names no buildspec, and this file has no phases")
        return base.buildspec
    if "\n" in task.buildspec:  # inline YAML, as CodeBuild accepts
        return _inline_buildspec(base, task)
    path = base.source / task.buildspec
    if not path.is_file():
        raise ConfigError(
            task.buildspec_position or task.position,
            f"{task.path}.buildspec",
            f"{task.buildspec}: no such file in the source {base.source}",
        )
    return path


def _inline_buildspec(base: BuildRequest, task: Task) -> Path:
    import hashlib

    assert task.buildspec is not None
    digest = hashlib.sha256(task.buildspec.encode()).hexdigest()[:16]
    path = base.work_dir / "inline-buildspecs" / f"{task.identifier}-{digest}.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(task.buildspec)
    return path


# ---------------------------------------------------------------- running


def run_batch(plan_: Plan, store: Store, view: BatchView, options: BatchOptions) -> BatchResult:
    return _BatchRun(plan_, store, view, options).run()


class _BatchRun:
    def __init__(self, plan_: Plan, store: Store, view: BatchView, options: BatchOptions) -> None:
        self.plan, self.store, self.view, self.options = plan_, store, view, options
        self.tasks = plan_.batch.tasks
        first = next(iter(plan_.requests.values()))
        self.record = create_batch(
            store,
            first.project,
            plan_.batch.kind,
            plan_.buildspec,
            [(t.identifier, t.depends_on, _settings(t)) for t in self.tasks],
            os.getpid(),
            {"jobs": options.jobs, "fast_fail": plan_.batch.fast_fail, "source": str(first.source)},
        )
        self.ended: dict[str, str] = {}
        self.ran: set[str] = set()
        self.started: set[str] = set()
        self.running: dict[Future[BuildResult], str] = {}
        self.signals: dict[str, StopSignal] = {}
        self.results: dict[str, BuildResult] = {}
        self.stopping: str | None = None  # STOPPED, TIMED_OUT, or FAILED (fast-fail)
        timeout = options.timeout_min
        self.deadline = time.monotonic() + timeout * 60 if timeout else None

    def run(self) -> BatchResult:
        pool = ThreadPoolExecutor(max_workers=self.options.jobs, thread_name_prefix="batch")
        try:
            self._loop(pool)
        except KeyboardInterrupt:
            self._stop_all(STOPPED)
            self._drain()
            self._finish()
            raise
        finally:
            pool.shutdown(wait=True)
        return self._finish()

    def _loop(self, pool: ThreadPoolExecutor) -> None:
        while True:
            self._check_stop()
            if self.stopping is None:
                self._start_ready(pool)
            self._skip_never_run()
            if not self.running:
                return
            done, _ = wait(self.running, timeout=POLL_S, return_when=FIRST_COMPLETED)
            for future in done:
                self._finished(future)

    def _start_ready(self, pool: ThreadPoolExecutor) -> None:
        free = self.options.jobs - len(self.running)
        for task in model.ready(self.tasks, self.ended, self.ran, self.started)[: max(free, 0)]:
            member = BatchMember(self.record.id, task.identifier)
            request = replace(self.plan.requests[task.identifier], batch=member)
            signal = StopSignal()
            self.signals[task.identifier] = signal
            self.started.add(task.identifier)
            self.view.start(task.identifier)
            show = self.view.show_for(task.identifier)
            self.running[pool.submit(run_build, request, self.store, show, signal)] = task.identifier

    def _finished(self, future: Future[BuildResult]) -> None:
        identifier = self.running.pop(future)
        task = next(t for t in self.tasks if t.identifier == identifier)
        try:
            result = future.result()
            status = result.status
            self.results[identifier] = result
        except Exception as e:  # recorded FAULT by the build itself when it got that far
            status = FAULT
            set_task_status(self.store, self.record.id, identifier, FAULT)
            self.view.note(identifier, FAULT, str(e).splitlines()[0] if str(e) else type(e).__name__)
        self.ended[identifier] = status
        self.ran.add(identifier)
        if model.counts_as_failure(task, status) and self.plan.batch.fast_fail and self.stopping is None:
            self._stop_all("FAILED")

    def _skip_never_run(self) -> None:
        for task in model.never_run(self.tasks, self.ended, self.ran):
            self.ended[task.identifier] = STOPPED
            set_task_status(self.store, self.record.id, task.identifier, STOPPED)
            failed = [d for d in task.depends_on if d in self.ended]
            self.view.note(task.identifier, STOPPED, f"not started: {', '.join(failed)} did not succeed")

    def _check_stop(self) -> None:
        if self.stopping is not None:
            return
        if self.deadline is not None and time.monotonic() > self.deadline:
            self._stop_all(TIMED_OUT)
        elif batch_stop_requested(self.store, self.record.id):
            self._stop_all(STOPPED)

    def _stop_all(self, why: str) -> None:
        """Stop every running task: tell its build, and kill its container now (a quiet
        command would otherwise only notice when it prints)."""
        self.stopping = why
        running = set(self.running.values())
        for identifier in running:
            self.signals[identifier].event.set()
        for task in tasks_of(self.store, self.record.id):
            if task.identifier in running and task.build_id is not None:
                stop_build(self.store, task.build_id)

    def _drain(self) -> None:
        """After Ctrl-C: wait for the stopped builds to record themselves (a second Ctrl-C
        leaves the rest to the next command's crash recovery)."""
        for future in list(self.running):
            try:
                self._finished(future)
            except KeyboardInterrupt:
                raise
            except Exception:
                pass

    def _finish(self) -> BatchResult:
        statuses = {**self.ended}
        status = model.batch_status(
            self.tasks, statuses, stopped=self.stopping == STOPPED, timed_out=self.stopping == TIMED_OUT
        )
        finish_batch(self.store, self.record.id, status)
        tasks = tuple(tasks_of(self.store, self.record.id))
        combined = None
        if self.options.combine_artifacts:
            out = self.plan.requests[self.tasks[0].identifier].artifacts_dir
            assert out is not None
            combined = combine_artifacts(out.parent, [t.identifier for t in tasks if t.build_id])
        return BatchResult(self.record.id, status, tasks, dict(self.results), combined)


def _settings(task: Task) -> dict[str, Any]:
    """What a task asked for that the store keeps (type, compute-type, fleet are recorded only)."""
    values: dict[str, Any] = dict(task.env.recorded())
    if task.env.image:
        values["image"] = task.env.image
    if task.buildspec:
        values["buildspec"] = task.buildspec if "\n" not in task.buildspec else "(inline)"
    if task.ignore_failure:
        values["ignore-failure"] = True
    if task.debug_session:
        values["debug-session"] = True
    return values


# ---------------------------------------------------------------- combined artifacts


def combine_artifacts(out: Path, identifiers: list[str], log: Callable[[str], None] | None = None) -> Path:
    """CodeBuild's combineArtifacts: one artifact with a folder per build identifier.
    Here DIR/artifacts/<identifier>/… beside DIR/artifacts.zip (the single-build layout)."""
    tree, partial = out / COMBINED, out / f"{COMBINED}.partial"
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)
    for identifier in identifiers:
        primary = out / identifier / "artifacts"
        if primary.is_dir():
            shutil.copytree(primary, partial / identifier, symlinks=True)
    zip_path = out / f"{COMBINED}.zip"
    with zipfile.ZipFile(out / f"{COMBINED}.zip.partial", "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(partial.rglob("*")):
            archive.write(path, path.relative_to(partial).as_posix())
    shutil.rmtree(tree, ignore_errors=True)
    os.replace(partial, tree)
    os.replace(out / f"{COMBINED}.zip.partial", zip_path)
    if log:
        log(f"combined artifacts of {len(identifiers)} builds in {zip_path}")
    return zip_path
