"""pipeline.yml `build_engines:`: the Build stage's service builds spread over several engines.

The pipeline runs its service builds in threads of one process, so the engine is chosen per
build, not per process (DOCKER_HOST is one per process): within the build's thread the Docker
adapter talks to the chosen engine (client.on_engine), and the executor copies the workspace
through that engine's API when it does not see our files (probed once per engine). Only the
buildspec's phases run there: the service image is built afterwards on this machine's engine
from the artifacts that came back, as without a fleet, so the deploys find it where they run.

A build is placed on the least-loaded reachable engine (runner/core/placement.py); one whose
engine is gone when it ends as FAULT is run once more on another engine. Both builds stay in
the history, each with the engine it ran on (`engine` in its result).
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from runner.codebuild.phases import FAULT
from runner.core.config import PipelineConfig
from runner.core.engines import Engine, named
from runner.core.placement import EngineLoad, choose
from runner.errors import EngineError, RunnerError
from runner.store import Store
from runner.store import builds as build_records

if TYPE_CHECKING:
    from runner.adapters.docker.executor import DockerExecutor
    from runner.adapters.docker.remote import Endpoint
    from runner.codebuild.build import BuildRequest, BuildResult

Say = Callable[[str], None]


@dataclass
class Fleet:
    """The Build stage's engines; one per stage execution, shared by its build threads."""

    engines: tuple[Engine, ...]
    say: Say
    _placed: dict[str, list[str]] = field(default_factory=dict)  # engine → this stage's builds there
    _down: set[str] = field(default_factory=set)  # found unreachable: not asked again in this stage
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def of(cls, config: PipelineConfig, say: Say) -> Fleet | None:
        """None without build_engines: (every build on this process's engine, as before)."""
        if not config.build_engines:
            return None
        if config.aws == "local":  # its local AWS listens on this machine only
            say("warning: aws: local: the builds run on the local engine, not on build_engines:")
            return None
        return cls(tuple(named(config.engines, name) for name in config.build_engines), say)

    def run(self, request: BuildRequest, store: Store, show: Say) -> BuildResult:
        """The buildspec's phases on the least-loaded engine; once more on another one when the
        build ended FAULT (engine trouble: an engine that dies mid-build may still answer for
        a moment while it stops its containers, so FAULT decides, not a reachability check)."""
        engine = self._place(request.project, show)
        if engine is None:
            tried = ", ".join(e.name for e in self.engines)
            raise RunnerError(f"no build engine is reachable (build_engines: {tried})")
        result = self._run_on(engine, request, store, show)
        if result.status != FAULT:
            return result
        other = self._place(request.project, show, avoid=(engine.name,))
        if other is None:
            self.say(
                f"build {result.id} ended FAULT on engine {engine.name}, and no other engine is reachable"
            )
            return result
        self.say(f"build {result.id} ended FAULT on engine {engine.name}: running it again on {other.name}")
        return self._run_on(other, dataclasses.replace(request, submitted=time.time()), store, show)

    def _place(self, project: str, show: Say, avoid: tuple[str, ...] = ()) -> Engine | None:
        with self._lock:  # builds placed together see each other's placement
            loads = [self._load(engine) for engine in self.engines if engine.name not in avoid]
            for down in (load for load in loads if not load.ok and load.name not in self._down):
                self._down.add(down.name)
                self.say(f"warning: build engine {down.name} is unreachable ({down.error}): skipping it")
            chosen = choose(loads, avoid)
            if chosen is None:
                return None
            self._placed.setdefault(chosen.name, []).append(project)
        show(f"building on engine {chosen.name} ({chosen.running} build(s) there, {chosen.ncpu} CPUs)")
        return named(self.engines, chosen.name)

    def _done(self, engine: Engine, project: str) -> None:
        with self._lock:
            self._placed[engine.name].remove(project)

    def _load(self, engine: Engine) -> EngineLoad:
        """Facts and running builds of one engine. This stage's builds there count from their
        placement on (their containers start later), each once: not also as a running container."""
        from runner.adapters.docker import remote

        if engine.name in self._down:
            return EngineLoad(engine.name, False, error="unreachable")
        where = _endpoint(engine)
        facts = remote.facts(where)
        if not facts.ok:
            return EngineLoad(engine.name, False, error=facts.error or "unreachable")
        try:
            running = remote.running_builds(where)  # the project of each running build container
        except EngineError as e:
            return EngineLoad(engine.name, False, error=str(e))
        ours = self._placed.get(engine.name, [])
        others = [project for project in running if project not in ours]
        return EngineLoad(engine.name, True, len(others) + len(ours), facts.ncpu or 1)

    def _run_on(self, engine: Engine, request: BuildRequest, store: Store, show: Say) -> BuildResult:
        from runner.codebuild.build import run_build

        try:
            with _on(engine, request, show) as executor:
                result = run_build(request, store, show=show, executor=executor)
        finally:
            self._done(engine, request.project)
        build_records.note_result(store, result.id, engine=engine.name)
        return result


@contextlib.contextmanager
def _on(engine: Engine, request: BuildRequest, show: Say) -> Iterator[DockerExecutor]:
    """This thread's Docker calls go to `engine`; its executor, the build image made present there."""
    from runner.adapters.docker import client
    from runner.adapters.docker.executor import DockerExecutor
    from runner.adapters.docker.remote import shares_filesystem

    if engine.url is None:
        yield DockerExecutor()
        return
    where = _endpoint(engine)
    with client.on_engine(engine.url, client.Tls(engine.tls_ca, engine.tls_cert, engine.tls_key)):
        executor = DockerExecutor(shares_files=shares_filesystem(where, request.work_dir))
        if not executor.has_image(request.image):
            _copy_image(request.image, where, show)
        yield executor


def _endpoint(engine: Engine) -> Endpoint:
    from runner.adapters.docker.remote import Endpoint

    return Endpoint(engine.url, engine.tls_ca, engine.tls_cert, engine.tls_key)


def _copy_image(image: str, target: Endpoint, show: Say) -> None:
    """From this process's engine, by id, as `runner build -H` does."""
    from runner.images.on_engine import present_on
    from runner.output import TransferProgress

    show(f"{target.shown()} has no {image}: copying it there")
    copied = present_on(target, image, TransferProgress(f"{image} → {target.shown()}"), show)
    show(f"copied {image} to {target.shown()}: {copied.bytes_sent >> 20} MB in {copied.seconds:.1f}s")
