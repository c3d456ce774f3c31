"""pipeline.yml `build_engines:`: the Build stage spreads service builds over engines, skips an
unreachable one with a warning, and runs a build once more elsewhere when its engine dies."""

from __future__ import annotations

import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.codepipeline.execution import Context, Stage, create_execution, run_execution
from runner.core import config_loader
from runner.images.base import BUILD
from runner.paths import runner_home as home_dir
from runner.store import builds as build_records
from runner.store import open_store
from tests.conftest import SESSION_LABEL
from tests.integration.engines.remote import remote_images
from tests.integration.second_engine import SecondEngine, script
from tests.integration.test_service_images import commit_all, git

pytestmark = pytest.mark.docker
__all__ = ["remote_images"]

DOCKERFILE = "FROM runner/python:bookworm\nCOPY . /app\n"


def buildspec(seconds: int) -> str:
    return textwrap.dedent(
        f"""\
        version: 0.2
        phases:
          build:
            commands:
              - sleep {seconds}
              - echo "built $RUNNER_SERVICE"
        """
    )


def project(root: Path, engine_url: str, services: tuple[str, ...], engines: str, seconds: int = 0) -> Path:
    pipeline = [
        "app: fleet",
        f"build_image: {BUILD}",  # streamed to node2 once per session (the standard image is 1.4 GB)
        "services:",
        *(f"  {name}: {{path: services/{name}}}" for name in services),
        "environments:",
        "  - {name: staging, port: 18380, test_port: 18381}",
        "engines:",
        f"  node2: {engine_url}",
        "  gone: tcp://127.0.0.1:9",  # nothing listens there
        f"build_engines: {engines}",
    ]
    files = {"pipeline.yml": "\n".join(pipeline) + "\n", ".gitignore": ".runner/\n"}
    for name in services:
        files[f"services/{name}/Dockerfile"] = DOCKERFILE
        files[f"services/{name}/buildspec.yml"] = buildspec(seconds)
        files[f"services/{name}/app.py"] = f"print({root.name!r})\n"  # a new commit: nothing reused
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "init", "-q", "-b", "main")
    commit_all(root, "first")
    return root


def no_deploy(ctx: Context, stage: Stage) -> None:
    """The Build stage is under test; the deploys are tested elsewhere."""


def run_pipeline(root: Path, lines: list[str]) -> str:
    config = config_loader.load(root / "pipeline.yml")
    store = open_store(home_dir())
    execution = create_execution(config, store, None, "test")
    return run_execution(config, store, execution, lines.append, actions={"Deploy": no_deploy})


def engines_of_builds(root: Path) -> dict[str, list[tuple[str, str]]]:
    """Service → its builds' (status, engine) in the order they started (`runner history --json`)."""
    store = open_store(home_dir())
    found: dict[str, list[tuple[str, str]]] = {}
    for record in sorted(build_records.list_builds(store), key=lambda r: (r.started, r.number)):
        found.setdefault(record.project, []).append((record.status, record.summary()["engine"]))
    return found


def started_there(since: float, host: str | None) -> list[str]:
    """The services whose build containers that engine started (by our labels), per its own events."""
    where = ["-H", host] if host else []
    listed = subprocess.run(
        [
            *["docker", *where, "events", "--since", f"{since:.0f}", "--until", f"{time.time() + 1:.0f}"],
            *["--filter", "type=container", "--filter", "event=start"],
            *["--filter", "label=runner.kind=build", "--filter", f"label={SESSION_LABEL}"],
            *["--format", '{{index .Actor.Attributes "runner.project"}}'],
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return sorted(set(listed.stdout.split()))


@pytest.fixture
def runner_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("RUNNER_HOME", str(tmp_path / ".runner"))
    return tmp_path


def test_two_services_build_one_on_each_engine_and_an_unreachable_one_is_skipped(
    runner_home: Path, remote_images: SecondEngine
) -> None:
    root = project(runner_home, remote_images.url, ("api", "web"), "[gone, local, node2]", seconds=2)
    since, lines = time.time() - 1, []
    assert run_pipeline(root, lines) == "Succeeded", "\n".join(lines)
    warnings = [line for line in lines if line.startswith("warning: build engine gone is unreachable")]
    assert len(warnings) == 1, "\n".join(lines)
    builds = engines_of_builds(root)
    assert sorted(engine for runs in builds.values() for _, engine in runs) == ["local", "node2"], builds
    assert all(runs == [("SUCCEEDED", runs[0][1])] for runs in builds.values()), builds
    on_node2 = next(service for service, runs in builds.items() if runs[0][1] == "node2")
    assert started_there(since, remote_images.url) == [on_node2]
    assert on_node2 not in started_there(since, None)


@pytest.fixture
def local_busy() -> Iterator[None]:
    """A container that counts as a build on the local engine (our labels): the next build goes elsewhere."""
    name = f"fleet-busy-{time.time_ns()}"
    subprocess.run(
        [
            *["docker", "run", "-d", "--name", name, "--label", "runner.managed=1"],
            *[
                "--label",
                "runner.kind=build",
                "--label",
                SESSION_LABEL,
                "runner/python:bookworm",
                "sleep",
                "300",
            ],
        ],
        capture_output=True,
        check=True,
    )
    try:
        yield
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True)


def test_a_build_whose_engine_dies_is_fault_and_runs_again_elsewhere(
    runner_home: Path, remote_images: SecondEngine, local_busy: None
) -> None:
    root = project(runner_home, remote_images.url, ("api",), "[local, node2]", seconds=4)
    lines: list[str] = []
    outcome: list[str] = []
    pipeline = threading.Thread(target=lambda: outcome.append(run_pipeline(root, lines)))
    try:
        pipeline.start()
        deadline = time.monotonic() + 60
        while not running_build(remote_images) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert running_build(remote_images), "\n".join(lines)
        assert script("node-down").returncode == 0
        pipeline.join(120)
    finally:
        started = script("start")
        assert started.returncode == 0, started.stderr[-2000:]
        remove_dead_builds_volumes(remote_images)
    assert outcome == ["Succeeded"], "\n".join(lines)
    builds = engines_of_builds(root)
    assert builds == {"api": [("FAULT", "node2"), ("SUCCEEDED", "local")]}, "\n".join(lines)
    again = "ended FAULT on engine node2: running it again on local"
    assert any(again in line for line in lines), "\n".join(lines)
    faulted = next(r for r in build_records.list_builds(open_store(home_dir())) if r.status == "FAULT")
    logs = [text for _, text in build_records.log_lines(open_store(home_dir()), faulted.id)]
    assert any("sleep 4" in line for line in logs), logs  # its logs up to the engine's end are kept


def running_build(engine: SecondEngine) -> bool:
    listed = engine.docker(
        "ps", "-q", "--filter", "label=runner.kind=build", "--filter", f"label={SESSION_LABEL}", check=False
    )
    return bool(listed.stdout.split())


def remove_dead_builds_volumes(engine: SecondEngine) -> None:
    """The FAULT build's workspace volumes: its engine stopped before they could be removed."""
    filters = ["--filter", "label=runner.kind=workspace", "--filter", f"label={SESSION_LABEL}"]
    left = engine.docker("volume", "ls", "-q", *filters, check=False).stdout.split()
    if left:
        engine.docker("volume", "rm", "-f", *left, check=False)
