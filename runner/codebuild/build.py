"""Runs one build: source → phases in fresh containers → artifacts, reports, cache.

Everything is recorded in the store before it is acted on; a Ctrl-C or `runner stop`
ends as STOPPED, the timeout as TIMED_OUT, engine trouble as FAULT, and no container
is left running in any case.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from runner.adapters.docker.executor import DockerExecutor
from runner.adapters.executor import Executor, RunRequest
from runner.adapters.git import describe
from runner.codebuild import build_paths, cache, phases, runtime_install, secondary_sources, workspace
from runner.codebuild.artifacts import ARTIFACTS_EVENT
from runner.codebuild.build_outputs import make_reports, upload_artifacts
from runner.codebuild.build_result import (
    RUNTIME_WARNING,
    BuildRequest,
    BuildResult,
    PhaseRecord,
    load_inputs,
    local_notes,
)
from runner.codebuild.build_setup import SetupInputs, new_record, phase_setup, state_reader
from runner.codebuild.buildenv import BuildIdentity
from runner.codebuild.buildlog import BuildLog
from runner.codebuild.buildspec import Buildspec
from runner.codebuild.buildspec_checks import syntax_report
from runner.codebuild.debug import record_phase_start
from runner.codebuild.phase_ahead import Ahead
from runner.codebuild.phase_runner import (
    Deadline,
    PhaseOutcome,
    PhaseSetup,
    StopSignal,
    first_container,
    remove_later,
    run_phase,
    wait_for_removals,
)
from runner.codebuild.reports import Report
from runner.codebuild.shell import read_exported
from runner.core.secrets import Masker, SecretSources, secrets_path
from runner.errors import EngineError, PhaseError, RunnerError, StoreError
from runner.localaws.limits import HINT as CREDENTIALS_HINT
from runner.localaws.mode import secret_texts as aws_secret_texts
from runner.store import Store
from runner.store.builds import BuildRecord, create_build, finish_build, record_phase, stop_requested

if TYPE_CHECKING:
    from runner.localaws.provision import BuildAws

__all__ = ["RUNTIME_WARNING", "BuildRequest", "BuildResult", "PhaseRecord", "load_inputs", "run_build"]


def run_build(
    request: BuildRequest,
    store: Store,
    show: Callable[[str], None] | None = None,
    stop: StopSignal | None = None,
    executor: Executor | None = None,
) -> BuildResult:
    """Validate first (nothing recorded on a config error), then record and run the build
    (its containers on `executor`, the Docker engine's by default)."""
    spec, secret_values = load_inputs(request)
    masker = Masker([*secret_values.values(), *aws_secret_texts(request)])
    build = _Build(request, spec, secret_values, masker, store, show, stop, executor or DockerExecutor())
    return build.run()


class _Build:
    """The state of one running build; `run()` walks CodeBuild's phases."""

    def __init__(
        self,
        request: BuildRequest,
        spec: Buildspec,
        secret_values: dict[str, str],
        masker: Masker,
        store: Store,
        show: Callable[[str], None] | None,
        stop: StopSignal | None,
        executor: Executor,
    ) -> None:
        self.request, self.spec, self.secret_values = request, spec, secret_values
        self.executor = executor
        self.masker, self.store = masker, store
        self.uuid = str(uuid.uuid4())
        self.started = request.submitted or time.time()
        self.phase_records: list[PhaseRecord] = []
        self.record = self._create_record()
        self.stop = stop or StopSignal()
        self.stop.check = lambda: stop_requested(store, self.record.id)
        self.log = BuildLog(store, self.record.id, masker, show)
        self.space: workspace.Workspace | None = None
        self.setup: PhaseSetup
        self.secret_sources = SecretSources(None, {}, {})
        self.secrets_file = secrets_path(request.secrets_file)  # never copied nor uploaded
        self.exported: dict[str, str] = {}
        self.artifacts: dict[str, list[str]] = {}
        self.reports: list[Report] = []
        self.in_progress: tuple[str, float, str] | None = None  # command phase, start, image
        self.partial_source = False  # DOWNLOAD_SOURCE failed half-way (e.g. a full disk)
        self.final: build_paths.Final | None = None  # where the last command phase left the build
        self.paths: build_paths.BuildPaths | None = None
        self.runtime_state: str | None = None  # the shell state runtime-versions left
        self.ahead: Ahead | None = None  # containers of the next phases, started ahead
        self.aws: BuildAws | None = None  # --aws local

    def _create_record(self) -> BuildRecord:
        info = describe(self.request.source)
        self.resolved = self.request.resolved_source_version or info.commit
        self.source_version = self.request.source_version or info.branch or self.resolved
        self.repo_url = info.repo_url
        self.secondary = tuple(secondary_sources.describe(s) for s in self.request.secondary_sources)
        return create_build(
            self.store,
            new_record(self.request, self.spec.path, f"{self.request.project}:{self.uuid}", self.started,
                       self.source_version, self.resolved),
            # linked at once (`runner stop BATCH` must find it; its first event names the batch)
            (link.batch_id, link.identifier) if (link := self.request.batch) else None,
        )  # fmt: skip

    def run(self) -> BuildResult:
        try:
            return self._run()
        finally:
            self._discard_prepared()
            if self.partial_source and self.space is not None:
                # Only now, once the FAULT is recorded (or could not be: a full disk may
                # hold the store too), give the space of the half copy back.
                workspace.remove_source(self.space)

    def _run(self) -> BuildResult:
        for warning in (*self.spec.warnings, *local_notes(self.spec, self.request.batch is not None)):
            self.log.container(f"Warning: {warning}")
        try:
            self._record("SUBMITTED", phases.SUCCEEDED, self.started, "", "")  # from the request on
            self._phase("PROVISIONING", self._provision)
            self._phase("DOWNLOAD_SOURCE", self._download_source)
            self._command_phases()
        except KeyboardInterrupt:
            self._record_in_progress(phases.STOPPED, "BUILD_STOPPED", "Build was stopped")
            self._record_abnormal(phases.STOPPED, "BUILD_STOPPED", "Build was stopped (interrupted)")
            self._finish()
            raise
        except _PhaseFailed:
            pass
        except EngineError as e:
            self._record_in_progress(phases.FAULT, "ENGINE_ERROR", str(e))
            self._record_abnormal(phases.FAULT, "ENGINE_ERROR", str(e))
        except StoreError:
            raise  # nothing more can be recorded; the next command's recovery finishes it
        except Exception as e:  # a bug of ours: the build must not stay IN_PROGRESS
            self._record_abnormal(phases.FAULT, "INTERNAL_ERROR", _one_line(e))
            self._finish()
            raise
        return self._finish()

    def _record_in_progress(self, status: str, code: str, message: str) -> None:
        """Ctrl-C or engine trouble during a command phase: record that phase too (it is
        where `runner debug` goes by default)."""
        if self.in_progress is not None:
            name, started, image = self.in_progress
            self.in_progress = None
            self._record(name, status, started, code, message, image)

    # ------------------------------------------------------------ phases

    def _phase(self, name: str, action: Callable[[], None]) -> None:
        started = time.time()
        try:
            action()
        except (RunnerError, OSError) as e:
            status = phases.FAULT if isinstance(e, EngineError | OSError) else phases.FAILED
            code = "CLIENT_ERROR"
            if isinstance(e, PhaseError):
                status, code = e.status, e.status_code
            self._record(name, status, started, code, _one_line(e))
            if isinstance(e, PhaseError) and e.hint:
                self.log.container(e.hint)
            raise _PhaseFailed() from e
        self._record(name, phases.SUCCEEDED, started, "", "")

    def _provision(self) -> None:
        if not self.executor.has_image(self.request.image):
            raise EngineError(
                f"build image {self.request.image} not found: run `runner images bootstrap` or pull/build it"
            )
        if self.request.aws_account:
            from runner.localaws.provision import for_request

            self.aws = for_request(self.request)
            for note in self.aws.notes:
                self.log.container(note)

    def _download_source(self) -> None:
        self.space = workspace.create(
            self.request.work_dir,
            self.uuid,
            self.request.source,
            self.request.mount_source,
            self.request.secondary_sources,
        )
        try:
            own = workspace.runner_paths(self.request.work_dir, self.request.cache_dir, self.store.path)
            workspace.copy_source(self.request.source, self.space, (*own, *self._secrets_file()))
        except workspace.SourceCopyError:
            self.partial_source = True
            raise
        if self.spec.run_as or any(p.run_as for p in self.spec.phases):
            workspace.open_permissions(self.space)
        self.log.container(f"CODEBUILD_SRC_DIR={self.space.container_src}")
        for info in self.secondary:  # the local agent logs each one, in -s order
            self.log.container(
                f"CODEBUILD_SRC_DIR_{info.identifier}={self.space.container_secondary(info.identifier)}"
            )
        self.log.container(f"YAML location is {self.spec.path}")
        for line in syntax_report(self.spec.unknown_keys):
            self.log.container(line)
        self.setup = self._setup()
        installed = runtime_install.install(
            self.spec, self.setup, self.log, self.stop, self.request.timeout_min * 60
        )
        self.setup, self.runtime_state = replace(self.setup, image=installed.image), installed.state_dir
        if self.spec.cache and self.request.cache_dir:
            found = cache.restore(
                self.spec.cache,
                self.request.cache_dir,
                self.space,
                self.log.container,
                self.setup.env,
            )
            restored = cache.restore_absolute_paths(self.space, self.setup) if found else None
            if restored:
                self.setup = replace(self.setup, image=restored)

    def _command_phases(self) -> None:
        setup = self.setup
        deadline = Deadline(time.monotonic() + self.request.timeout_min * 60)
        if self.executor.shares_files:  # the gate is a FIFO in the workspace
            self.ahead = Ahead(self.executor, setup.tmp_host, setup.tmp_container, remove_later)
        current, succeeding, attempt = phases.INSTALL, True, 1
        image, state = setup.image, self.runtime_state
        while current in phases.COMMAND_PHASES:
            phase = self.spec.phase(current.lower())
            if self.stop.requested():  # `runner stop` between two containers
                self._record(current, phases.STOPPED, time.time(), "BUILD_STOPPED", "Build was stopped")
                current = phases.FINALIZING
                break
            self.log.container(f"Entering phase {current}")
            if phase is None or not (phase.commands or phase.finally_commands):
                self._record(current, phases.SUCCEEDED, time.time(), "", "", snapshot=image)
                current = phases.following(current)
                continue
            self.in_progress = (current, time.time(), image)
            user = phase.run_as or self.spec.run_as
            saving = replace(setup.saving, reader=state_reader(self.spec, current, user))
            phase_setup = replace(setup, image=image, user=user, saving=saving)
            refreshed = {"CODEBUILD_BUILD_SUCCEEDING": "1" if succeeding else "0"}
            assert self.space is not None
            record_phase_start(self.space, current, phase_setup, state, refreshed, self.secret_sources)
            upcoming = self._upcoming(current, setup, image)
            outcome = run_phase(
                phase, attempt, phase_setup, state, refreshed, self.log, deadline, self.stop,
                self.ahead, upcoming,
            )  # fmt: skip
            self.in_progress = None
            self._record_outcome(current, outcome, image)
            step = phases.next_step(
                current, outcome.status, succeeding, phase.on_failure, outcome.message, attempt
            )
            if step.retry:
                self.phase_records[-1] = replace(self.phase_records[-1], retried=True)
                attempt += 1
                self.log.container(f"Retrying phase {current} (attempt {attempt})")
                continue
            image, state, attempt = outcome.image_after, outcome.state_dir, 1
            self._read_exported(state)
            succeeding, current = step.succeeding, step.phase
        self.final = build_paths.Final(setup, image, state)
        if current == phases.UPLOAD_ARTIFACTS:
            try:
                self._phase(phases.UPLOAD_ARTIFACTS, self._upload_artifacts)
            except _PhaseFailed:
                pass  # recorded; FINALIZING still runs
        self._phase(phases.FINALIZING, lambda: self._finalize(image))

    def _upcoming(self, current: str, setup: PhaseSetup, image: str) -> list[tuple[str, RunRequest]]:
        """The first containers of the command phases after `current` if each succeeds
        without a snapshot: they start from `image` too (runner/codebuild/phase_ahead.py)."""
        result = []
        name = phases.following(current)
        while name in phases.COMMAND_PHASES:
            phase = self.spec.phase(name.lower())
            if phase is not None and (phase.commands or phase.finally_commands):
                user = phase.run_as or self.spec.run_as
                result.append(first_container(phase, replace(setup, image=image, user=user)))
            name = phases.following(name)
        return result

    def _discard_prepared(self) -> None:
        """No container started ahead outlives the build (Ctrl-C included), nor a volume that
        held its workspace on an engine that does not see our files."""
        if self.ahead is not None:
            self.ahead.discard_all()
        wait_for_removals()
        try:
            self.executor.release()
        except EngineError as e:
            self.log.container(f"Warning: {e}")

    def _setup(self) -> PhaseSetup:
        assert self.space is not None
        who = BuildIdentity(
            project=self.request.project,
            uuid=self.uuid,
            number=self.record.number,
            image=self.request.image,
            initiator=self.request.initiator,
            region=self.request.region,
            src_dir=self.space.container_src,
            start_ms=int(self.started * 1000),
            source_version=self.source_version,
            resolved_source_version=self.resolved,
            repo_url=self.repo_url,
        )
        made = phase_setup(
            SetupInputs(
                self.request, self.spec, self.space, who, self.record.id, self.secret_values,
                self.secrets_file, self.secondary, self.aws, self.executor,
            )
        )  # fmt: skip
        self.secret_sources = made.secret_sources
        return made.setup

    def _secrets_file(self) -> tuple[Path, ...]:
        return (self.secrets_file,) if self.secrets_file else ()

    def _read_exported(self, state_dir: str) -> None:
        if self.space is None or not state_dir:
            return
        host = self.space.output / Path(state_dir).relative_to(workspace.CONTAINER_OUTPUT)
        try:
            self.exported = read_exported((host / "exported").read_bytes())
        except OSError:
            pass

    def _upload_artifacts(self) -> None:
        assert self.space is not None
        if self.spec.artifacts is not None:
            out = self.request.artifacts_dir or (self.request.work_dir.parent / "artifacts" / self.uuid)
            # Recorded first: if the runner dies mid-copy, recovery removes the half-written output.
            self.store.event(ARTIFACTS_EVENT, self.record.id, dir=str(out))
            self.artifacts = upload_artifacts(
                self.space, self.spec.artifacts, self._paths(), out, self._secrets_file(), self.log.container
            )

    def _finalize(self, image: str) -> None:
        assert self.space is not None
        ran_build = any(p.name == phases.BUILD for p in self.phase_records)
        if self.spec.reports and ran_build:
            self.reports = make_reports(
                self.space, self.spec.reports, self._paths(), self.request, self.masker, self.log.container
            )
        if self.spec.cache and self.request.cache_dir:
            cache.save(
                self.spec.cache, self.request.cache_dir, self.space, image, self.setup, self.log.container
            )

    def _paths(self) -> build_paths.BuildPaths:
        """Artifact and report paths need the build's final variables (decision 23): read once."""
        assert self.space is not None and self.final is not None
        if self.paths is None:
            self.paths = build_paths.prepare(self.spec, self.space, self.final, self.log.container)
        return self.paths

    # ------------------------------------------------------------ records

    def _record(
        self,
        name: str,
        status: str,
        started: float,
        code: str,
        message: str,
        snapshot: str | None = None,
    ) -> None:
        context = [{"status_code": code, "message": self.masker(message)}]
        phase = PhaseRecord(name, status, started, time.time(), context, snapshot)
        self._store_phase(phase, code, message, logged=name != "SUBMITTED")

    def _record_outcome(self, name: str, outcome: PhaseOutcome, image: str) -> None:
        context = self.masker.deep(outcome.context)
        phase = PhaseRecord(name, outcome.status, outcome.started, outcome.ended, context, image)
        self._store_phase(phase, outcome.status_code, outcome.message)

    def _store_phase(self, phase: PhaseRecord, code: str, message: str, logged: bool = True) -> None:
        self.phase_records.append(phase)
        record_phase(
            self.store,
            self.record.id,
            len(self.phase_records),
            phase.name,
            phase.status,
            phase.started,
            phase.ended,
            phase.context,
            phase.snapshot,
        )
        if logged:
            self.log.container(f"Phase complete: {phase.name} State: {phase.status}")
            self.log.container(f"Phase context status code: {code} Message: {message}")
        self.log.flush()  # what comes next (an upload, a cache save) may be long and silent

    def _record_abnormal(self, status: str, code: str, message: str) -> None:
        self._record("FINALIZING", status, time.time(), code, message)

    def _finish(self) -> BuildResult:
        self._discard_prepared()
        status = phases.build_status(p.status for p in self.phase_records if not p.retried)
        if status == phases.FAILED and self.log.missing_credentials and not self.request.aws_account:
            self.log.container(CREDENTIALS_HINT)
        self.log.container(f"Build {self.record.id} completed: {status}")
        self.log.flush()
        result = BuildResult(
            id=self.record.id,
            number=self.record.number,
            status=status,
            phases=tuple(self.phase_records),
            exported_variables=self.masker.deep(self.exported),
            artifacts=self.artifacts,
            reports=tuple(self.reports),
            workspace=str(self.space.root) if self.space else "",
            secondary_sources=secondary_sources.as_json(
                self.secondary, self.space.container_secondary if self.space else None
            ),
        )
        finish_build(self.store, self.record.id, status, self.masker.deep(result.as_json()))
        return result


class _PhaseFailed(Exception):
    """A non-command phase (provisioning, source, artifacts) failed and was recorded."""


def _one_line(e: BaseException) -> str:
    return str(e).splitlines()[0] if str(e) else type(e).__name__
