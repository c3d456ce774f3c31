"""Malformed buildspec.yml / pipeline.yml files: one line with file:line:column, exit 2, nothing stored.

Every file of corpus/<kind>/ goes through every command that loads that kind of file. The
matrix calls the CLI's `main(argv)` in this process (fast); the most hostile files (binary,
alias bomb, deep nesting, huge, not UTF-8) also go through a real `runner` process, where a
crash of the interpreter itself (recursion, memory) would show.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import pytest

from runner.cli import main
from runner.store import open_store
from tests.reliability.helpers import CORPUS, one_line, run_cli, snapshot

HUGE = "huge.yml"  # generated: a 2 MiB file does not belong in git
EXPECTED = {
    "buildspec": {
        "alias_bomb.yml": "2:20: aliases expand to too many nodes (a YAML bomb?)",
        "bad_on_failure.yml": "5:17: phases.build.on-failure: expected ABORT, CONTINUE, RETRY",
        "bad_version.yml": "1:10: version: expected 0.2 (or 0.1), got '0.3'",
        "binary_garbage.yml": "1:10: file is not UTF-8 text",
        "bom_then_wrong_type.yml": "5:14: phases.build.finally: expected a list, got a number (3)",
        "bool_is_not_yes_no.yml": "7:18: artifacts.discard-paths: expected yes or no, got 'maybe'",
        "command_is_a_mapping.yml": "5:9: phases.build.commands[0]: expected a string, got a mapping",
        "commands_not_a_list.yml": "4:15: phases.build.commands: expected a list, got a string ('echo hi')",
        "deep_nesting.yml": "5:70: nesting deeper than 64 levels",
        "duplicate_phase.yml": "6:3: duplicate key 'build' (first defined on line 3)",
        "duplicate_version.yml": "2:1: duplicate key 'version' (first defined on line 1)",
        "empty.yml": "1:1: file is empty; expected a mapping",
        "latin1.yml": "5:17: file is not UTF-8 text",
        "list_at_top.yml": "1:1: (top level): expected a mapping, got a list",
        "newline_in_key.yml": "3:3: phases.'x\\ny': Invalid buildspec phase name: 'x\\ny'. Expecting: build,",
        "nul_byte.yml": "4:20: invalid YAML: unacceptable character #x0000",
        "only_comment.yml": "1:1: file is empty; expected a mapping",
        "tab_indent.yml": "5:1: invalid YAML: found character '\\t' that cannot start any token",
        "unclosed_flow.yml": "5:13: invalid YAML: expected ',' or ']'",
        "unknown_phase.yml": "3:3: phases.compile: Invalid buildspec phase name: compile. Expecting: build,",
        "unpaired_surrogate.yml": "5:9: an unpaired surrogate",
        "unterminated_quote.yml": "6:1: invalid YAML: found unexpected end of stream",
        HUGE: "1:1: file is 2097212 bytes; the limit is 2097152",
    },
    "pipeline": {
        "absurd_duration.yml": "9:23: environments[0].approval_timeout: expected a duration of at most 365d",
        "alias_bomb.yml": "2:25: aliases expand to too many nodes (a YAML bomb?)",
        "app_name_pattern.yml": "1:6: app: expected a lowercase name",
        "bad_duration.yml": "9:11: environments[0].bake: expected a duration such as",
        "binary_garbage.yml": "1:1: file is not UTF-8 text",
        "deep_nesting.yml": "5:258: nesting deeper than 64 levels",
        "duplicate_service.yml": "5:3: duplicate key 'web' (first defined on line 3)",
        "empty.yml": "1:1: file is empty; expected a mapping",
        "huge_integer.yml": "2:20: build_parallelism: expected a whole number of at most 18 digits",
        "latin1.yml": "6:20: file is not UTF-8 text",
        "list_at_top.yml": "1:1: (top level): expected a mapping, got a list",
        "no_environments.yml": "5:15: environments: expected at least 1 item(s)",
        "port_not_a_number.yml": "5:11: services.web.port: expected a whole number, got 'eighty'",
        "port_out_of_range.yml": "5:11: services.web.port: expected a number <= 65535, got 70000",
        "port_used_twice.yml": "10:11: environments[1].port: 8081 is already used by environment staging",
        "services_is_a_list.yml": "2:11: services: expected a mapping, got a list",
        "tab_indent.yml": "4:1: invalid YAML: found character '\\t' that cannot start any token",
        "two_strategies.yml": "10:7: environments[0].strategy: expected exactly one of canary, linear",
        "unknown_service_key.yml": "5:5: services.web.pth: unknown key; expected one of: path,",
        "unknown_strategy.yml": "9:15: environments[0].strategy: expected AllAtOnce, CanaryNPercentMMinutes",
        "unpaired_surrogate.yml": "6:10: an unpaired surrogate",
        HUGE: "1:1: file is 2097218 bytes; the limit is 2097152",
    },
}
EXPECTED["appspec"] = {
    "alias_bomb.yml": "2:191: aliases expand to too many nodes (a YAML bomb?)",
    "bad_version.yml": "1:10: version: expected 0.0, got '3.0'",
    "binary_garbage.yml": "1:7: file is not UTF-8 text",
    "deep_nesting.yml": "3:68: nesting deeper than 64 levels",
    "duplicate_version.yml": "2:1: duplicate key 'version' (first defined on line 1)",
    "empty.yml": "1:1: file is empty; expected a mapping",
    "hook_is_a_list.yml": "10:20: Hooks[0].BeforeInstall: expected a string, got a list",
    "latin1.yml": "3:23: file is not UTF-8 text",
    "list_at_top.yml": "1:1: (top level): expected a mapping, got a list",
    "port_not_a_number.yml": "8:26: Resources[0].TargetService.Properties.LoadBalancerInfo.ContainerPort: "
    "expected a whole number, got 'http'",
    "tab_indent.yml": "4:1: invalid YAML: found character '\\t' that cannot start any token",
    "two_events_in_one_hook.yml": "11:5: Hooks[1]: expected exactly one lifecycle event",
    "unhookable_event.yml": "10:5: Hooks[0].AllowTraffic: unknown key; expected one of: BeforeInstall,",
    "unpaired_surrogate.yml": "3:20: an unpaired surrogate",
    HUGE: "1:1: file is 2097201 bytes; the limit is 2097152",
}
# Files CodeBuild runs (with a warning) that this corpus once held as errors: they must stay accepted.
ACCEPTED = {
    "reserved_variable.yml": "4:5: env.variables.CODEBUILD_BUILD_ID: names starting with CODEBUILD_ are "
    "reserved by CodeBuild; a variable CodeBuild sets keeps CodeBuild's value",
}
FILE_NAME = {"buildspec": "buildspec.yml", "pipeline": "pipeline.yml", "appspec": "web/appspec.yml"}
VALID_PIPELINE = (
    "app: shop\nservices:\n  web:\n    path: web\n"
    "environments:\n  - name: staging\n    port: 8081\n    test_port: 9081\n"
)
# Every command that loads the file; pipeline.yml must be found by the commands themselves.
COMMANDS = {
    "buildspec": [["validate", "buildspec.yml"], ["build", "-b", "buildspec.yml"]],
    "pipeline": [["validate", "pipeline.yml"], ["build", "web"], ["pipeline", "run"]],
}
HOSTILE_ARGV = {
    "buildspec": ["build", "-b", "buildspec.yml"],
    "pipeline": ["build", "web"],
    "appspec": ["validate", "web/appspec.yml"],
}
HOSTILE = ["binary_garbage.yml", "alias_bomb.yml", "deep_nesting.yml", "latin1.yml", HUGE]


def corpus_text(kind: str, name: str) -> bytes:
    if name != HUGE:
        return (CORPUS / kind / name).read_bytes()
    if kind == "buildspec":
        head, line = b"version: 0.2\nphases:\n  build:\n    commands:\n", b"      - echo 0123456789\n"
    elif kind == "appspec":
        head, line = b"version: 0.0\nHooks:\n", b"  - BeforeInstall: a0123456789\n"
    else:
        head, line = b"app: shop\nservices:\n  web:\n    path: web\n    inputs:\n", b"      - x/0123456789\n"
    return head + line * (2 * 1024 * 1024 // len(line) + 1)


def cases(kind: str) -> list[str]:
    return sorted(EXPECTED[kind])


@pytest.mark.parametrize("kind", ["buildspec", "pipeline", "appspec"])
def test_every_corpus_file_has_an_expectation(kind: str) -> None:
    on_disk = {p.name for p in (CORPUS / kind).iterdir()}
    assert on_disk | {HUGE} == set(EXPECTED[kind])


def test_accepted_files_are_warnings_not_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert {p.name for p in (CORPUS / "buildspec_accepted").iterdir()} == set(ACCEPTED)
    for name, warning in ACCEPTED.items():
        path = tmp_path / "buildspec.yml"
        path.write_bytes((CORPUS / "buildspec_accepted" / name).read_bytes())
        assert main(["validate", str(path)]) == 0
        out, err = capsys.readouterr()
        assert out == f"{path}: ok\n" and err == f"warning: {path}:{warning}\n"


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project directory whose store already holds something (a used project)."""
    root = tmp_path / "project"
    (root / "web").mkdir(parents=True)
    home = tmp_path / "home"
    monkeypatch.setenv("RUNNER_HOME", str(home))
    monkeypatch.chdir(root)
    store = open_store(home)
    store.event("test.seed", "reliability", note="present before the bad command")
    store.close()
    return root


