"""The deployment lock (stale holders, CodeDeploy's refusal wording) and deployment records in the store."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from runner.codedeploy.locks import EnvironmentBusy, hold, is_stale, try_acquire
from runner.codedeploy.model import new_deployment_id
from runner.core.image_ref import ImageRef
from runner.store import Store
from runner.store.deployments import (
    DeploymentRecord,
    EnvState,
    LockRecord,
    active_queue,
    create_deployment,
    env_state,
    get_deployment,
    get_lock,
    put_env_state,
    update_deployment,
)


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "state.db")


def dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_second_deployment_is_refused_with_codedeploy_wording(store: Store) -> None:
    assert try_acquire(store, "prod", "d-AAAAAAAAA") is None
    with pytest.raises(EnvironmentBusy) as busy:
        try_acquire(store, "prod", "d-BBBBBBBBB")
    assert str(busy.value) == "The Deployment Group 'prod' already has an active Deployment 'd-AAAAAAAAA'"
    assert busy.value.exit_code == 1
    try_acquire(store, "staging", "d-CCCCCCCCC")  # another environment is independent


def test_a_dead_holder_is_stale_and_taken_over(store: Store) -> None:
    pid = dead_pid()
    store.execute(
        "INSERT INTO locks (name, holder, pid, acquired) VALUES ('deploy:prod', 'd-DEAD00000', ?, ?)",
        (pid, time.time()),
    )
    previous = try_acquire(store, "prod", "d-NEW000000")
    assert previous is not None and previous.holder == "d-DEAD00000"
    assert get_lock(store, "deploy:prod") is not None
    assert store.query("SELECT COUNT(*) FROM events WHERE kind='lock.stale'")[0][0] == 1


def test_a_reused_pid_is_stale() -> None:
    assert not is_stale(LockRecord("x", "d-X", os.getpid(), time.time()))
    assert is_stale(LockRecord("x", "d-X", os.getpid(), 0.0))  # this process started after the lock was taken


def test_hold_releases_and_waits_only_for_non_deployments(store: Store) -> None:
    with hold(store, "prod", "d-AAAAAAAAA"), pytest.raises(EnvironmentBusy), hold(store, "prod", "up:1", 0.3):
        pass
    assert get_lock(store, "deploy:prod") is None
    with hold(store, "prod", "up:1"), pytest.raises(EnvironmentBusy, match="environment prod is busy: up:1"):
        try_acquire(store, "prod", "d-BBBBBBBBB")


def test_deployment_records(store: Store) -> None:
    deployment_id = new_deployment_id()
    assert deployment_id.startswith("d-") and len(deployment_id) == 11 and deployment_id[2:].isupper()
    create_deployment(
        store,
        DeploymentRecord(
            deployment_id, "prod", "web", "web:1", "sha256:1", "AllAtOnce", "Created", 1.0, detail={"a": 1}
        ),
    )
    update_deployment(store, deployment_id, detail={"b": 2}, status="Succeeded", ended=2.0)
    image = ImageRef("web:1", "sha256:1", "reg:5000/web@sha256:" + "d" * 64)
    record = get_deployment(store, deployment_id)
    assert record is not None and record.detail == {"a": 1, "b": 2} and record.status == "Succeeded"
    assert record.summary()["rolled_back"] is False
    state = put_env_state(
        store,
        EnvState("prod", "web", live_slot="blue", weights={"blue": 100}).with_image("blue", image),
    )
    assert env_state(store, "prod", "web") == state and state.image("blue") == image
    assert state.with_image("blue", None).image("blue") is None and state.image("green") is None
    assert env_state(store, "prod", "api") == EnvState("prod", "api")
    store.execute("INSERT INTO queue (kind, source, status, enqueued) VALUES ('build', 'watch', 'DONE', 1)")
    store.execute(
        "INSERT INTO queue (kind, source, status, enqueued) VALUES ('build', 'watch', 'RUNNING', 2)"
    )
    assert [row["status"] for row in active_queue(store)] == ["RUNNING"]

