"""Batch builds for real (`runner build --batch` as a subprocess, real Docker): a matrix,
a graph's order and the fate of a failure's dependants, ignore-failure, a batch-only file
whose tasks name their own buildspecs, a plain build of a batch file, fast-fail, and
Ctrl-C / `runner stop BATCH` leaving no container."""

from __future__ import annotations

import json
import queue
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from runner.store import batches, open_store
from tests.integration.helpers import write_project
from tests.integration.test_build_cli import Background, containers_of, history, runner

pytestmark = pytest.mark.docker


def batch_json(done: Any) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(done.stdout)
    return found


def log_of(number: int) -> str:
    return str(runner("logs", str(number)).stdout)


def test_a_2x2_matrix_runs_four_builds_that_each_see_their_combination(
    tmp_path: Path, runner_home: Path
) -> None:
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        env:
          variables: {FROM_FILE: file, PY: from-file}
        batch:
          build-matrix:
            dynamic:
              env:
                variables:
                  OS: [linux, mac]
                  PY: ["3.11", "3.12"]
        phases:
          build:
            commands:
              - echo "combo $CODEBUILD_BATCH_BUILD_IDENTIFIER OS=$OS PY=$PY $FROM_FILE $CLI"
        """,
    )
    done = runner("build", "-s", str(root), "--batch", "--jobs", "2", "--env", "CLI=cli", "--json")
    assert done.returncode == 0, done.stderr
    result = batch_json(done)
    assert result["batch_id"] == "src:batch-1" and result["status"] == "SUCCEEDED"
    builds = result["builds"]
    assert [b["identifier"] for b in builds] == [
        "OS_linux_PY_3_11",
        "OS_linux_PY_3_12",
        "OS_mac_PY_3_11",
        "OS_mac_PY_3_12",
    ]
    assert sorted(b["number"] for b in builds) == [1, 2, 3, 4]
    assert all(set(b) == {"identifier", "number", "status", "depends_on"} for b in builds)
    assert all(b["status"] == "SUCCEEDED" and b["depends_on"] == [] for b in builds)
    for b in builds:
        os_, py = b["identifier"].split("_")[1], b["identifier"][-4:].replace("_", ".")
        assert f"combo {b['identifier']} OS={os_} PY={py} file cli" in log_of(b["number"]).splitlines()
    tasks = {h["batch"]["identifier"]: h for h in history() if "batch" in h}
    assert set(tasks) == {b["identifier"] for b in builds}
    assert {h["batch"]["id"] for h in tasks.values()} == {"src:batch-1"}
    prefixed = runner("logs", "batch-1").stdout.splitlines()
    assert "[OS_mac_PY_3_12] combo OS_mac_PY_3_12 OS=mac PY=3.12 file cli" in prefixed


GRAPH = """
version: 0.2
batch:
  build-graph:
    - identifier: first
    - identifier: second
      depend-on: [first]
    - identifier: broken
      env: {variables: {FAIL: "1"}}
    - identifier: after_broken
      depend-on: [broken]
    - identifier: shaky
      ignore-failure: true
      env: {variables: {FAIL: "1"}}
    - identifier: after_shaky
      depend-on: [shaky]
phases:
  build:
    commands:
      - echo "task $CODEBUILD_BATCH_BUILD_IDENTIFIER"
      - test -z "$FAIL"
