"""`runner build -H URL|NAME`: a plain build on an engine that sees none of our files, with the
same results as on the local engine, and nothing left on either engine afterwards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from runner.adapters.docker import client as docker_client
from runner.adapters.docker import runs
from runner.adapters.docker.executor import DockerExecutor
from runner.codebuild.build import BuildRequest, run_build
from runner.images.base import BUILD
from runner.store import open_store
from tests.conftest import SESSION_LABEL
from tests.integration.engines.remote import left_on, remote_images
from tests.integration.second_engine import SecondEngine

pytestmark = pytest.mark.docker
__all__ = ["remote_images"]

BUILDSPEC = """\
version: 0.2
env:
  variables: {GREETING: hello}
  exported-variables: [VERSION, FROM_LIB]
phases:
  install:
    commands:
      - mkdir -p deps && cd deps
      - export VERSION=1.2.$(cat ../version.txt)
      - if [ -f cached.txt ]; then echo "cache had $(cat cached.txt)"; else echo cache empty; fi
      - echo "kept" > cached.txt
  pre_build:
    commands:
      - echo "still in $(basename $(pwd)) with $VERSION"
      - export FROM_LIB=$(cat $CODEBUILD_SRC_DIR_lib/lib.txt)
  build:
    commands:
      - mkdir -p $CODEBUILD_SRC_DIR/dist $CODEBUILD_SRC_DIR/reports
      - echo "app $VERSION $FROM_LIB" > $CODEBUILD_SRC_DIR/dist/app.txt
      - cp $CODEBUILD_SRC_DIR/junit.xml $CODEBUILD_SRC_DIR/reports/
      - rm $CODEBUILD_SRC_DIR/scratch.txt
  post_build:
    commands:
      - '[ ! -e $CODEBUILD_SRC_DIR/scratch.txt ] && echo "scratch gone"'
artifacts:
  files: ['dist/*', 'version.txt']
reports:
  unit:
    files: ['reports/junit.xml']
    file-format: JUNITXML
cache:
  paths: ['deps/cached.txt']
"""

JUNIT = """\
<testsuite name="unit" tests="2" failures="1">
  <testcase classname="a" name="passes"/>
  <testcase classname="a" name="fails"><failure message="boom"/></testcase>
