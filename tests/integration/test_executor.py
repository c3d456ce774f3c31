"""The Docker executor (runner/adapters/docker/executor.py) copying files in and out through
the engine's archive API, as an engine that does not share our filesystem needs."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from runner.adapters.docker import client as docker_client
from runner.adapters.docker.executor import DockerExecutor
from runner.adapters.executor import File, Mount, RunRequest
from runner.codebuild.build import BuildRequest, run_build
from runner.images.base import BUILD
from runner.store import open_store
from tests.integration.helpers import write_project

pytestmark = pytest.mark.docker


def test_files_are_copied_in_before_the_command_and_out_after_it() -> None:
    request = RunRequest(
        image=BUILD,
        command=["/bin/sh", "/opt/probe/run.sh"],
        env={},
        labels=docker_client.labels("test"),
        files=(
            File("/opt/probe/run.sh", b"cat /opt/probe/in.txt > /opt/probe/out.txt\n"),
            File("/opt/probe/in.txt", b"hi\n"),
        ),
    )
    running = DockerExecutor(shares_files=False).start(request)
    try:
        assert running.wait(timeout_s=60) == 0
        assert running.finish(0).changed  # the copied files are the container's own
        stream = running.get_archive("/opt/probe/out.txt")
        assert stream is not None
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            member = tar.extractfile("out.txt")
            assert member is not None and member.read() == b"hi\n"
        assert running.get_archive("/opt/probe/absent") is None
    finally:
        running.remove()


def test_a_build_runs_with_its_scripts_copied_in(tmp_path: Path, runner_home: Path) -> None:
    """Phase scripts, command files and the artifact-path helper's script go in through the
    archive API (the workspace itself is still a mount); no container is started ahead."""
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        phases:
          install:
            commands:
              - export OUT=dist; mkdir -p dist && echo built > dist/app.txt
              - exit 0
              - echo "after exit $OUT"
          build:
            commands:
              - echo "build sees $OUT"
        artifacts:
          files:
            - '$OUT/*'
    """,
    )
    lines: list[str] = []
    request = BuildRequest(
        source=root,
        buildspec=root / "buildspec.yml",
        image=BUILD,
        project="test",
        work_dir=runner_home / "work",
        cache_dir=runner_home / "cache",
        artifacts_dir=tmp_path / "artifacts",
    )
    result = run_build(
        request, open_store(runner_home), show=lines.append, executor=DockerExecutor(shares_files=False)
    )
    assert result.status == "SUCCEEDED", lines
    assert {"after exit dist", "build sees dist"} <= set(lines)
    assert (tmp_path / "artifacts" / "artifacts" / "dist" / "app.txt").read_text() == "built\n"


@pytest.mark.parametrize(("command", "changed"), [("true", False), ("touch /etc/new-file", True)])
def test_an_engine_whose_layers_we_cannot_read_still_tells_a_change_from_mount_points(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, changed: bool
) -> None:
    """On another machine the container's upper directory is not ours to read: its size, then
    `docker diff`, where the engine's own mount points (and their parents) are no change."""
    from runner.adapters.docker import runs

    monkeypatch.setattr(runs.os, "access", lambda _path, _mode: False)
    request = RunRequest(
        image=BUILD,
        command=["/bin/sh", "-c", command],
        env={},
        labels=docker_client.labels("test"),
        mounts=(Mount(str(tmp_path), "/codebuild/output/deep/er"),),
    )
    running = DockerExecutor().start(request)
    try:
        assert running.wait(timeout_s=60) == 0
        assert running.finish(0).changed is changed
    finally:
        running.remove()