"""


def test_a_graph_runs_in_dependency_order_and_skips_dependants_of_a_failure(
    tmp_path: Path, runner_home: Path
) -> None:
    root = write_project(tmp_path / "src", GRAPH)
    done = runner("build", "-s", str(root), "--batch", "--jobs", "2", "--json")
    assert done.returncode == 1, done.stderr
    result = batch_json(done)
    assert result["status"] == "FAILED"
    by_name = {b["identifier"]: b for b in result["builds"]}
    assert {k: v["status"] for k, v in by_name.items()} == {
        "first": "SUCCEEDED",
        "second": "SUCCEEDED",
        "broken": "FAILED",
        "after_broken": "STOPPED",  # never started: no build, no number
        "shaky": "FAILED",
        "after_shaky": "SUCCEEDED",  # an ignore-failure dependency lets its dependants run
    }
    assert by_name["after_broken"]["number"] is None and by_name["second"]["depends_on"] == ["first"]
    builds = {h["batch"]["identifier"]: h for h in history() if "batch" in h}
    assert "after_broken" not in builds
    assert builds["second"]["started"] >= builds["first"]["ended"]
    assert builds["after_shaky"]["started"] >= builds["shaky"]["ended"]


def test_ignore_failure_keeps_the_batch_green_and_task_env_wins_over_i(
    tmp_path: Path, runner_home: Path
) -> None:
    from runner.images.base import BUILD

    root = write_project(
        tmp_path / "src",
        f"""
        version: 0.2
        batch:
          build-list:
            - identifier: fine
              env:
                image: {BUILD}
                variables: {{WHO: task, KEPT: task}}
            - identifier: flaky
              ignore-failure: true
              env: {{image: {BUILD}}}
        phases:
          build:
            commands:
              - echo "who=$WHO kept=$KEPT"
              - test "$CODEBUILD_BATCH_BUILD_IDENTIFIER" = fine
        """,
    )
    done = runner("build", "-s", str(root), "--batch", "-i", "no-such-image:0", "--env", "WHO=cli", "--json")
    assert done.returncode == 0, done.stderr
    result = batch_json(done)
    assert result["status"] == "SUCCEEDED"
    assert [b["status"] for b in result["builds"]] == ["SUCCEEDED", "FAILED"]
    assert "who=cli kept=task" in log_of(result["builds"][0]["number"]).splitlines()


def test_a_batch_only_file_whose_tasks_name_their_buildspecs(tmp_path: Path, runner_home: Path) -> None:
    own = """version: 0.2
phases:
  build:
    commands:
      - mkdir -p out && echo "{name} $CODEBUILD_BATCH_BUILD_IDENTIFIER" > out/{name}.txt
artifacts:
  files: ['out/*']
"""
    root = write_project(
        tmp_path / "src",
        """
        version: 0.2
        batch:
          build-list:
            - identifier: unit
              buildspec: ci/unit.yml
            - identifier: lint
              buildspec: lint.yml
        """,
        {"ci/unit.yml": own.format(name="unit"), "lint.yml": own.format(name="lint")},
    )
    out = tmp_path / "out"
    done = runner("build", "-s", str(root), "-a", str(out), "--combine-artifacts", "--json")
    assert done.returncode == 0, done.stderr
    assert "has batch and no phases: running it as a batch build" in done.stderr
    assert [b["status"] for b in batch_json(done)["builds"]] == ["SUCCEEDED", "SUCCEEDED"]
    assert (out / "unit" / "artifacts" / "out" / "unit.txt").read_text() == "unit unit\n"
    assert (out / "lint" / "artifacts" / "out" / "lint.txt").read_text() == "lint lint\n"
    assert (out / "artifacts" / "lint" / "out" / "lint.txt").read_text() == "lint lint\n"
    assert (out / "artifacts.zip").is_file()


def test_a_plain_build_of_a_file_with_batch_and_phases_runs_once(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(tmp_path / "src", GRAPH)
    done = runner("build", "-s", str(root), "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["number"] == 1 and result["status"] == "SUCCEEDED"
    assert [(h["number"], "batch" in h) for h in history()] == [(1, False)]
    log = log_of(1)
    assert "task " in log.splitlines() and "runs the buildspec's phases once and ignores batch" in log


SLEEPERS = """
version: 0.2
batch:
  fast-fail: {fast_fail}
  build-list:
    - identifier: one
    - identifier: two
    - identifier: three
phases:
  build:
    commands:
      - echo "up $CODEBUILD_BATCH_BUILD_IDENTIFIER"
      - test "$CODEBUILD_BATCH_BUILD_IDENTIFIER" != {failing}
      - sleep 60