def state_of(home: Path) -> tuple[dict[str, object], list[str]]:
    files = sorted(str(p.relative_to(home)) for p in home.rglob("*") if not p.name.endswith(("-wal", "-shm")))
    return snapshot(home / "state.db"), files


def check_refused(code: int, out: str, err: str, kind: str, name: str) -> None:
    assert code == 2, err
    line = one_line(err)
    prefix = f"runner: error: {FILE_NAME[kind]}:"
    assert line.startswith(prefix + EXPECTED[kind][name]), line
    assert out == ""


@pytest.mark.parametrize("argv", COMMANDS["buildspec"], ids=" ".join)
@pytest.mark.parametrize("name", cases("buildspec"))
def test_bad_buildspec(name: str, argv: list[str], project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "buildspec.yml").write_bytes(corpus_text("buildspec", name))
    home = project.parent / "home"
    before = state_of(home)
    code = main(argv)
    out, err = capsys.readouterr()
    check_refused(code, out, err, "buildspec", name)
    assert state_of(home) == before


@pytest.mark.parametrize("argv", COMMANDS["pipeline"], ids=" ".join)
@pytest.mark.parametrize("name", cases("pipeline"))
def test_bad_pipeline_yml(
    name: str, argv: list[str], project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (project / "pipeline.yml").write_bytes(corpus_text("pipeline", name))
    (project / "web" / "buildspec.yml").write_text("version: 0.2\nphases: {build: {commands: [true]}}\n")
    home = project.parent / "home"
    before = state_of(home)
    code = main(argv)
    out, err = capsys.readouterr()
    check_refused(code, out, err, "pipeline", name)
    assert state_of(home) == before


@pytest.mark.parametrize(("kind", "name"), [(k, n) for k in HOSTILE_ARGV for n in HOSTILE])
def test_hostile_files_through_a_real_runner_process(kind: str, name: str, tmp_path: Path) -> None:
    root, home = tmp_path / "project", tmp_path / "home"
    (root / "web").mkdir(parents=True)
    (root / FILE_NAME[kind]).write_bytes(corpus_text(kind, name))
    argv = HOSTILE_ARGV[kind]
    result = run_cli(*argv, cwd=root, home=home)
    check_refused(result.returncode, result.stdout, result.stderr, kind, name)
    assert not home.exists()  # refused before the store is opened (created)


def test_bad_buildspec_in_a_new_project_creates_no_store(tmp_path: Path) -> None:
    root, home = tmp_path / "project", tmp_path / "home"
    root.mkdir()
    shutil.copy(CORPUS / "buildspec" / "tab_indent.yml", root / "buildspec.yml")
    result = run_cli("build", "-b", "buildspec.yml", cwd=root, home=home)
    assert result.returncode == 2 and not home.exists()


@pytest.fixture(scope="module")
def deployable() -> str:
    """An image `runner deploy` accepts, so the command gets as far as reading the appspec."""
    from tests.integration.deploy.helpers import build_app

    return build_app(f"rel{uuid.uuid4().hex[:8]}-web:1a1a1a1a1a1a", "1").tag


@pytest.mark.parametrize("via", ["validate", pytest.param("deploy", marks=pytest.mark.docker)])
@pytest.mark.parametrize("name", cases("appspec"))
def test_bad_appspec(
    name: str, via: str, project: Path, capsys: pytest.CaptureFixture[str], request: pytest.FixtureRequest
) -> None:
    """`runner deploy` reads the appspec before it takes the environment's lock or starts anything."""
    (project / "pipeline.yml").write_text(VALID_PIPELINE)
    (project / "web" / "appspec.yml").write_bytes(corpus_text("appspec", name))
    if via == "validate":
        argv = ["validate", "web/appspec.yml"]
    else:
        argv = ["deploy", "staging", "web", request.getfixturevalue("deployable"), "--no-wait"]
    home = project.parent / "home"
    before = state_of(home)
    code = main(argv)
    out, err = capsys.readouterr()
    check_refused(code, out, err, "appspec", name)
    assert state_of(home) == before
