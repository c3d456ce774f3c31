"""Store rows as the build engine, the pipeline and the deploy code write them (for UI tests)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from runner.store import Store

NOW = float(int(time.time()))  # rows are recent, so "the last 30 days" holds them
DAY = 86400.0
COMMIT = "c0ffee" + "0" * 34
EXECUTION = "11111111-2222-3333-4444-555555555555"
SECRET_LOOKING = "Authorization: ***"


def insert(store: Store, table: str, **row: Any) -> None:
    values = [json.dumps(v) if isinstance(v, dict | list) else v for v in row.values()]
    store.execute(
        f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' * len(row))})", tuple(values)
    )


def build(store: Store, number: int, status: str, started: float, **extra: Any) -> str:
    build_id = extra.pop("id", f"demo:{number:08d}-0000-0000-0000-000000000000")
    insert(
        store,
        "builds",
        id=build_id,
        project="demo",
        number=number,
        service=extra.pop("service", "catalog"),
        status=status,
        initiator="alice",
        source_dir="/nonexistent/src",
        source_version="main",
        resolved_source_version=COMMIT,
        build_image="runner/build:bookworm",
        buildspec="buildspec.yml",
        started=started,
        ended=extra.pop("ended", None),
        pid=None,
        result=extra.pop("result", None),
    )
    return build_id


def finished_build(store: Store, home: Path) -> str:
    """A failed build with phases, a report with a failing case, artifacts on disk, exported variables."""
    result = {
        "id": "demo:00000001-0000-0000-0000-000000000000",
        "number": 1,
        "status": "FAILED",
        "phases": [],
        "exported_variables": {"IMAGE_TAG": "catalog:abc123", "TOKEN": "***"},
        "artifacts": {"primary": ["dist/app.txt", "README.md"], "secondary": {}},
        "reports": [
            {
                "name": "demo-unit",
                "file_format": "JUNITXML",
                "status": "FAILED",
                "total": 3,
                "passed": 2,
                "failed": 1,
                "skipped": 0,
                "files": ["reports/junit.xml"],
                "failures": [
                    {
                        "name": "test_price",
                        "suite": "tests.test_items",
                        "status": "FAILED",
                        "message": "AssertionError: 3 != 4",
                        "duration_s": 0.01,
                    },
                ],
                "problem": "",
            }
        ],
    }
    build_id = build(store, 1, "FAILED", NOW - 3600, ended=NOW - 3500, result=result)
    for idx, (name, status, code, message) in enumerate(
        [
            ("SUBMITTED", "SUCCEEDED", "", ""),
            ("INSTALL", "SUCCEEDED", "", ""),
            (
                "BUILD",
                "FAILED",
                "COMMAND_EXECUTION_ERROR",
                "Error while executing command: make test. Reason: exit status 2",
            ),
            ("FINALIZING", "SUCCEEDED", "", ""),
        ],
        start=1,
    ):
        insert(
            store,
            "phases",
            build_id=build_id,
            idx=idx,
            name=name,
            status=status,
            started=NOW - 3600 + idx * 10,
            ended=NOW - 3600 + idx * 10 + 7,
            context=[{"status_code": code, "message": message}],
        )
    lines = ["[Container] 2027/01/15 Entering phase BUILD", "make test", SECRET_LOOKING, "<b>not html</b>"]
    for seq, text in enumerate(lines, start=1):
        insert(store, "log_lines", build_id=build_id, seq=seq, ts=NOW - 3590 + seq, text=text)
    out = home / "artifacts" / build_id.rpartition(":")[2]
    (out / "artifacts" / "dist").mkdir(parents=True)
    (out / "artifacts" / "dist" / "app.txt").write_text("hello artifact\n")
    (out / "artifacts.zip").write_bytes(b"PK\x05\x06" + b"\0" * 18)
    return build_id


def waiting_execution(store: Store) -> str:
    """An execution that passed staging and waits for a manual approval before prod."""
    insert(
        store,
        "executions",
        id=EXECUTION,
        pipeline="demo",
        commit_sha=COMMIT,
        status="InProgress",
        mode="SUPERSEDED",
        trigger="post-commit",
        current_stage="Approval-prod",
        created=NOW - 600,
        ended=None,
        pid=None,
        detail={},
    )
    for i, (stage, status) in enumerate(
        [
            ("Source", "Succeeded"),
            ("Build", "Succeeded"),
            ("Deploy-staging", "Succeeded"),
            ("Test", "Succeeded"),
            ("Approval-prod", "InProgress"),
        ]
    ):
        ended = NOW - 500 + i * 20 if status == "Succeeded" else None
        insert(
            store,
            "stage_executions",
            execution_id=EXECUTION,
            stage=stage,
            status=status,
            started=NOW - 510 + i * 20,
            ended=ended,
            detail={},
        )
    insert(
        store,
        "approvals",
        execution_id=EXECUTION,
        stage="Approval-prod",
        token="secret-approval-token",
        status="Pending",
        requested=NOW - 400,
        expires=NOW + 7 * DAY,
        decided=None,
        summary=None,
    )
    return EXECUTION


def deployment(store: Store, dep_id: str, env: str, status: str, created: float, **extra: Any) -> None:
    insert(
        store,
        "deployments",
        id=dep_id,
        environment=env,
        service=extra.pop("service", "catalog"),
        image_tag=extra.pop("tag", "catalog:c0ffee000000"),
        image_id="sha256:" + "ab" * 32,
        previous_tag="catalog:0ld000000000",
        previous_image_id="sha256:" + "cd" * 32,
        strategy=extra.pop("strategy", "CodeDeployDefault.ECSCanary10Percent5Minutes"),
        status=status,
        kind=extra.pop("kind", "STANDARD"),
        rollback_of=extra.pop("rollback_of", None),
        from_slot="blue",
        to_slot="green",
        commit_sha=extra.pop("commit_sha", COMMIT),
        execution_id=None,
        reason=extra.pop("reason", None),
        detail=extra.pop("detail", {"env": {"DB_PASSWORD": "hunter2"}, "commit_time": created - 5400}),
        created=created,
        started=created + 1,
        ended=extra.pop("ended", created + 60),
        pid=None,
    )


def environment(store: Store) -> None:
    """prod and staging: catalog live on blue in prod, with two past deployments and their events."""
    deployment(store, "d-AAAAAAAA1", "prod", "Succeeded", NOW - 2 * DAY)
    deployment(store, "d-AAAAAAAA2", "prod", "Failed", NOW - DAY, reason="alarm error_rate: 50% > 5%")
    for idx, (name, status) in enumerate(
        [("BeforeInstall", "Succeeded"), ("Install", "Succeeded"), ("AllowTraffic", "Failed")]
    ):
        insert(
            store,
            "lifecycle_events",
            deployment_id="d-AAAAAAAA2",
            idx=idx,
            name=name,
            status=status,
            started=NOW - DAY + idx,
            ended=NOW - DAY + idx + 0.5,
            message="",
        )
    insert(
        store,
        "env_state",
        environment="prod",
        service="catalog",
        live_slot="blue",
        blue_tag="catalog:c0ffee000000",
        blue_image_id="sha256:" + "ab" * 32,
        green_tag="catalog:0ld000000000",
        green_image_id="sha256:" + "cd" * 32,
        weights={"blue": 100, "green": 0},
        updated=NOW - 100,
    )
    insert(
        store,
        "env_state",
        environment="staging",
        service="catalog",
        live_slot="green",
        blue_tag=None,
        blue_image_id=None,
        green_tag="catalog:c0ffee000000",
        green_image_id="sha256:" + "ab" * 32,
        weights={"green": 100},
        updated=NOW - 200,
    )


def fill(store: Store, home: Path) -> dict[str, str]:
    finished = finished_build(store, home)
    running = build(store, 2, "IN_PROGRESS", NOW - 60, service="offers")
    execution = waiting_execution(store)
    environment(store)
    return {"finished": finished, "running": running, "execution": execution}


def pipeline_yml(tmp_path: Path, port: int) -> Path:
    (tmp_path / "project" / "catalog").mkdir(parents=True)
    path = tmp_path / "project" / "pipeline.yml"
    path.write_text(
        "app: demo\nservices:\n  catalog:\n    path: catalog\n    buildspec: buildspec.yml\n"
        f"environments:\n  - name: staging\n    port: {port + 2}\n    test_port: {port + 3}\n"
        f"  - name: prod\n    port: {port}\n    test_port: {port + 1}\n    approval: manual\n"
    )
    return path
