"""Repair after a crash: builds whose runner died are marked FAULT; their containers removed."""

from __future__ import annotations

from collections.abc import Callable

from runner import docker_engine
from runner.phases import FAULT
from runner.processes import pid_alive
from runner.store import Store
from runner.store.builds import finish_build, running_builds


def recover(store: Store, say: Callable[[str], None]) -> list[str]:
    """Finish interrupted builds as FAULT (logs kept) and remove their containers."""
    repaired = []
    for build in running_builds(store):
        if pid_alive(build.pid):
            continue
        for container in docker_engine.managed_containers({"runner.build": build.id}):
            docker_engine.remove_container(container["id"])
            say(f"removed orphan container {container['name']} of build {build.id}")
        reason = f"the runner (pid {build.pid}) ended before the build finished"
        finish_build(store, build.id, FAULT, {"id": build.id, "status": FAULT, "reason": reason})
        store.event("build.interrupted", build.id, reason=reason)
        say(f"build {build.id} was interrupted: recorded as FAULT")
        repaired.append(build.id)
    return repaired
