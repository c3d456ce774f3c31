"""Two environments with backing services: up, promote, a topology change (graceful reload), down --all."""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from runner import cli
from runner.codedeploy import ensure_up, live_images
from runner.core.config import PipelineConfig, Service
from runner.images.base import PYTHON
from runner.store import Store, open_store
from tests.integration.deploy.conftest import Images
from tests.integration.deploy.helpers import Load, free_ports, get, write_project

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PIPELINE = """\
app: {app}
time_scale: 600
services:
  web:
    path: web
    env: {{GREETING: "costs $5"}}
    hooks:
      cache-reachable: curl -fsS http://cache:8000/ >/dev/null
environments:
  - name: staging
    port: {ports[0]}
    test_port: {ports[1]}
    compose: backing.yml
    termination_wait: 1m
  - name: prod
    port: {ports[2]}
    test_port: {ports[3]}
    compose: backing.yml
    termination_wait: 1m
"""
BACKING = f"""\
services:
  cache:
    image: {PYTHON}
    pull_policy: never
    init: true
    command: ["python3", "-m", "http.server", "8000"]
    volumes: ["data:/data"]
volumes:
  data: {{}}
"""
APPSPEC = "version: 0.0\nHooks:\n  - BeforeAllowTraffic: cache-reachable\n"


@dataclass
class Project:
    root: Path
    home: Path
    config: PipelineConfig
    store: Store
    ports: list[int]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Project]:
    root = tmp_path_factory.mktemp("envs")
    ports = free_ports(4)
    text = PIPELINE.format(app=f"t{uuid.uuid4().hex[:6]}", ports=ports)
    config = write_project(root / "repo", text, {"backing.yml": BACKING, "web/appspec.yml": APPSPEC})
    project = Project(root / "repo", root / "home", config, open_store(root / "home"), ports)
    try:
        yield project
    finally:
        for env in ("staging", "prod"):
            compose = project.home / "envs" / env / "compose.yml"
            if compose.exists():  # the down test may have failed before removing everything
                subprocess.run(
                    [
                        "docker",
                        "compose",
                        "-p",
                        f"{config.app}-{env}",
                        "-f",
                        str(compose),
                        "down",
                        "-v",
                        "-t",
                        "1",
                    ],
                    capture_output=True,
                )


@pytest.fixture
def in_project(project: Project, monkeypatch: pytest.MonkeyPatch) -> Project:
    monkeypatch.chdir(project.root)
    monkeypatch.setenv("RUNNER_HOME", str(project.home))
    return project


def run_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, object]:
    assert cli.main([*argv, "--json"]) == 0
    return dict(json.loads(capsys.readouterr().out))


def test_up_starts_router_and_backing_services(
    in_project: Project, capsys: pytest.CaptureFixture[str]
) -> None:
    for env in ("staging", "prod"):
        up = run_json(capsys, "up", env)
        assert up["project"] == f"{in_project.config.app}-{env}" and "router" in up["started"]  # type: ignore[operator]
    code, body = get(in_project.ports[0], "/web/version")
    assert code == 503 and "no live slot" in str(body["text"])
    assert get(in_project.ports[0], "/nowhere")[0] == 404
    again = run_json(capsys, "up", "staging")
    assert again["started"] == [] and again["router_reloaded"] is False  # already up: nothing to do


def test_promote_deploys_the_exact_image_staging_runs(
    in_project: Project, images: Images, capsys: pytest.CaptureFixture[str]
) -> None:
    staged = run_json(capsys, "deploy", "staging", "web", images.v1.tag)
    assert staged["status"] == "Succeeded", staged["reason"]
    hook = [e for e in staged["lifecycle_events"] if e["name"] == "BeforeAllowTraffic"]  # type: ignore[union-attr]
    assert hook[0]["status"] == "Succeeded"  # the slot's network reaches the backing service `cache`
    promoted = run_json(capsys, "promote", "web", "--from", "staging", "--to", "prod")
    assert promoted["status"] == "Succeeded" and promoted["image"] == {
        "tag": images.v1.tag,
        "id": images.v1.id,
    }
    assert live_images(in_project.store, "prod")["web"] == live_images(in_project.store, "staging")["web"]
    code, body = get(in_project.ports[2], "/web/version")
    assert code == 200 and body["env"] == "prod" and body["version"] == "1"


def test_a_topology_change_reloads_nginx_gracefully(in_project: Project) -> None:
    config = in_project.config
    api = Service("api", "api", "api/buildspec.yml", 8000, "/health", "/api")
    bigger = dataclasses.replace(config, services=(*config.services, api))
    load = Load(in_project.ports[2], "/web/version", rate=200, connections=5).start()
    added = ensure_up(bigger, in_project.store, "prod", say=print)
    removed = ensure_up(config, in_project.store, "prod", say=print)
    load.stop()
    assert added.reloaded and removed.reloaded
    print(
        f"topology change: reload {added.reload_ms} ms (add) / {removed.reload_ms} ms (remove); "
        f"{len(load.failures())} of {load.count} keep-alive requests failed around the two reloads"
    )
    assert get(in_project.ports[2], "/api/")[0] == 404  # removed again
    assert get(in_project.ports[2], "/web/version")[0] == 200


def test_a_router_that_no_longer_sees_its_directory_is_recreated(in_project: Project) -> None:
    shutil.rmtree(in_project.home / "envs" / "prod" / "router")  # its bind mount keeps the deleted one
    lines: list[str] = []
    up = ensure_up(in_project.config, in_project.store, "prod", say=lines.append)
    assert any("does not see" in line for line in lines) and "router" in up.started
    code, body = get(in_project.ports[2], "/web/version")
    assert code == 200 and body["version"] == "1"


def test_status_and_down_all(in_project: Project, capsys: pytest.CaptureFixture[str]) -> None:
    status = run_json(capsys, "status")
    envs = {e["name"]: e for e in status["environments"]}  # type: ignore[union-attr]
    assert {name: env["router"] for name, env in envs.items()} == {"staging": "running", "prod": "running"}
    assert envs["prod"]["services"][0]["image"]["id"] == envs["staging"]["services"][0]["image"]["id"]
    assert cli.main(["down", "--all"]) == 0
    after = run_json(capsys, "status")
    assert [e["router"] for e in after["environments"]] == ["absent", "absent"]  # type: ignore[union-attr]
    left = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={in_project.config.app}-prod"],
        capture_output=True,
        text=True,
    ).stdout
    assert left.strip() == ""
    assert cli.main(["down"]) == 2  # neither an environment nor --all