</testsuite>
"""


def runner(*args: str, cwd: Path, home: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=600,
        env={**os.environ, "RUNNER_HOME": str(home), **env},
    )


def project(root: Path, engine_url: str) -> Path:
    src = root / "src"
    src.mkdir(parents=True)
    (src / "buildspec.yml").write_text(BUILDSPEC)
    (src / "version.txt").write_text("7\n")
    (src / "junit.xml").write_text(JUNIT)
    (src / "scratch.txt").write_text("to be removed by the build\n")
    (root / "lib").mkdir()
    (root / "lib" / "lib.txt").write_text("from-lib\n")
    (src / "pipeline.yml").write_text(
        textwrap.dedent(f"""\
        app: shop
        services:
          web: {{path: .}}
        environments:
          - {{name: prod, port: 8080, test_port: 9080}}
        engines:
          node2: {engine_url}
        """)
    )
    return src


def build_json(src: Path, home: Path, *flags: str) -> tuple[dict[str, Any], str]:
    out = src.parent / f"out-{len(list(src.parent.glob('out-*')))}"
    result = runner(
        "build", *flags, "-s", ".", "-s", f"lib:{src.parent / 'lib'}", "-a", str(out / "artifacts"),
        "-r", str(out / "reports"), "-i", BUILD, "--json", cwd=src, home=home,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(result.stdout)
    data["files"] = sorted(
        (str(p.relative_to(out)), p.read_text() if p.suffix != ".zip" else "")
        for p in out.rglob("*")
        if p.is_file()
    )
    return data, result.stderr


def comparable(data: dict[str, Any]) -> dict[str, Any]:
    """What must be the same wherever the build ran."""
    reports = [{k: r[k] for k in ("name", "status", "total", "counts") if k in r} for r in data["reports"]]
    return {
        "status": data["status"],
        "phases": [(p["name"], p["status"], p["context"]) for p in data["phases"]],
        "exported": data["exported_variables"],
        "artifacts": data["artifacts"],
        "reports": reports,
        "files": data["files"],
    }


def test_a_remote_build_by_url_and_by_name_is_the_local_build(
    tmp_path: Path, remote_images: SecondEngine
) -> None:
    engine = remote_images
    src = project(tmp_path, engine.url)
    local_home, remote_home = tmp_path / "home-local", tmp_path / "home-remote"
    local, _ = build_json(src, local_home)
    by_url, said = build_json(src, remote_home, "-H", engine.url)
    assert "has no" not in said  # the session copied the image there already
    again, _ = build_json(src, remote_home, "--docker-host", "node2")  # a name of pipeline.yml's engines
    local_again, _ = build_json(src, local_home)

    assert local["status"] == "SUCCEEDED"
    assert local["exported_variables"] == {"VERSION": "1.2.7", "FROM_LIB": "from-lib"}
    assert comparable(by_url) == comparable(local)
    assert comparable(again) == comparable(local_again)
    logs = {b["id"]: runner("logs", b["id"], cwd=src, home=remote_home).stdout for b in (by_url, again)}
    assert "cache empty" in logs[by_url["id"]] and "still in deps with 1.2.7" in logs[by_url["id"]]
    assert "cache had kept" in logs[again["id"]]  # the local cache directory, filled by the remote build
    assert "scratch gone" in logs[by_url["id"]]
    assert (src / "scratch.txt").is_file()  # the source was copied, never changed
    history = json.loads(runner("history", "--json", cwd=src, home=remote_home).stdout)
    assert [(b["id"], b["engine"]) for b in history] == [(again["id"], "node2"), (by_url["id"], engine.url)]
    assert left_on(engine) == {"containers": [], "volumes": []}


def test_bind_mounts_of_our_paths_are_empty_there(
    tmp_path: Path, runner_home: Path, remote_images: SecondEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same build with bind mounts (as if the engine shared our files) fails there: the
    engine sees empty directories, so a remote build cannot pass by bind-mounting."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "buildspec.yml").write_text("version: 0.2\nphases:\n  build:\n    commands: [cat data.txt]\n")
    (src / "data.txt").write_text("only here\n")
    request = BuildRequest(
        source=src,
        buildspec=src / "buildspec.yml",
        image=BUILD,
        project="bind",
        work_dir=runner_home / "work",
        cache_dir=runner_home / "cache",
    )
    monkeypatch.setenv("DOCKER_HOST", remote_images.url)
    docker_client.forget_clients()
    runs._privileged_allowed.cache_clear()
    try:
        outcomes = {}
        for shares in (True, False):
            lines: list[str] = []
            store = open_store(runner_home)
            result = run_build(request, store, lines.append, executor=DockerExecutor(shares))
            outcomes[shares] = (result.status, "only here" in lines)
    finally:
        docker_client.forget_clients()
        runs._privileged_allowed.cache_clear()
    # With binds even the phase script, written to our workspace, is missing there (FAULT).
    assert outcomes == {True: ("FAULT", False), False: ("SUCCEEDED", True)}
    assert left_on(remote_images) == {"containers": [], "volumes": []}


def test_a_failed_build_and_an_interrupted_one_leave_nothing_on_either_engine(
    tmp_path: Path, remote_images: SecondEngine
) -> None:
    engine = remote_images
    src = tmp_path / "src"
    src.mkdir()
    home = tmp_path / "home"
    (src / "buildspec.yml").write_text(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - echo ran > out.txt\n      - exit 3\n"
    )
    failed = runner("build", "-H", engine.url, "-i", BUILD, cwd=src, home=home)
    assert failed.returncode != 0 and "FAILED" in failed.stdout, failed.stderr[-2000:]
    assert left_on(engine) == {"containers": [], "volumes": []}

    (src / "buildspec.yml").write_text("version: 0.2\nphases:\n  build:\n    commands:\n      - sleep 60\n")
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "build", "-H", engine.url, "-i", BUILD],
        cwd=src,
        env={**os.environ, "RUNNER_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        running: list[str] = []
        while not running and time.monotonic() < deadline:
            ours = ("--filter", f"label={SESSION_LABEL}", "--filter", "status=running")
            running = engine.docker("ps", "-q", *ours).stdout.split()
            time.sleep(0.2)
        assert running, "the build's container never ran on the second engine"
        assert engine.docker("volume", "ls", "-q", "--filter", f"label={SESSION_LABEL}").stdout.split()
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert "STOPPED" in output, output[-2000:]
    assert left_on(engine) == {"containers": [], "volumes": []}
    local = subprocess.run(
        ["docker", "ps", "-aq", "--filter", f"label={SESSION_LABEL}", "--filter", "label=runner.kind=build"],
        capture_output=True,
        text=True,
    )
    assert local.stdout.split() == []


def test_a_unix_socket_url_is_followed_by_every_client(tmp_path: Path, remote_images: SecondEngine) -> None:
    """-H unix://… reaches the second engine through its socket: the SDK and the raw socket calls
    of engine_api.py (image inspect) both follow it, and the probe still finds no shared files."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "buildspec.yml").write_text(
        "version: 0.2\nphases: {build: {commands: [cat data.txt > copy.txt]}}\nartifacts: {files: [copy.txt]}"
    )
    (src / "data.txt").write_text("through the socket\n")
    out = tmp_path / "out"
    done = runner(
        "build", "-H", remote_images.socket_url, "-i", BUILD, "-a", str(out), cwd=src, home=tmp_path / "home"
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (out / "artifacts" / "copy.txt").read_text() == "through the socket\n"
    assert left_on(remote_images) == {"containers": [], "volumes": []}


def test_an_engine_without_the_build_image_gets_it_first(tmp_path: Path, remote_images: SecondEngine) -> None:
    """The image is streamed there from the engine used before -H, with progress lines; a new
    tag of the build image is enough to see it (its layers are there already: 0 MB sent)."""
    tag = f"runner-test/remote-image:{uuid.uuid4().hex[:12]}"
    subprocess.run(["docker", "tag", BUILD, tag], check=True)
    src = tmp_path / "src"
    src.mkdir()
    (src / "buildspec.yml").write_text("version: 0.2\nphases: {build: {commands: [echo ran]}}\n")
    try:
        done = runner("build", "-H", remote_images.url, "-i", tag, cwd=src, home=tmp_path / "home")
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        assert f"{remote_images.url} has no {tag}: copying it there" in done.stderr
        assert f"copied {tag} to {remote_images.url}: 0 MB" in done.stderr
        there = remote_images.docker("image", "inspect", "--format", "{{.Id}}", tag).stdout.strip()
        here = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{.Id}}", tag], capture_output=True, text=True
        ).stdout.strip()
        assert there == here  # the same image, by id
    finally:
        remote_images.docker("rmi", tag, check=False)
        subprocess.run(["docker", "rmi", tag], capture_output=True)
    assert left_on(remote_images) == {"containers": [], "volumes": []}


def test_runner_stop_from_a_process_on_the_local_engine_stops_a_remote_build(
    tmp_path: Path, remote_images: SecondEngine
) -> None:
    """`runner stop` kills the containers it finds on its own engine; the building process,
    whose container runs elsewhere, kills it once the stop is recorded."""
    src, home = tmp_path / "src", tmp_path / "home"
    src.mkdir()
    (src / "buildspec.yml").write_text("version: 0.2\nphases: {build: {commands: [echo started, sleep 60]}}")
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "build", "-H", remote_images.url, "-i", BUILD, "--json"],
        cwd=src,
        env={**os.environ, "RUNNER_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if line.strip() == "started":
                break
        started = time.monotonic()
        history = json.loads(runner("history", "--json", cwd=src, home=home).stdout)
        stopped = runner("stop", history[0]["id"], cwd=src, home=home)
        assert stopped.returncode == 0, stopped.stderr
        output, _ = process.communicate(timeout=60)
    finally:
        process.kill()
    assert time.monotonic() - started < 20  # not the 60 s of the sleep
    assert json.loads(output)["status"] == "STOPPED"
    assert left_on(remote_images) == {"containers": [], "volumes": []}
