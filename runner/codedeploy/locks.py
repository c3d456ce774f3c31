"""The deployment lock: one deployment per environment at a time, kept in the store.

It survives a crash of its holder: a lock whose process is gone (or whose pid now
belongs to a younger process) is stale and taken over. A second deployment is refused
with CodeDeploy's DeploymentLimitExceededException wording, never interleaved.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from runner.adapters.processes import still_running
from runner.errors import RunnerError
from runner.store import Store
from runner.store.deployments import LockRecord, acquire_lock, get_lock, release_lock


class EnvironmentBusy(RunnerError):
    """Another deployment (or environment operation) holds the environment's lock."""

    def __init__(self, environment: str, holder: LockRecord) -> None:
        self.environment = environment
        self.holder = holder
        if holder.holder.startswith("d-"):
            message = (
                f"The Deployment Group '{environment}' already has an active Deployment '{holder.holder}'"
            )
        else:
            message = f"environment {environment} is busy: {holder.holder} (pid {holder.pid}) holds it"
        super().__init__(message)


def lock_name(environment: str) -> str:
    return f"deploy:{environment}"


def is_stale(lock: LockRecord) -> bool:
    """The holder's process is gone, or its pid was reused by a process started later."""
    return not still_running(lock.pid, lock.acquired)


def try_acquire(store: Store, environment: str, holder: str) -> LockRecord | None:
    """Take the lock; returns the stale holder it replaced (or None). Raises EnvironmentBusy."""
    taken, previous = acquire_lock(store, lock_name(environment), holder, os.getpid(), is_stale)
    if not taken:
        assert previous is not None
        raise EnvironmentBusy(environment, previous)
    if previous is not None:
        store.event("lock.stale", environment, holder=previous.holder, pid=previous.pid, taken_by=holder)
    return previous


@contextmanager
def hold(store: Store, environment: str, holder: str, wait_s: float = 0.0) -> Iterator[LockRecord | None]:
    """Hold the environment's lock for the block; with wait_s, wait for a non-deployment holder."""
    deadline = time.monotonic() + wait_s
    while True:
        try:
            previous = try_acquire(store, environment, holder)
            break
        except EnvironmentBusy as busy:
            if busy.holder.holder.startswith("d-") or time.monotonic() >= deadline:
                raise
            time.sleep(0.1)
    try:
        yield previous
    finally:
        release_lock(store, lock_name(environment), holder)


def current(store: Store, environment: str) -> LockRecord | None:
    """The live holder of the environment's lock (a stale one counts as none)."""
    lock = get_lock(store, lock_name(environment))
    return None if lock is None or is_stale(lock) else lock
