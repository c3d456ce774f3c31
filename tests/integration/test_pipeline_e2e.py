"""The whole pipeline for the sample services: commit → build → staging → test → prod.

Real git, real Docker, real compose and nginx. Asserts that prod's router serves the
images built for the commit, by image id, and that a second commit rebuilds only the
service it changed.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runner.store import open_store
from tests.ci import LONGEST_WAIT_S

pytestmark = [pytest.mark.docker, pytest.mark.slow]

SAMPLES = Path(__file__).resolve().parents[2] / "sample-services"


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("e2e")
    repo, home = root / "repo", root / "home"
    shutil.copytree(SAMPLES, repo, ignore=shutil.ignore_patterns(".runner", "__pycache__"))
    staging, staging_test, prod, prod_test = free_ports(4)
    text = (repo / "pipeline.yml").read_text()
    text = re.sub(r"^app: shop$", f"app: e2e{uuid.uuid4().hex[:6]}", text, flags=re.M)
    for old, new in (("8081", staging), ("9081", staging_test), ("8080", prod), ("9080", prod_test)):
        text = text.replace(f"port: {old}", f"port: {new}")
    # Quick prod for the test: all at once, no bake, no termination wait.
    text = text.replace("CodeDeployDefault.ECSCanary10Percent5Minutes", "CodeDeployDefault.ECSAllAtOnce")
    text = re.sub(r"(bake|termination_wait): \S+", r"\1: 0s", text)
    (repo / "pipeline.yml").write_text(text)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "v1")
    env = {**os.environ, "RUNNER_HOME": str(home), "NO_COLOR": "1"}
    yield repo, env
    subprocess.run([sys.executable, "-m", "runner", "down", "--all"], cwd=repo, env=env, capture_output=True)


def runner(repo: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=LONGEST_WAIT_S,
    )


def run_pipeline(repo: Path, env: dict[str, str]) -> dict[str, Any]:
    result = runner(repo, env, "pipeline", "run", "--json")
    assert result.returncode == 0, result.stderr[-3000:]
    execution: dict[str, Any] = json.loads(result.stdout)
    return execution


def prod_version(repo: Path, env: dict[str, str], route: str) -> dict[str, Any]:
    status = json.loads(runner(repo, env, "status", "prod", "--json").stdout)
    live = next(e for e in status["environments"] if e["name"] == "prod")["live_url"]
    with urllib.request.urlopen(f"{live}{route.rstrip('/')}/version", timeout=10) as response:
        return dict(json.loads(response.read()))


def built_images(execution: dict[str, Any]) -> dict[str, dict[str, Any]]:
    build = next(s for s in execution["stages"] if s["name"] == "Build")
    return dict(build["detail"]["images"])


def test_a_commit_reaches_prod_and_a_second_commit_rebuilds_one_service(
    project: tuple[Path, dict[str, str]],
) -> None:
    repo, env = project
    first = run_pipeline(repo, env)
    assert first["status"] == "Succeeded"
    assert [s["name"] for s in first["stages"]] == [
        "Source",
        "Build",
        "Deploy-staging",
        "Test",
        "Deploy-prod",
    ]
    images = built_images(first)
    commit = git(repo, "rev-parse", "HEAD")
    store = open_store(Path(env["RUNNER_HOME"]))
    try:  # change lead time (runner metrics) starts at the commit's own time, from git
        details = [json.loads(r["detail"]) for r in store.query("SELECT detail FROM deployments")]
    finally:
        store.close()
    assert {d["commit_time"] for d in details} == {float(git(repo, "log", "-1", "--format=%ct"))}
    for service, route in (("catalog", "/catalog"), ("offers", "/offers"), ("web", "/"), ("stock", "/stock")):
        served = prod_version(repo, env, route)
        assert served["image_id"] == images[service]["id"]  # by digest, not by tag
        assert served["commit"] == commit

    settings = repo / "catalog" / "settings.json"
    values = json.loads(settings.read_text())
    values["version"] = "1.1.0"
    settings.write_text(json.dumps(values))
    git(repo, "commit", "-qam", "catalog 1.1.0")
    second = run_pipeline(repo, env)
    assert second["status"] == "Succeeded"
    images = built_images(second)
    assert {name for name, image in images.items() if not image["reused"]} == {"catalog"}
    served = prod_version(repo, env, "/catalog")
    assert served["version"] == "1.1.0" and served["image_id"] == images["catalog"]["id"]
    assert prod_version(repo, env, "/offers")["image_id"] == images["offers"]["id"]
