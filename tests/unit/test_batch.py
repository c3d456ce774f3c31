"""The batch model without Docker: parsing, matrix identifiers, graph checks, order, status."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.codebuild import batch
from runner.core.yamlnodes import load_text
from runner.errors import ConfigError
from runner.store import batches, open_store

PHASES = "phases:\n  build:\n    commands: [echo hi]\n"


def parsed(text: str) -> batch.Batch:
    return batch.parse(load_text(text, "buildspec.yml"))


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parsed(text)
    return str(info.value)


def test_build_list_tasks_keep_their_settings() -> None:
    got = parsed(
        "version: 0.2\n"
        "batch:\n"
        "  fast-fail: true\n"
        "  build-list:\n"
        "    - identifier: one\n"
        "      buildspec: ci/one.yml\n"
        "      env:\n"
        "        image: img:1\n"
        "        privileged-mode: true\n"
        "        compute-type: BUILD_GENERAL1_LARGE\n"
        "        variables: {A: x}\n"
        "    - identifier: two\n"
        "      ignore-failure: true\n"
        "      debug-session: true\n" + PHASES
    )
    assert got.kind == batch.LIST and got.fast_fail
    one, two = got.tasks
    assert (one.identifier, one.buildspec, one.env.image, one.env.privileged) == (
        "one",
        "ci/one.yml",
        "img:1",
        True,
    )
    assert one.env.variables == {"A": "x"} and one.env.recorded() == {"compute-type": "BUILD_GENERAL1_LARGE"}
    assert str(one.buildspec_position) == "buildspec.yml:6:18"
    assert (two.buildspec, two.ignore_failure, two.debug_session) == (None, True, True)
    assert str(two.position) == "buildspec.yml:12:7"


def test_a_2x2_dynamic_matrix_gives_four_tasks_with_readable_identifiers() -> None:
    got = parsed(
        "version: 0.2\n"
        "batch:\n"
        "  build-matrix:\n"
        "    static:\n"
        "      ignore-failure: true\n"
        "      env: {variables: {COMMON: c}}\n"
        "    dynamic:\n"
        "      env:\n"
        "        variables:\n"
        "          OS: [linux, mac os]\n"
        "          PY: ['3.11', '3.12']\n" + PHASES
    )
    assert [t.identifier for t in got.tasks] == [
        "OS_linux_PY_3_11",
        "OS_linux_PY_3_12",
        "OS_mac_os_PY_3_11",
        "OS_mac_os_PY_3_12",
    ]
    assert got.tasks[2].env.variables == {"COMMON": "c", "OS": "mac os", "PY": "3.11"}
    assert all(t.ignore_failure for t in got.tasks)


def test_matrix_over_buildspecs_and_images() -> None:
    got = parsed(
        "version: 0.2\nbatch:\n  build-matrix:\n    dynamic:\n"
        "      buildspec: [a.yml, ci/b.yml]\n"
        "      env: {image: ['runner/build:1']}\n"
    )
    assert [(t.identifier, t.buildspec, t.env.image) for t in got.tasks] == [
        ("buildspec_a_yml_image_runner_build_1", "a.yml", "runner/build:1"),
        ("buildspec_ci_b_yml_image_runner_build_1", "ci/b.yml", "runner/build:1"),
    ]


def test_matrix_identifiers_that_collide_or_are_too_long_get_a_hash() -> None:
    names = batch.matrix_identifiers([(("var:V", "a.b"),), (("var:V", "a_b"),), (("var:V", "x" * 200),)])
    assert names[0].startswith("V_a_b_") and names[1].startswith("V_a_b_") and names[0] != names[1]
    assert len(names[2]) == 127 and names[2].startswith("V_xxx")
    assert names == batch.matrix_identifiers(
        [(("var:V", "a.b"),), (("var:V", "a_b"),), (("var:V", "x" * 200),)]
    )
    assert all(n.replace("_", "").isalnum() for n in names)


def test_a_matrix_without_dynamic_lists_is_refused() -> None:
    text = "version: 0.2\nbatch:\n  build-matrix:\n    static: {ignore-failure: true}\n" + PHASES
    assert error_of(text) == (
        "buildspec.yml:3:3: batch.build-matrix.dynamic: expected at least one list of values"
    )


def test_depend_on_naming_no_task_is_refused_with_its_position() -> None:
    text = (
        "version: 0.2\nbatch:\n  build-graph:\n"
        "    - identifier: a\n"
        "    - identifier: b\n"
        "      depend-on: [a, nope]\n" + PHASES
    )
    assert error_of(text) == (
        "buildspec.yml:6:22: batch.build-graph[1].depend-on[1]: no task has the identifier 'nope'"
    )


def test_a_cycle_is_refused() -> None:
    text = (
        "version: 0.2\nbatch:\n  build-graph:\n"
        "    - identifier: a\n"
        "      depend-on: [c]\n"
        "    - identifier: b\n"
        "      depend-on: [a]\n"
        "    - identifier: c\n"
        "      depend-on: [b]\n" + PHASES
    )
    assert error_of(text) == (
        "buildspec.yml:5:18: batch.build-graph[0].depend-on: a dependency cycle: a -> c -> b -> a"
    )


def test_duplicate_identifiers_and_two_kinds_are_refused() -> None:
    twice = "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n    - identifier: a\n" + PHASES
    assert error_of(twice) == "buildspec.yml:5:7: batch.build-list[1].identifier: 'a' is used twice"
    both = (
        "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n"
        "  build-graph:\n    - identifier: b\n" + PHASES
    )
    assert error_of(both) == (
        "buildspec.yml:5:3: batch.build-graph: a batch has exactly one of build-list, build-graph, "
        "build-matrix, build-fanout; build-list is already given"
    )
    assert error_of("version: 0.2\nbatch:\n  fast-fail: true\n" + PHASES) == (
        "buildspec.yml:3:3: batch: expected one of build-list, build-graph, build-matrix, build-fanout"
    )


def test_project_settings_under_batch_only_warn_and_fanout_is_out_of_scope() -> None:
    got = parsed(
        "version: 0.2\nbatch:\n  combine-artifacts: true\n  build-fanout:\n    parallelism: 3\n" + PHASES
    )
    assert got.kind == batch.FANOUT and got.tasks == ()
    assert got.warnings[0].startswith("buildspec.yml:3:3: batch.combine-artifacts: unknown key ignored")
    assert got.warnings[1] == batch.FANOUT_WARNING


def test_depend_on_in_a_build_list_is_ignored_with_a_warning() -> None:
    got = parsed("version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n      depend-on: [a]\n" + PHASES)
    assert got.tasks[0].depends_on == ()
    assert got.warnings == (
        "buildspec.yml:5:7: batch.build-list[0].depend-on: only build-graph tasks wait; ignored",
    )


def test_batch_only_files_are_recognised() -> None:
    only = load_text("version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n", "b.yml")
    both = load_text("version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n" + PHASES, "b.yml")
    assert batch.is_batch_only(only) and not batch.is_batch_only(both) and batch.has_batch(both)


def graph(*edges: tuple[str, tuple[str, ...], bool]) -> tuple[batch.Task, ...]:
    where = batch.Position("b.yml", 1, 1)
    return tuple(
        batch.Task(name, where, "b", depends_on=deps, ignore_failure=ign) for name, deps, ign in edges
    )


def test_order_waits_for_dependencies_and_skips_dependants_of_a_failure() -> None:
    tasks = graph(("a", (), False), ("b", ("a",), False), ("c", ("b",), False), ("d", (), False))
    assert [t.identifier for t in batch.ready(tasks, {}, set(), set())] == ["a", "d"]
    assert [t.identifier for t in batch.ready(tasks, {"a": "SUCCEEDED"}, {"a"}, {"a", "d"})] == ["b"]
    ended = {"a": "FAILED"}
    assert [t.identifier for t in batch.never_run(tasks, ended, {"a"})] == ["b"]
    ended["b"] = "STOPPED"  # not run: its own dependants follow
    assert [t.identifier for t in batch.never_run(tasks, ended, {"a"})] == ["c"]


def test_dependants_of_an_ignore_failure_task_run() -> None:
    tasks = graph(("a", (), True), ("b", ("a",), False))
    assert [t.identifier for t in batch.ready(tasks, {"a": "FAILED"}, {"a"}, {"a"})] == ["b"]
    assert batch.never_run(tasks, {"a": "FAILED"}, {"a"}) == []
    # …but not when it never ran (stopped before it started)
    assert [t.identifier for t in batch.never_run(tasks, {"a": "STOPPED"}, set())] == ["b"]


def test_batch_status() -> None:
    tasks = graph(("a", (), False), ("b", (), True))
    assert batch.batch_status(tasks, {"a": "SUCCEEDED", "b": "FAILED"}) == "SUCCEEDED"
    assert batch.batch_status(tasks, {"a": "FAULT", "b": "SUCCEEDED"}) == "FAILED"
    assert batch.batch_status(tasks, {"a": "SUCCEEDED"}, stopped=True) == "STOPPED"
    assert batch.batch_status(tasks, {"a": "SUCCEEDED"}, stopped=True, timed_out=True) == "TIMED_OUT"
    assert batch.variables("a") == {"CODEBUILD_BATCH_BUILD_IDENTIFIER": "a"} and batch.variables(None) == {}


# ---------------------------------------------------------------- the CLI's config errors (no Docker)

GRAPH_HEAD = "version: 0.2\nbatch:\n  build-graph:\n"


def cli(*args: str, home: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "RUNNER_HOME": str(home)}
    return subprocess.run(
        [sys.executable, "-m", "runner", *args], capture_output=True, text=True, cwd=cwd, env=env
    )


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        (
            "    - identifier: a\n      depend-on: [zz]\n",
            "buildspec.yml:5:19: batch.build-graph[0].depend-on[0]: no task has the identifier 'zz'",
        ),
        (
            "    - identifier: a\n      depend-on: [b]\n    - identifier: b\n      depend-on: [a]\n",
            "buildspec.yml:5:18: batch.build-graph[0].depend-on: a dependency cycle: a -> b -> a",
        ),
        (
            "    - identifier: a\n      buildspec: ci/missing.yml\n",
            "buildspec.yml:5:18: batch.build-graph[0].buildspec: ci/missing.yml: "
            "no such file in the source {src}",
        ),
        (
            "    - identifier: a\n",
            "buildspec.yml:4:7: batch.build-graph[0]: names no buildspec, and this file has no phases",
        ),
    ],
)
def test_config_errors_exit_2_in_one_line_before_anything_runs(
    tmp_path: Path, tasks: str, expected: str
) -> None:
    (tmp_path / "buildspec.yml").write_text(GRAPH_HEAD + tasks)
    home = tmp_path / "home"
    result = cli("build", "--json", home=home, cwd=tmp_path)  # a batch-only file: a batch without --batch
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines()[-1] == "runner: error: " + expected.format(src=tmp_path)
    assert result.stdout == "" and not (home / "state.db").exists()


def test_flags_that_refuse_a_batch(tmp_path: Path) -> None:
    (tmp_path / "buildspec.yml").write_text(
        "version: 0.2\nbatch:\n  build-list:\n    - identifier: a\n    - identifier: b\n" + PHASES
    )
    home = tmp_path / "home"
    too_many = cli("build", "--batch", "--max-builds", "1", home=home, cwd=tmp_path)
    assert too_many.returncode == 2
    assert too_many.stderr == "runner: error: the batch has 2 builds; --max-builds allows 1\n"
    combine = cli("build", "--batch", "--combine-artifacts", home=home, cwd=tmp_path)
    assert combine.stderr == "runner: error: --combine-artifacts needs -a DIR\n"
    (tmp_path / "buildspec.yml").write_text("version: 0.2\n" + PHASES)
    plain = cli("build", "--batch", home=home, cwd=tmp_path)
    assert (plain.returncode, plain.stderr) == (
        2,
        "runner: error: buildspec.yml has no batch section (--batch runs one)\n",
    )
    assert not (home / "state.db").exists()


# ---------------------------------------------------------------- the store


def test_batch_records_ids_and_links(tmp_path: Path) -> None:
    store = open_store(tmp_path / "home")
    first = batches.create_batch(
        store, "p", "build-graph", "b.yml", [("a", (), {}), ("b", ("a",), {})], 1, {}
    )
    second = batches.create_batch(store, "p", "build-list", "b.yml", [("x", (), {})], 1, {})
    other = batches.create_batch(store, "q", "build-list", "b.yml", [("x", (), {})], 1, {})
    assert (first.id, second.id, other.id) == ("p:batch-1", "p:batch-2", "q:batch-1")
    assert batches.is_batch_ref("batch-2") and batches.is_batch_ref("p:batch-2")
    assert not batches.is_batch_ref("12") and not batches.is_batch_ref("p:0b3c-uuid")
    assert batches.get_batch(store, "batch-2") == second and batches.get_batch(store, "p:batch-1") == first
    assert batches.get_batch(store, "batch-9") is None
    batches.link_build(store, first.id, "a", "p:some-build")
    assert batches.batch_links(store, ["p:some-build", "p:other"]) == {"p:some-build": (first.id, "a")}
    batches.finish_batch(store, first.id, "FAILED")
    tasks = batches.tasks_of(store, first.id)
    assert [t.as_json() for t in tasks] == [
        {"identifier": "a", "number": None, "status": "IN_PROGRESS", "depends_on": []},
        {"identifier": "b", "number": None, "status": "STOPPED", "depends_on": ["a"]},
    ]
    assert batches.get_batch(store, first.id).status == "FAILED"  # type: ignore[union-attr]


# ---------------------------------------------------------------- planning (no Docker)


def test_plan_gives_each_task_its_request(tmp_path: Path) -> None:
    from runner.codebuild.batch_run import BatchOptions, plan
    from runner.codebuild.build import BuildRequest

    text = (
        "version: 0.2\nbatch:\n  build-list:\n"
        "    - identifier: own\n"
        "      env: {image: task-image, privileged-mode: true, variables: {A: task, B: task}}\n"
        "    - identifier: inline\n"
        "      buildspec: |\n"
        "        version: 0.2\n"
        "        phases:\n"
        "          build:\n"
        "            commands: [echo inline]\n" + PHASES
    )
    (tmp_path / "buildspec.yml").write_text(text)
    base = BuildRequest(
        source=tmp_path,
        buildspec=tmp_path / "buildspec.yml",
        image="cli-image",
        project="p",
        work_dir=tmp_path / "work",
        artifacts_dir=tmp_path / "out",
        overrides={"A": "cli"},
    )
    parsed_batch = batch.parse(load_text(text, "buildspec.yml"))
    checked = plan(base, parsed_batch, "buildspec.yml", BatchOptions(jobs=2))
    own, inline = checked.requests["own"], checked.requests["inline"]
    assert (own.image, own.privileged, dict(own.overrides)) == ("task-image", True, {"A": "cli", "B": "task"})
    assert own.buildspec == base.buildspec and own.artifacts_dir == tmp_path / "out" / "own"
    assert inline.image == "cli-image" and not inline.privileged
    assert inline.buildspec.read_text().startswith("version: 0.2\nphases:")


def test_an_identifier_codebuild_refuses_fails_the_batch_and_only_warns_a_plain_build() -> None:
    """CodeBuild's BATCH_SPEC_VALIDATION_ERROR belongs to start-build-batch; start-build
    ignores `batch` (cypress-example-kitchensink's buildspec.yml has `cypress-e2e-tests`)."""
    from runner.codebuild.buildspec_loader import loads

    text = "version: 0.2\nbatch:\n  build-list:\n    - identifier: e2e-tests\n" + PHASES
    rule = (
        "must contain only alphanumeric characters and underscores and be less than 128 characters "
        "in length"
    )
    assert error_of(text) == f"buildspec.yml:4:7: batch.build-list[0].identifier: 'e2e-tests' {rule}"
    warning = f"buildspec.yml:4:19: batch.build-list[0].identifier: 'e2e-tests' {rule}: a batch build"
    assert f"{warning} (runner build --batch) refuses it" in loads(text).warnings
