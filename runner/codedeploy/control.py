"""Slot and weight changes of one environment: recorded in the store, then handed to the router.

The alarm watcher and the deployment's own thread both change traffic; a lock orders
them, and once an alarm has sent a service's traffic back ("frozen"), later shift steps
of that deployment are ignored. Which replacement's failed GET/HEAD requests the router
retries on the original slot lives here only, for the deployment's duration (the
environment's lock makes this deployment the state file's only writer meanwhile).
One TrafficControl serves one operation on an environment (a deployment, an `up`, a rollback).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Sequence
from typing import Any

from runner.codedeploy.nginx_config import render_state
from runner.store import Store
from runner.store.deployments import EnvState, env_states, put_env_state


class TrafficControl:
    def __init__(
        self,
        store: Store,
        environment: str,
        services: Sequence[str],
        subject: str,
        publish: Callable[[str], None],
    ) -> None:
        self.store = store
        self.environment = environment
        self.services = tuple(services)
        self.subject = subject  # the deployment id events are recorded under
        self._publish = publish  # hands the router its state file (the platform's publish_state)
        self._lock = threading.RLock()
        self._frozen: set[str] = set()
        self._retry: dict[str, str] = {}  # service → the replacement slot whose failures are retried

    def states(self) -> dict[str, EnvState]:
        found = env_states(self.store, self.environment)
        return {name: state for name, state in found.items() if name in self.services}

    def state(self, service: str) -> EnvState:
        return self.states().get(service) or EnvState(self.environment, service)

    def update(self, service: str, *, force: bool = False, **changes: Any) -> EnvState | None:
        """Change a service's state (weights, test_slot, live_slot, images …) and publish it.

        Returns None, changing nothing, when an alarm froze the service and force is off.
        """
        with self._lock:
            if service in self._frozen and not force:
                return None
            states = self.states()
            state = put_env_state(
                self.store,
                dataclasses.replace(states.get(service) or EnvState(self.environment, service), **changes),
            )
            states[service] = state
            self._publish(render_state(states, self._retry))
        if "weights" in changes or "test_slot" in changes:
            self.store.event(
                "deploy.traffic",
                self.subject,
                service=service,
                weights=state.weights,
                test_slot=state.test_slot,
            )
        return state

    def freeze(self, service: str, **changes: Any) -> EnvState | None:
        """Set the service's traffic now and ignore later unforced changes (alarm rollback)."""
        with self._lock:
            self._frozen.add(service)
            self._retry.pop(service, None)
            return self.update(service, force=True, **changes)

    def retry_on(self, service: str, slot: str | None) -> None:
        """The router retries GET/HEAD requests `slot` fails on the other slot (None: no more)."""
        with self._lock:
            if slot is None:
                self._retry.pop(service, None)
            else:
                self._retry[service] = slot
            self._publish(render_state(self.states(), self._retry))

    def publish(self) -> None:
        """Hand the router its state from the store (after `up`, or a crash)."""
        with self._lock:
            self._publish(render_state(self.states(), self._retry))
