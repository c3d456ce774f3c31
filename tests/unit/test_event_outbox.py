"""The outbox: every state change the store records yields its event, in the same transaction."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from runner.events import shapes
from runner.store import Store, deliveries, outbox
from runner.store import pipelines as executions
from runner.store.builds import BuildRecord, create_build, finish_build, record_phase
from runner.store.deployments import DeploymentRecord, create_deployment, update_deployment
from tests.events_shape import assert_shape


@pytest.fixture
def store(tmp_path: Path) -> Store:
    opened = Store(tmp_path / "state.db")
    outbox.configure(opened, shapes.Where("123456789012", "eu-west-1"))
    return opened


def _events(store: Store) -> list[dict[str, Any]]:
    return [event for _, event in deliveries.events(store)]


def _build(store: Store, build_id: str = "proj:1111") -> BuildRecord:
    record = BuildRecord(
        id=build_id, project="proj", number=0, service=None, status="IN_PROGRESS", initiator="me",
        source_dir="/src", source_version="main", resolved_source_version="abc", build_image="img",
        buildspec="buildspec.yml", started=time.time(), ended=None, pid=1, result=None,
    )  # fmt: skip
    return create_build(store, record)


def test_a_build_announces_its_start_phases_and_end(store: Store) -> None:
    _build(store)
    now = time.time()
    record_phase(store, "proj:1111", 1, "SUBMITTED", "SUCCEEDED", now, now, [])
    record_phase(store, "proj:1111", 2, "INSTALL", "IN_PROGRESS", now, None, [])  # not ended: no event
    record_phase(
        store,
        "proj:1111",
        2,
        "INSTALL",
        "FAILED",
        now,
        now + 2,
        [{"status_code": "COMMAND_EXECUTION_ERROR", "message": "exit 1"}],
    )
    finish_build(store, "proj:1111", "FAILED", {})
    found = _events(store)
    assert [
        (e["detail-type"], e["detail"].get("build-status") or e["detail"]["completed-phase"]) for e in found
    ] == [
        (shapes.BUILD_STATE, "IN_PROGRESS"),
        (shapes.BUILD_PHASE, "SUBMITTED"),
        (shapes.BUILD_PHASE, "INSTALL"),
        (shapes.BUILD_STATE, "FAILED"),
    ]
    for event in found:
        assert_shape(event)
        assert event["account"] == "123456789012" and event["region"] == "eu-west-1"
        assert event["resources"] == ["arn:aws:codebuild:eu-west-1:123456789012:build/proj:1111"]
    failed_phase, final = found[2]["detail"], found[3]["detail"]
    assert failed_phase["completed-phase-status"] == "FAILED"
    assert failed_phase["completed-phase-context"] == "[COMMAND_EXECUTION_ERROR: exit 1]"
    assert failed_phase["completed-phase-duration-seconds"] == 2
    assert final["current-phase"] == "COMPLETED" and final["additional-information"]["build-complete"] is True
    assert [p["phase-type"] for p in final["additional-information"]["phases"]] == [
        "SUBMITTED",
        "INSTALL",
        "COMPLETED",
    ]


def test_a_state_change_that_rolls_back_announces_nothing(store: Store) -> None:
    _build(store)
    before = len(_events(store))
    with pytest.raises(RuntimeError), store.transaction() as db:
        db.execute("UPDATE builds SET status='SUCCEEDED', ended=? WHERE id=?", (time.time(), "proj:1111"))
        outbox.build_changed(store, db, "proj:1111")
        raise RuntimeError("the process dies before COMMIT")
    assert len(_events(store)) == before
    assert store.query("SELECT status FROM builds")[0][0] == "IN_PROGRESS"


def test_a_pipeline_execution_announces_pipeline_stage_and_action_states(store: Store) -> None:
    executions.create_execution(store, "e1", "shop", "abc", "SUPERSEDED", "manual")
    executions.record_stage(store, "e1", "Deploy-prod", "InProgress")
    executions.record_stage(
        store, "e1", "Deploy-prod", "InProgress", {"deployments": {}}
    )  # no change: no event
    executions.record_stage(
        store, "e1", "Deploy-prod", "Failed", {"error": "catalog: deployment d-1 Failed"}, True
    )
    executions.finish_execution(store, "e1", "Failed")
    executions.set_execution(store, "e1", status="InProgress", ended=None)  # `runner pipeline resume`
    found = _events(store)
    assert [(e["detail-type"].split()[1], e["detail"]["state"]) for e in found] == [
        ("Pipeline", "STARTED"),
        ("Stage", "STARTED"),
        ("Action", "STARTED"),
        ("Action", "FAILED"),
        ("Stage", "FAILED"),
        ("Pipeline", "FAILED"),
        ("Pipeline", "RESUMED"),
    ]
    for event in found:
        assert_shape(event)
    action = found[3]["detail"]
    assert action["type"] == {
        "owner": "AWS",
        "category": "Deploy",
        "provider": "CodeDeployToECS",
        "version": 1,
    }
    assert action["execution-result"]["external-execution-summary"] == "catalog: deployment d-1 Failed"
    assert found[0]["detail"]["execution-trigger"]["trigger-type"] == "StartPipelineExecution"


def test_a_superseded_execution_is_announced(store: Store) -> None:
    older = executions.create_execution(store, "e-old", "shop", "a", "SUPERSEDED", "hook")
    executions.set_execution(store, older.id, current_stage="waiting:Build", created=1.0)
    newer = executions.create_execution(store, "e-new", "shop", "b", "SUPERSEDED", "hook")
    assert (
        executions.try_enter_stage(store, newer, "Build") == "waiting"
    )  # behind the older one: supersedes it
    superseded = [e for e in _events(store) if e["detail"]["state"] == "SUPERSEDED"]
    assert [e["detail"]["execution-id"] for e in superseded] == ["e-old"]


def test_a_deployment_announces_start_and_end_only(store: Store) -> None:
    record = DeploymentRecord(
        id="d-1", environment="prod", service="catalog", image_tag="catalog:abc", image_id="sha256:1",
        strategy="CodeDeployDefault.ECSAllAtOnce", status="Created", created=time.time(),
    )  # fmt: skip
    create_deployment(store, record)
    update_deployment(store, "d-1", status="InProgress", started=time.time())
    update_deployment(store, "d-1", status="Baking")
    update_deployment(store, "d-1", detail={"x": 1})
    update_deployment(store, "d-1", status="Failed", ended=time.time())
    found = _events(store)
    assert [e["detail"]["state"] for e in found] == ["START", "FAILURE"]
    for event in found:
        assert_shape(event)
        assert event["detail"]["application"] == "catalog" and event["detail"]["deploymentGroup"] == "prod"
        assert (
            event["resources"][1] == "arn:aws:codedeploy:eu-west-1:123456789012:deploymentgroup:catalog/prod"
        )


def test_a_rollback_recorded_finished_starts_and_succeeds(store: Store) -> None:
    record = DeploymentRecord(
        id="d-2", environment="prod", service="catalog", image_tag="catalog:old", image_id="sha256:0",
        strategy="CodeDeployDefault.ECSAllAtOnce", status="Succeeded", created=time.time(), kind="ROLLBACK",
    )  # fmt: skip
    create_deployment(store, record)
    assert [e["detail"]["state"] for e in _events(store)] == ["START", "SUCCESS"]