"""


def wait_for_all(running: Background, texts: set[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    missing = set(texts)
    while missing and time.monotonic() < deadline:
        try:
            line = running.lines.get(timeout=0.2)
        except queue.Empty:
            continue
        running.seen.append(line)
        missing.discard(line)
    if missing:
        running.process.kill()
        running.finish()
        raise AssertionError(f"{missing} never came: {running.seen}")


def task_rows(home: Path) -> dict[str, tuple[str | None, str]]:
    with sqlite3.connect(home / "state.db") as db:
        rows = db.execute("SELECT identifier, build_id, status FROM batch_builds").fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_ctrl_c_stops_every_task_and_leaves_no_container(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(tmp_path / "src", SLEEPERS.format(fast_fail="false", failing="none"))
    running = Background("-s", str(root), "--batch", "--jobs", "2")
    wait_for_all(running, {"[one] up one", "[two] up two"})  # in either order
    running.process.send_signal(signal.SIGINT)
    code, lines = running.finish()
    assert code == 130, lines
    statuses = {h["batch"]["identifier"]: h["status"] for h in history() if "batch" in h}
    assert statuses == {"one": "STOPPED", "two": "STOPPED"}
    rows = task_rows(runner_home)
    assert rows["three"] == (None, "STOPPED")  # never started
    assert all(containers_of(build_id) == [] for build_id, _ in rows.values() if build_id)
    assert runner("stop", "batch-1").stderr.strip() == "batch src:batch-1 already ended: STOPPED"


def test_runner_stop_batch_from_another_process(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(tmp_path / "src", SLEEPERS.format(fast_fail="false", failing="none"))
    running = Background("-s", str(root), "--batch", "--jobs", "2", "--json")
    running.wait_for("[one] up one")
    stopped = runner("stop", "batch-1")
    assert stopped.returncode == 0 and "stop requested for batch src:batch-1" in stopped.stderr
    code, lines = running.finish()
    assert code == 1
    result = json.loads("\n".join(lines[lines.index("{") :]))
    assert result["status"] == "STOPPED"
    assert {b["identifier"]: b["status"] for b in result["builds"]} == {
        "one": "STOPPED",
        "two": "STOPPED",
        "three": "STOPPED",
    }
    assert result["builds"][2]["number"] is None
    assert all(containers_of(build_id) == [] for build_id, _ in task_rows(runner_home).values() if build_id)


def test_fast_fail_stops_the_running_tasks(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(tmp_path / "src", SLEEPERS.format(fast_fail="true", failing="two"))
    done = runner("build", "-s", str(root), "--batch", "--jobs", "2", "--json", timeout=60)
    assert done.returncode == 1, done.stderr
    result = batch_json(done)
    assert result["status"] == "FAILED"
    assert {b["identifier"]: b["status"] for b in result["builds"]} == {
        "one": "STOPPED",
        "two": "FAILED",
        "three": "STOPPED",
    }
    assert result["builds"][2]["number"] is None


def test_the_batch_timeout_stops_it_as_timed_out(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(tmp_path / "src", SLEEPERS.format(fast_fail="false", failing="none"))
    done = runner("build", "-s", str(root), "--batch", "--jobs", "3", "--batch-timeout", "0.08", "--json")
    assert done.returncode == 1, done.stderr
    result = batch_json(done)
    assert result["status"] == "TIMED_OUT"
    assert [b["status"] for b in result["builds"]] == ["STOPPED"] * 3
    assert all(containers_of(build_id) == [] for build_id, _ in task_rows(runner_home).values() if build_id)


def test_a_killed_batch_runner_is_repaired_by_the_next_command(tmp_path: Path, runner_home: Path) -> None:
    root = write_project(tmp_path / "src", SLEEPERS.format(fast_fail="false", failing="none"))
    running = Background("-s", str(root), "--batch", "--jobs", "1")
    running.wait_for("[one] up one")
    running.process.kill()  # kill -9: no cleanup at all
    running.finish()
    (build_id, _) = task_rows(runner_home)["one"]
    assert build_id is not None and len(containers_of(build_id)) == 1
    after = runner("stop", "batch-1")  # any command that writes repairs first
    assert f"build {build_id} was interrupted: recorded as FAULT" in after.stderr
    assert "batch src:batch-1 was interrupted: recorded as FAULT" in after.stderr
    assert "already ended: FAULT" in after.stderr
    assert containers_of(build_id) == []
    store = open_store(runner_home)
    assert [t.as_json() for t in batches.tasks_of(store, "src:batch-1")] == [
        {"identifier": "one", "number": 1, "status": "FAULT", "depends_on": []},
        {"identifier": "two", "number": None, "status": "STOPPED", "depends_on": []},
        {"identifier": "three", "number": None, "status": "STOPPED", "depends_on": []},
    ]
    store.close()
