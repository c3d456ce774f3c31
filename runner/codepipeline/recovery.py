"""Repair after a crash: builds whose runner died are marked FAULT, their containers removed;
deployments whose runner died get their traffic back on the live slot and are marked Failed."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from runner.adapters.processes import still_running
from runner.codebuild.phases import FAULT
from runner.errors import EngineError
from runner.store import Store
from runner.store.batches import finish_batch, running_batches
from runner.store.builds import BuildRecord, event_data, finish_build, running_builds
from runner.store.deployments import unfinished_environments


def recover(store: Store, say: Callable[[str], None]) -> list[str]:
    """Finish interrupted builds as FAULT (logs kept) and remove their containers.

    Cheap when there is nothing to repair (one query, no Docker): every command that
    writes to the store runs it (runner.cli). A build is only finished once its
    containers are gone, so an unreachable engine leaves it for the next command.
    """
    interrupted = [b for b in running_builds(store) if not still_running(b.pid, b.started)]
    repaired = []
    if interrupted:
        from runner.codebuild.build_control import end_containers  # only when something must be repaired
    for build in interrupted:
        try:
            end_containers(build.id, remove=True, say=say)
        except EngineError as e:
            say(f"runner: warning: build {build.id} was interrupted; repaired when the engine answers ({e})")
            continue
        _discard_partial_artifacts(store, build, say)
        reason = f"the runner (pid {build.pid}) ended before the build finished"
        finish_build(store, build.id, FAULT, {"id": build.id, "status": FAULT, "reason": reason})
        store.event("build.interrupted", build.id, reason=reason)
        say(f"build {build.id} was interrupted: recorded as FAULT (its logs are kept)")
        repaired.append(build.id)
    return repaired + recover_batches(store, say) + recover_deployments(store, say)


def recover_batches(store: Store, say: Callable[[str], None]) -> list[str]:
    """A batch whose runner died: its builds are repaired above; the batch ends FAULT and
    its tasks that never started are listed STOPPED."""
    repaired = []
    for batch in running_batches(store):
        if still_running(batch.pid, batch.started):
            continue
        finish_batch(store, batch.id, FAULT)
        say(f"batch {batch.id} was interrupted: recorded as FAULT")
        repaired.append(batch.id)
    return repaired


def recover_deployments(store: Store, say: Callable[[str], None]) -> list[str]:
    """Environments with a deployment whose runner died: repair them now (cheap when none)."""
    environments = unfinished_environments(store, still_running)
    if not environments:
        return []
    from runner.codedeploy import EnvironmentBusy, locks, stack
    from runner.core import config_loader  # only when something must be repaired
    from runner.errors import RunnerError

    path = config_loader.find()
    if path is None:
        say("runner: warning: a deployment was interrupted; run `runner up ENV` in its project to repair it")
        return []
    config = config_loader.load(path)
    repaired = []
    for name in environments:
        try:
            env = config.environment(name)
            with locks.hold(store, name, "recovery"):
                stack.repair_locked(config, store, env, say, "recovery")
            repaired.append(name)
        except EnvironmentBusy:
            continue  # a live deployment holds it: it repairs what it takes over
        except RunnerError as e:
            say(f"runner: warning: {name}: an interrupted deployment could not be repaired yet ({e})")
    return repaired


def _discard_partial_artifacts(store: Store, build: BuildRecord, say: Callable[[str], None]) -> None:
    """A runner killed mid-copy leaves NAME.zip.partial and a half NAME/ tree: remove them."""
    from runner.codebuild.artifacts import ARTIFACTS_EVENT, discard_partial

    for data in event_data(store, ARTIFACTS_EVENT, build.id):
        out = Path(data["dir"])
        for name in discard_partial(out) if out.is_dir() else []:
            say(f"removed the half-written artifact {name} of build {build.id} from {out}")
