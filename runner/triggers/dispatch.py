"""The queue worker: turns queue rows into pipeline executions and working-tree builds.

Pipeline rows: each commit becomes its own execution, started at once in a thread, in
queue order. The pipeline's stage locks then do CodePipeline's superseding at stage
boundaries (runner/store/pipelines.py): a newer execution replaces the one waiting in
front of a busy stage, an execution inside a stage is never replaced. Superseding in the
queue instead would not be the same thing: the first commit of a burst would be dropped
when the pipeline is idle, a new commit could not build while an older one waits for an
approval or bakes in prod, and QUEUED/PARALLEL modes would be lost.

Build rows (working-tree saves): one build per service at a time by default, at most
`jobs` at once; only the newest waits (runner/store/queue.py: enqueue_build).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.adapters import git as source
from runner.core import config_loader
from runner.core.config import PipelineConfig
from runner.errors import RunnerError
from runner.store import Store, queue
from runner.store import pipelines as executions
from runner.store.queue import BUILD, PIPELINE, QueueEntry

if TYPE_CHECKING:  # the pipeline engine is imported once a commit is taken (a fast cold start)
    from runner.codepipeline import execution as pipeline

POLL_S = 0.25
Say = Callable[[str], None]
# service → (must it be built, why): the reasons printed and stored for a commit
Decide = Callable[[PipelineConfig, Store, str], dict[str, tuple[bool, str]]]
BuildFn = Callable[..., Any]


def service_decisions(config: PipelineConfig, store: Store, commit: str) -> dict[str, tuple[bool, str]]:
    """runner/codepipeline/service_build.py decides (inputs since the last build of each service)."""
    from runner.codepipeline.service_build import decisions  # once a commit is taken: a fast cold start

    return {name: (d.rebuild, d.reason) for name, d in decisions(config, store, commit).items()}


def build_service(*args: Any, **kwargs: Any) -> Any:
    from runner.codepipeline.service_build import build_service as build

    return build(*args, **kwargs)


class Dispatcher:
    """Drains the queue; step() starts what may start and reaps what ended."""

    def __init__(
        self,
        pipeline_file: Path,
        store: Store,
        say: Say,
        *,
        per_service: int = 1,
        jobs: int | None = None,
        actions: Mapping[str, pipeline.Action] | None = None,
        decide: Decide = service_decisions,
        build: BuildFn = build_service,
        initiator: str = "runner worker",
    ) -> None:
        self.pipeline_file, self.store, self.home = pipeline_file, store, store.path.parent
        self.per_service, self.jobs = per_service, jobs
        self.actions, self.decide, self.build, self.initiator = actions, decide, build, initiator
        self._say_lock = threading.Lock()
        self._say = say
        self.threads: dict[int, tuple[QueueEntry, threading.Thread]] = {}
        self.wakeup = threading.Event()
        self.stopping = False
        self._announced: set[int] = set()
        self._summary = ""

    # ------------------------------------------------------------ output

    def say(self, line: str) -> None:
        with self._say_lock:
            self._say(line)

    def _announce(self, entries: list[QueueEntry]) -> None:
        for entry in entries:
            if entry.id not in self._announced:
                self._announced.add(entry.id)
                where = f", {entry.ref}" if entry.ref else ""
                self.say(f"queue {entry.label()}: queued ({entry.source}{where})")
        running = [e.label() for e, _ in self.threads.values()]
        summary = f"queue: {len(running)} running{' (' + ', '.join(running) + ')' if running else ''}, "
        summary += f"{len(entries)} waiting"
        if summary != self._summary:
            self._summary = summary
            self.say(summary)

    # ------------------------------------------------------------ the loop

    def run(self, idle_exit: float | None = None) -> None:
        """Step until interrupted, or until idle for idle_exit seconds."""
        idle_since: float | None = None
        while True:
            if self.step():
                idle_since = None
            elif idle_exit is not None:
                idle_since = idle_since or time.monotonic()
                if time.monotonic() - idle_since >= idle_exit:
                    return
            self.wakeup.wait(POLL_S)
            self.wakeup.clear()

    def step(self) -> bool:
        """One pass; True while anything is queued or running."""
        if self.stopping:
            return bool(self.threads)
        for entry_id in queue.ingest_spool(self.store, self.home):
            self.store.event("queue.spooled-entry", str(entry_id))
        self._reap()
        waiting = queue.with_status(self.store, queue.QUEUED)
        self._announce(waiting)
        config = self._config(waiting)
        for entry in waiting if config is not None else []:
            assert config is not None
            if entry.kind == PIPELINE:
                self._start_pipeline(config, entry)
            elif entry.kind == BUILD and self._may_build(config, entry):
                self._start_build(config, entry)
        return bool(self.threads) or bool(queue.with_status(self.store, queue.QUEUED))

    def _config(self, waiting: list[QueueEntry]) -> PipelineConfig | None:
        """pipeline.yml as it is now: re-read for every pass that has work (act's --watch #301)."""
        if not waiting:
            return None
        try:
            return config_loader.load(self.pipeline_file)
        except RunnerError as e:
            for entry in waiting:
                self._end(entry, queue.FAILED, f"pipeline.yml: {e}")
            return None

    def _reap(self) -> None:
        for entry_id, (_entry, thread) in list(self.threads.items()):
            if not thread.is_alive():
                del self.threads[entry_id]

    def _end(self, entry: QueueEntry, status: str, reason: str | None = None) -> None:
        queue.finish(self.store, entry.id, status, reason)
        self.say(f"queue {entry.label()}: {status}" + (f" ({reason})" if reason else ""))
        self.wakeup.set()

    def _spawn(self, entry: QueueEntry, name: str, target: Callable[[], None]) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self.threads[entry.id] = (entry, thread)
        thread.start()

    # ------------------------------------------------------------ pipeline rows

    def _start_pipeline(self, config: PipelineConfig, entry: QueueEntry) -> None:
        assert entry.commit_sha is not None
        watched = config.branch or source.current_branch(config.root)
        if entry.ref is not None and entry.ref != f"refs/heads/{watched}":
            ships = f"the pipeline ships branch {watched}" if watched else "no branch: HEAD is detached"
            self._end(entry, queue.SKIPPED, f"made on {entry.ref}; {ships}")
            return
        if not queue.claim(self.store, entry.id):
            return
        try:
            decided = self.decide(config, self.store, entry.commit_sha)
        except RunnerError as e:
            self._end(entry, queue.FAILED, str(e))
            return
        for _name, (_rebuild, reason) in sorted(decided.items()):
            self.say(f"queue {entry.label()}: {reason}")
        self.store.event(
            "trigger.decision",
            entry.commit_sha,
            entry=entry.id,
            services={
                name: {"rebuild": rebuild, "reason": reason} for name, (rebuild, reason) in decided.items()
            },
        )
        if not any(rebuild for rebuild, _ in decided.values()):
            self._end(entry, queue.SKIPPED, "no service input changed")
            return
        from runner.codepipeline import execution as pipeline

        execution_id = pipeline.create_execution(config, self.store, entry.commit_sha, trigger=entry.source)
        queue.set_result(self.store, entry.id, execution_id)
        self.say(f"queue {entry.label()}: running as execution {execution_id[:8]}")
        self._start_execution(config, entry, execution_id)

    def _start_execution(self, config: PipelineConfig, entry: QueueEntry, execution_id: str) -> None:
        self._spawn(
            entry, f"execution-{execution_id[:8]}", lambda: self._run_execution(config, entry, execution_id)
        )

    def _run_execution(self, config: PipelineConfig, entry: QueueEntry, execution_id: str) -> None:
        from runner.codepipeline import execution as pipeline

        short = execution_id[:8]
        reason = None
        try:
            status = pipeline.run_execution(
                config, self.store, execution_id, lambda line: self.say(f"{short} {line}"), self.actions
            )
        except KeyboardInterrupt:  # shutdown(): the pipeline recorded its stage as Stopped
            executions.finish_execution(self.store, execution_id, executions.STOPPED)
            status, reason = executions.STOPPED, "the worker was interrupted"
        except Exception as e:  # a bug must not leave the row RUNNING forever
            executions.finish_execution(self.store, execution_id, executions.FAILED)
            status, reason = executions.FAILED, f"{type(e).__name__}: {e}"
        self._end(entry, status.upper(), reason)

    def resume_orphans(self) -> None:
        """RUNNING rows of a worker that died: resume their executions, queue builds again."""
        for entry in queue.with_status(self.store, queue.RUNNING):
            execution = executions.get_execution(self.store, entry.result_id) if entry.result_id else None
            if entry.kind == BUILD or entry.result_id is None:
                queue.requeue(self.store, entry.id)
            elif execution is None or execution.status != executions.IN_PROGRESS:
                self._end(entry, (execution.status if execution else queue.FAILED).upper(), "found ended")
            else:
                self.say(f"queue {entry.label()}: resuming execution {execution.id[:8]}")
                self._start_execution(config_loader.load(self.pipeline_file), entry, execution.id)

    # ------------------------------------------------------------ build rows

    def _may_build(self, config: PipelineConfig, entry: QueueEntry) -> bool:
        builds = [e for e, _ in self.threads.values() if e.kind == BUILD]
        same = sum(1 for e in builds if e.service == entry.service)
        return len(builds) < (self.jobs or config.build_parallelism) and same < self.per_service

    def _start_build(self, config: PipelineConfig, entry: QueueEntry) -> None:
        assert entry.service is not None
        if entry.service not in {s.name for s in config.services}:
            self._end(entry, queue.SKIPPED, f"no service {entry.service!r} in pipeline.yml any more")
            return
        if not queue.claim(self.store, entry.id):
            return
        self.say(f"queue {entry.label()}: building the working tree")
        self._spawn(entry, f"build-{entry.service}", lambda: self._run_build(config, entry))

    def _run_build(self, config: PipelineConfig, entry: QueueEntry) -> None:
        name = entry.service
        reason = None
        try:
            result = self.build(
                config, name, self.store, commit=None, initiator=self.initiator,
                show=lambda line: self.say(f"  {name} | {line}"),
            )  # fmt: skip
            if result.build is not None:
                queue.set_result(self.store, entry.id, result.build.id)
            status = str(result.status)
            reason = result.image.tag if result.image is not None else (result.error or None)
        except KeyboardInterrupt:
            status, reason = queue.STOPPED, "the worker was interrupted"
        except RunnerError as e:
            status, reason = queue.FAILED, str(e)
        except Exception as e:
            status, reason = queue.FAILED, f"{type(e).__name__}: {e}"
        self._end(entry, status, reason)

    # ------------------------------------------------------------ stopping

    def shutdown(self, timeout: float = 60.0) -> None:
        """Ctrl-C: stop this process's builds, interrupt executions, wait for every thread."""
        self.stopping = True
        if not self.threads:
            return
        self.say(f"stopping {len(self.threads)} running entries…")
        # Executions first: the interrupt is pending when their builds end, so the stage is
        # recorded Stopped (resumable), not Failed because its build was stopped.
        for entry, thread in self.threads.values():
            if entry.kind == PIPELINE:
                interrupt(thread)
        stop_own_builds(self.store)
        deadline = time.monotonic() + timeout
        for entry, thread in list(self.threads.values()):
            thread.join(max(0.1, deadline - time.monotonic()))
            if thread.is_alive():
                self.say(f"queue {entry.label()}: still running after {timeout:.0f}s; leaving it")
        for entry in queue.with_status(self.store, queue.RUNNING):
            if entry.id in self.threads:
                self._end(entry, queue.STOPPED, "the worker was interrupted")
        self._reap()


def stop_own_builds(store: Store) -> None:
    """`runner stop` for every build this process runs: recorded first, then containers killed."""
    from runner.codebuild.build_control import stop_build
    from runner.store.builds import running_builds

    for build in running_builds(store):
        if build.pid == os.getpid():
            stop_build(store, build.id)


def interrupt(thread: threading.Thread) -> None:
    """Raise KeyboardInterrupt inside a thread, as Ctrl-C does in a foreground `runner pipeline run`.

    The pipeline handles it at its stage boundary (records the stage Stopped, releases its
    lock); it fires when the thread next runs Python code, i.e. within one poll interval.
    """
    import ctypes

    if thread.ident is not None and thread.is_alive():
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(KeyboardInterrupt)
        )
