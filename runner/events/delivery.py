"""Delivering the outbox: route each new event to the rules it matches, then run their
targets, at least once, with bounded retries and backoff, every attempt recorded.

Asynchronous: a runner command delivers from a background thread with its own store
connection, so a build or a deployment never waits for a target; before the process exits,
what is due is delivered (for at most DRAIN_S), and what is left (a target that is down, a
process killed with -9) is delivered by the next runner command, which also takes over
deliveries whose holder died. An event older than MAX_EVENT_AGE_S is not delivered any more
(EventBridge's default maximum event age).
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from runner.errors import RunnerError
from runner.events.patterns import matches
from runner.events.rules import Rule, Target, effective
from runner.events.shapes import Where
from runner.store import deliveries, outbox
from runner.store.db import Store

POLL_S = 0.5
DRAIN_S = 5.0
MAX_EVENT_AGE_S = 24 * 3600.0


@dataclass(frozen=True, slots=True)
class Policy:
    attempts: int = 5  # then the delivery is FAILED (`runner events --failed-deliveries`)
    first_backoff_s: float = 2.0
    max_backoff_s: float = 120.0
    hold_s: float = 60.0  # a lease: longer than any target's timeout

    def backoff(self, attempt: int) -> float:
        return float(min(self.max_backoff_s, self.first_backoff_s * 2 ** (attempt - 1)))


@dataclass(frozen=True, slots=True)
class Project:
    """What delivery needs from pipeline.yml: where events happen, the rules, and the
    directory commands run in."""

    where: Where
    rules: tuple[Rule, ...]
    root: Path


def route_new(store: Store, rules: Sequence[Rule], now: float) -> int:
    routed = 0
    for seq, ts, event in deliveries.unrouted(store):
        chosen = [] if ts < now - MAX_EVENT_AGE_S else targets_of(rules, event)
        deliveries.route(store, seq, chosen, now)
        routed += 1
    return routed


def targets_of(rules: Sequence[Rule], event: dict[str, object]) -> list[tuple[str, str]]:
    return [
        (rule.name, target.key()) for rule in rules if matches(rule.pattern, event) for target in rule.targets
    ]


def pump(store: Store, project: Project, policy: Policy, deadline: float | None = None) -> int:
    """Route what is new and deliver what is due; with a deadline, also wait for retries
    that come due before it. Returns the number of attempts made."""
    now = time.time()
    if not deliveries.has_work(store, now) and deadline is None:
        return 0
    route_new(store, project.rules, now)
    deliveries.expire(store, now - MAX_EVENT_AGE_S)
    made = 0
    while deadline is None or time.time() < deadline:
        claimed = deliveries.claim_due(store, time.time(), policy.hold_s, limit=1)
        if claimed:
            deliver(store, claimed[0], policy, project.root)
            made += 1
            continue
        if deadline is None or not deliveries.has_work(store, deadline):
            break
        time.sleep(min(0.2, max(0.0, deadline - time.time())))  # a retry comes due before the deadline
        route_new(store, project.rules, time.time())
    return made


def deliver(store: Store, delivery: deliveries.Delivery, policy: Policy, cwd: Path) -> None:
    from runner.events import targets  # urllib and friends (~40 ms): only once something is due

    try:
        targets.send(Target.from_json(delivery.target), delivery.event, delivery.rule, cwd)
    except targets.Skipped as e:
        deliveries.finish_attempt(store, delivery, deliveries.SKIPPED, str(e))
    except Exception as e:  # a target's failure, or ours: recorded, retried, never fatal
        reason = str(e) if isinstance(e, targets.DeliveryFailed) else f"{type(e).__name__}: {e}"
        if delivery.attempt >= policy.attempts:
            given_up = f"{reason} (gave up after {delivery.attempt} attempts)"
            deliveries.finish_attempt(store, delivery, deliveries.FAILED, given_up)
        else:
            retry_at = time.time() + policy.backoff(delivery.attempt)
            deliveries.finish_attempt(store, delivery, deliveries.PENDING, reason, retry_at)
    else:
        deliveries.finish_attempt(store, delivery, deliveries.DELIVERED)


# ---------------------------------------------------------------- in the background


class Dispatcher:
    """One store's delivery thread in this process."""

    def __init__(self, path: Path, project: Project, policy: Policy | None = None) -> None:
        self.path, self.project, self.policy = path, project, policy or Policy()
        self._stop = threading.Event()
        self._drain_until = 0.0
        self.thread = threading.Thread(target=self._run, name="runner-events", daemon=True)

    def start(self) -> None:
        self.thread.start()

    def stop(self, drain_s: float = DRAIN_S) -> None:
        """Deliver what is due (for at most drain_s), then end the thread."""
        self._drain_until = time.time() + drain_s
        self._stop.set()
        self.thread.join(drain_s + 1.0)

    def _run(self) -> None:
        try:
            store = Store(self.path)
        except RunnerError:
            return
        try:
            while not self._stop.is_set():
                pump(store, self.project, self.policy)
                self._stop.wait(POLL_S)
            pump(store, self.project, self.policy, deadline=self._drain_until)
        except RunnerError:
            pass  # the store is unusable (a full disk …): the next command delivers
        finally:
            store.close()


_ACTIVE: dict[Path, Dispatcher] = {}


def attach(store: Store) -> None:
    """For each store a command opens: events name the project's account and region, and a
    background thread delivers them (and whatever an earlier process left)."""
    if store.path in _ACTIVE:
        return
    project = load_project()
    outbox.configure(store, project.where if project else Where())
    if project is not None:  # a broken pipeline.yml: its rules are unknown, route nothing yet
        _ACTIVE[store.path] = Dispatcher(store.path, project)
        _ACTIVE[store.path].start()


def detach_all(drain_s: float = DRAIN_S) -> None:
    """Before the process exits: deliver what is due, then stop every delivery thread."""
    deadline = time.time() + drain_s
    while _ACTIVE:
        _, dispatcher = _ACTIVE.popitem()
        dispatcher.stop(max(0.0, deadline - time.time()))


def load_project(start: Path | None = None) -> Project | None:
    """The rules of the project here: pipeline.yml's, or only the defaults without one."""
    from runner.core import config_loader

    path = config_loader.find(start)
    if path is None:
        region = os.environ.get("AWS_REGION") or "us-east-1"
        return Project(Where(region=region), effective((), None), (start or Path.cwd()).resolve())
    try:
        loaded = config_loader.load(path)
    except RunnerError:
        return None
    rules = effective(loaded.notifications, loaded.default_notifications)
    return Project(Where(loaded.account, loaded.region), rules, loaded.root)
