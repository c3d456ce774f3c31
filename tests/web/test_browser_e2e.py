"""End to end in headless chromium against a real `runner ui` process, real deployments and a
real pipeline execution: watch a canary shift the weights bar, roll back, approve.

The environment (compose + the njs router, two versions of the deploy tests' tiny service)
is brought up once for the module; everything it creates carries a module label too, so
its images are removed by label at the end.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from runner.adapters.docker import images
from runner.codedeploy import DeploymentResult, ImageRef, deploy, down
from runner.codepipeline import execution as pipeline
from runner.codepipeline.execution import Context, Stage
from runner.core.config import PipelineConfig
from runner.store import Store, open_store
from runner.store.deployments import env_state
from tests.integration.deploy.helpers import build_app, free_ports, get, sample, write_project
from tests.web.browser import shot

# time_scale 60: canary:50:7m waits 7 s real time at 50 %, the termination wait (60m) a minute.
PIPELINE = """\
app: {app}
time_scale: 60
services:
  web:
    path: web
    health_timeout: 20s
environments:
  - name: prod
    port: {port}
    test_port: {test_port}
    approval: manual
    termination_wait: 60m
"""
CANARY = "canary:50:7m"
WAIT_MS = 60_000


@dataclass
class Project:
    root: Path
    home: Path
    config: PipelineConfig
    store: Store
    label: str  # key=value on every Docker object this module creates
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)


@dataclass(frozen=True)
class Ui:
    base: str
    token: str


def git(root: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
    )


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    """A git project with pipeline.yml (prod behind a manual approval), its RUNNER_HOME and store."""
    base = tmp_path_factory.mktemp("dashboard-e2e")
    port, test_port = free_ports(2)
    app = f"w{uuid.uuid4().hex[:6]}"
    config = write_project(
        base / "repo", PIPELINE.format(app=app, port=port, test_port=test_port), {"web/README": "web\n"}
    )
    git(config.root, "init", "-q")
    git(config.root, "add", ".")
    git(config.root, "commit", "-qm", "web")
    label = f"runner.webtest={app}"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("RUNNER_HOME", str(base / "home"))
        env.setenv("RUNNER_LABELS", f"{os.environ.get('RUNNER_LABELS', '')},{label}".strip(","))
        store = open_store(base / "home")
        try:
            yield Project(config.root, base / "home", config, store, label)
        finally:
            store.close()


@pytest.fixture(scope="module")
def ui(project: Project) -> Iterator[Ui]:
    """`runner ui --port 0` in the project, as a user starts it; stopped by its pid (Ctrl-C)."""
    errors = project.home.parent / "ui.stderr"
    with errors.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "runner", "ui", "--port", "0"],
            cwd=project.root,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        found = re.fullmatch(r"runner ui: (http://127\.0\.0\.1:\d+)/\?token=(\S+)", line)
        assert found, f"runner ui printed {line!r}; stderr: {errors.read_text()}"
        yield Ui(found[1], found[2])
    finally:
        os.kill(process.pid, signal.SIGINT)
        process.communicate(timeout=30)
    assert process.returncode == 130, errors.read_text()
    assert "Traceback" not in errors.read_text()


@dataclass(frozen=True)
class Versions:
    v1: ImageRef
    v2: ImageRef


@pytest.fixture(scope="module")
def environment(project: Project) -> Iterator[Versions]:
    """prod up with v1 live (deployed all at once); down with its volumes and images at the end."""
    repo = f"{project.config.app}-web"
    try:
        versions = Versions(build_app(f"{repo}:1a1a1a1a1a1a", "1"), build_app(f"{repo}:2b2b2b2b2b2b", "2"))
        first = deploy(
            project.config, project.store, "prod", "web", versions.v1, strategy="AllAtOnce", say=project.say
        )
        assert first.status == "Succeeded", first.reason
        yield versions
    finally:
        try:
            down(project.config, project.store, "prod", say=project.say)
        finally:
            for image in images.list_images([project.label]):
                images.remove_image(image.id)


def in_thread(work: Any) -> tuple[threading.Thread, list[Any]]:
    box: list[Any] = []

    def run() -> None:
        try:
            box.append(work())
        except BaseException as e:  # the test reports it after join
            box.append(e)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, box


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def expect_weight(slot: Any, percent: int) -> None:
    """The bar's segment for a slot: its data, its label and its width all say `percent`."""
    expect(slot).to_have_attribute("data-weight", str(percent), timeout=WAIT_MS)
    expect(slot).to_have_text(re.compile(rf"^(blue|green) {percent}%$"))
    expect(slot).to_have_attribute("style", f"width:{percent}%")


def versions_served(port: int) -> set[str]:
    return set(sample(port, "/web/version", 40))


