"""Pipeline executions: stages, resume, execution modes and approvals, on a real store and git.

Stage actions are replaced by small functions here (the build and deploy actions are
proven against real Docker in tests/integration/test_pipeline_e2e.py).
"""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from runner.codepipeline import execution as pipeline
from runner.codepipeline.execution import Context, Stage, StageFailed
from runner.core import config_loader
from runner.core.config import PipelineConfig
from runner.store import Store, open_store
from runner.store import pipelines as records

PIPELINE = """\
app: shop
execution_mode: {mode}
services:
  api: {{path: api}}
environments:
  - {{name: staging, port: 18081, test_port: 19081}}
  - {{name: prod, port: 18080, test_port: 19080, approval: {approval}, approval_timeout: {timeout}}}
"""


def make_project(
    tmp_path: Path, mode: str = "SUPERSEDED", approval: str = "auto", timeout: str = "7d"
) -> PipelineConfig:
    root = tmp_path / "repo"
    (root / "api").mkdir(parents=True)
    (root / "api" / "app.py").write_text("print('v1')\n")
    (root / "pipeline.yml").write_text(PIPELINE.format(mode=mode, approval=approval, timeout=timeout))
    git = ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    return config_loader.load(root / "pipeline.yml")


def quiet(_line: str) -> None:
    pass


class Recorder:
    """Fake Build/Deploy actions that count calls and can be held or made to fail."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self.hold: dict[str, threading.Event] = {}
        self.entered: dict[str, threading.Event] = {}
        self.fail: set[str] = set()
        self.interrupt: set[str] = set()

    def action(self, ctx: Context, stage: Stage) -> None:
        key = f"{ctx.execution.id}:{stage.name}"
        self.calls.append((ctx.execution.id, stage.name))
        self.entered.setdefault(key, threading.Event()).set()
        if key in self.hold:
            self.hold[key].wait(10)
        if stage.name in self.interrupt:
            self.interrupt.discard(stage.name)
            raise KeyboardInterrupt
        if stage.name in self.fail:
            raise StageFailed(f"{stage.name} failed on purpose")

    def actions(self) -> dict[str, Callable[[Context, Stage], None]]:
        return {"Build": self.action, "Deploy": self.action, "Test": self.action}


@pytest.fixture
def store(runner_home: Path) -> Store:
    return open_store(runner_home)


def statuses(store: Store, execution_id: str) -> dict[str, str]:
    return {name: row["status"] for name, row in records.stage_rows(store, execution_id).items()}


def test_stages_follow_environments_approvals_and_test(tmp_path: Path) -> None:
    cfg = make_project(tmp_path, approval="manual")
    names = [s.name for s in pipeline.stages(cfg)]
    assert names == ["Source", "Build", "Deploy-staging", "Approval-prod", "Deploy-prod"]


def test_an_execution_runs_every_stage_and_records_it(tmp_path: Path, store: Store) -> None:
    cfg = make_project(tmp_path)
    fake = Recorder()
    execution_id = pipeline.create_execution(cfg, store, None, "manual")
    assert pipeline.run_execution(cfg, store, execution_id, quiet, fake.actions()) == "Succeeded"
    assert statuses(store, execution_id) == {
        "Source": "Succeeded",
        "Build": "Succeeded",
        "Deploy-staging": "Succeeded",
        "Deploy-prod": "Succeeded",
    }
    snapshot = pipeline.snapshot_dir(records.get_execution(store, execution_id).commit_sha)  # type: ignore[union-attr]
    assert (snapshot / "api" / "app.py").read_text() == "print('v1')\n"


def test_a_failure_fails_the_execution_and_releases_the_stage(tmp_path: Path, store: Store) -> None:
    cfg = make_project(tmp_path)
    fake = Recorder()
    fake.fail.add("Deploy-staging")
    execution_id = pipeline.create_execution(cfg, store, None, "manual")
    assert pipeline.run_execution(cfg, store, execution_id, quiet, fake.actions()) == "Failed"
    assert statuses(store, execution_id)["Deploy-staging"] == "Failed"
    assert "Deploy-prod" not in statuses(store, execution_id)
    assert records.busy_stages(store, "shop") == {}


def test_resume_continues_without_redoing_finished_stages(tmp_path: Path, store: Store) -> None:
    cfg = make_project(tmp_path)
    fake = Recorder()
    fake.interrupt.add("Deploy-prod")
    execution_id = pipeline.create_execution(cfg, store, None, "manual")
    with pytest.raises(KeyboardInterrupt):
        pipeline.run_execution(cfg, store, execution_id, quiet, fake.actions())
    assert records.get_execution(store, execution_id).status == "Stopped"  # type: ignore[union-attr]
    assert [e.id for e in pipeline.resumable(store)] == [execution_id]
    before = list(fake.calls)
    assert pipeline.run_execution(cfg, store, execution_id, quiet, fake.actions()) == "Succeeded"
    assert fake.calls[len(before) :] == [(execution_id, "Deploy-prod")]


def _start(
    cfg: PipelineConfig, store: Store, fake: Recorder, results: dict[str, str]
) -> tuple[str, threading.Thread]:
    execution_id = pipeline.create_execution(cfg, store, None, "manual")

    def go() -> None:
        results[execution_id] = pipeline.run_execution(cfg, store, execution_id, quiet, fake.actions())

    thread = threading.Thread(target=go)
    return execution_id, thread


def _wait_until(check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached"
        time.sleep(0.02)


def _three_executions(tmp_path: Path, store: Store, mode: str) -> tuple[list[str], dict[str, str], Recorder]:
    """A holds Build; B then C arrive while it is busy."""
    cfg = make_project(tmp_path, mode=mode)
    fake, results = Recorder(), {}
    a, thread_a = _start(cfg, store, fake, results)
    fake.hold[f"{a}:Build"] = threading.Event()
    thread_a.start()
    fake.entered.setdefault(f"{a}:Build", threading.Event()).wait(10)
    b, thread_b = _start(cfg, store, fake, results)
    thread_b.start()
    _wait_until(lambda: records.get_execution(store, b).waiting_for == "Build")  # type: ignore[union-attr]
    c, thread_c = _start(cfg, store, fake, results)
    thread_c.start()
    if mode != "PARALLEL":
        _wait_until(lambda: records.get_execution(store, c).waiting_for == "Build")  # type: ignore[union-attr]
    fake.hold[f"{a}:Build"].set()
    for thread in (thread_a, thread_b, thread_c):
        thread.join(30)
    return [a, b, c], results, fake


def test_superseded_mode_replaces_the_waiting_execution(tmp_path: Path, store: Store) -> None:
    (a, b, c), results, fake = _three_executions(tmp_path, store, "SUPERSEDED")
    assert results == {a: "Succeeded", b: "Superseded", c: "Succeeded"}
    assert (b, "Build") not in fake.calls


def test_queued_mode_runs_waiting_executions_in_order(tmp_path: Path, store: Store) -> None:
    (a, b, c), results, fake = _three_executions(tmp_path, store, "QUEUED")
    assert results == {a: "Succeeded", b: "Succeeded", c: "Succeeded"}
    builds = [execution for execution, stage in fake.calls if stage == "Build"]
    assert builds == [a, b, c]


def test_parallel_mode_never_waits(tmp_path: Path, store: Store) -> None:
    cfg = make_project(tmp_path, mode="PARALLEL")
    fake, results = Recorder(), {}
    a, thread_a = _start(cfg, store, fake, results)
    fake.hold[f"{a}:Build"] = threading.Event()
    thread_a.start()
    fake.entered.setdefault(f"{a}:Build", threading.Event()).wait(10)
    b, thread_b = _start(cfg, store, fake, results)
    thread_b.start()
    thread_b.join(30)  # B finishes while A is still inside Build
    assert results == {b: "Succeeded"}
    fake.hold[f"{a}:Build"].set()
    thread_a.join(30)
    assert results[a] == "Succeeded"


@pytest.mark.parametrize(("decision", "expected"), [("approve", "Succeeded"), ("reject", "Failed")])
def test_manual_approval(tmp_path: Path, store: Store, decision: str, expected: str) -> None:
    cfg = make_project(tmp_path, approval="manual")
    fake, results = Recorder(), {}
    execution_id, thread = _start(cfg, store, fake, results)
    thread.start()
    _wait_until(lambda: records.approval(store, execution_id) is not None)
    assert "Deploy-prod" not in statuses(store, execution_id)
    if decision == "approve":
        pipeline.approve(store, execution_id[:8], "looks good")
    else:
        pipeline.reject(store, execution_id[:8], "not today")
    thread.join(30)
    assert results[execution_id] == expected
    assert records.approval(store, execution_id)["status"] == (
        "Approved" if decision == "approve" else "Rejected"
    )  # type: ignore[index]


def test_approval_timeout_fails_the_action(tmp_path: Path, store: Store) -> None:
    cfg = make_project(tmp_path, approval="manual", timeout="300ms")
    fake = Recorder()
    execution_id = pipeline.create_execution(cfg, store, None, "manual")
    assert pipeline.run_execution(cfg, store, execution_id, quiet, fake.actions()) == "Failed"
    assert records.approval(store, execution_id)["status"] == "Expired"  # type: ignore[index]
    assert statuses(store, execution_id)["Approval-prod"] == "Failed"