@pytest.mark.docker
@pytest.mark.slow
def test_watch_a_real_canary_then_roll_back(
    page: Any, ui: Ui, project: Project, environment: Versions
) -> None:
    env = project.config.environment("prod")
    page.goto(f"{ui.base}/environments?token={ui.token}")
    web = page.locator('[data-environment="prod"] [data-service="web"]')
    blue, green = web.locator('.weights [data-slot="blue"]'), web.locator('.weights [data-slot="green"]')
    expect_weight(blue, 100)
    assert green.count() == 0 and versions_served(env.port) == {"1"}
    shot(page, "e2e-environments-v1-live")

    thread, box = in_thread(
        lambda: deploy(
            project.config, project.store, "prod", "web", environment.v2, strategy=CANARY, say=project.say
        )
    )
    try:
        expect_weight(green, 50)
        expect_weight(blue, 50)
        canary = web.locator("tr[data-deployment]").first
        expect(canary.locator(".schedule")).to_have_text("50% for 7.0s → 100%")  # scaled, not AWS's 7m
        served = versions_served(env.port)
        if len(env_state(project.store, "prod", "web").weights) == 2:  # still in the canary step
            assert served == {"1", "2"}, served
        shot(page, "e2e-environments-canary-50")

        expect_weight(green, 100)
        assert blue.count() == 0
        assert versions_served(env.port) == {"2"}
        warm = web.locator('.other-slot[data-slot="blue"]')
        expect(warm).to_have_attribute("data-container", "running", timeout=WAIT_MS)
        expect(warm).to_contain_text("for an instant rollback")
        shot(page, "e2e-environments-canary-done")

        page.once("dialog", lambda dialog: dialog.accept())
        web.get_by_role("button", name="Roll back", exact=True).click()
        page.locator("#notice").get_by_text("rollback prod/web: Succeeded").wait_for(timeout=WAIT_MS)
        expect_weight(blue, 100)
        assert green.count() == 0
        assert versions_served(env.port) == {"1"}
        code, body = get(env.port, "/web/version")
        assert (code, body["version"], body["slot"]) == (200, "1", "blue")
        gone = web.locator('.other-slot[data-slot="green"]')  # rolled back: its container was removed
        expect(gone).to_have_attribute("data-container", "absent", timeout=WAIT_MS)
        expect(gone).to_contain_text("(removed)")
        web.locator("tr[data-deployment]").first.get_by_text("rollback", exact=True).wait_for()
        shot(page, "e2e-environments-rolled-back")
    finally:
        thread.join(timeout=120)
    result = box[0] if box else None
    assert isinstance(result, DeploymentResult) and result.status == "Succeeded", (result, project.lines)
    assert env_state(project.store, "prod", "web").live_slot == "blue"


def test_approve_a_real_waiting_execution(page: Any, ui: Ui, project: Project) -> None:
    """A real execution (Build and Deploy stand-ins) waits at Approval-prod; the page approves it."""
    ran: list[str] = []

    def stand_in(_ctx: Context, stage: Stage) -> None:
        ran.append(stage.name)
        time.sleep(0.5)

    execution_id = pipeline.create_execution(project.config, project.store, None, "manual")
    thread, box = in_thread(
        lambda: pipeline.run_execution(
            project.config,
            project.store,
            execution_id,
            project.say,
            {"Build": stand_in, "Deploy": stand_in},
        )
    )
    try:
        page.goto(f"{ui.base}/pipelines?token={ui.token}")
        card = page.locator(f'[data-execution="{execution_id}"]')
        approval = card.locator('[data-stage="Approval-prod"]')
        approval.get_by_text("Waiting").wait_for(timeout=WAIT_MS)
        assert card.locator('[data-stage="Build"] .badge.ok').count() == 1
        approval.locator("input.summary").fill("canary looked fine")
        shot(page, "e2e-pipelines-waiting-approval")
        # A push arrives while the reviewer writes: the list re-renders, the comment must stay.
        newer = pipeline.create_execution(project.config, project.store, None, "post-commit")
        page.locator(f'[data-execution="{newer}"]').wait_for(timeout=WAIT_MS)
        expect(approval.locator("input.summary")).to_have_value("canary looked fine")
        approval.get_by_role("button", name="Approve").click()
        card.locator(".card-head .badge.ok").get_by_text("Succeeded").wait_for(timeout=WAIT_MS)
        card.locator('[data-stage="Deploy-prod"] .badge.ok').wait_for()
        assert card.locator('[data-stage="Approval-prod"] .badge.ok').count() == 1
        expect(approval.locator(".decision")).to_have_text("Approved: canary looked fine")
        shot(page, "e2e-pipelines-approved-succeeded")
    finally:
        if thread.is_alive() and project.store.query(
            "SELECT 1 FROM approvals WHERE execution_id=? AND status='Pending'", (execution_id,)
        ):
            pipeline.reject(project.store, execution_id, "the test failed before approving")
        thread.join(timeout=60)
    assert box == ["Succeeded"] and ran == ["Build", "Deploy-prod"]
    row = project.store.query("SELECT status, summary FROM approvals WHERE execution_id=?", (execution_id,))
    assert [tuple(r) for r in row] == [("Approved", "canary looked fine")]
