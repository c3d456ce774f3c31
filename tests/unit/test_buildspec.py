"""Buildspec parsing and validation: exact messages with file:line:column."""

from __future__ import annotations

import pytest

from runner import buildspec
from runner.errors import ConfigError

MINIMAL = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n"


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        buildspec.loads(text)
    return str(info.value)


def test_minimal_buildspec() -> None:
    spec = buildspec.loads(MINIMAL)
    assert spec.version == "0.2"
    assert [p.name for p in spec.phases] == ["build"]
    assert spec.phases[0].commands == ("echo hi",)
    assert spec.env.shell == "sh"


def test_command_that_yaml_reads_as_a_mapping_is_refused_with_its_position() -> None:
    text = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo a: b\n"
    assert error_of(text) == ("buildspec.yml:5:9: phases.build.commands[0]: expected a string, got a mapping")


def test_unknown_phase_is_an_error() -> None:
    text = "version: 0.2\nphases:\n  compile:\n    commands: [make]\n"
    assert error_of(text).startswith("buildspec.yml:3:3: phases.compile: unknown key; expected one of:")


def test_unknown_top_level_key_is_a_warning_with_position() -> None:
    spec = buildspec.loads(MINIMAL + "frobnicate: 1\n")
    assert spec.warnings == (
        "buildspec.yml:6:1: frobnicate: unknown key ignored; known keys: version, run-as, env, proxy, "
        "batch, phases, reports, artifacts, cache",
    )


def test_variables_keep_their_source_text() -> None:
    text = MINIMAL + "env:\n  variables:\n    V: 1.10\n    B: yes\n    N: 007\n"
    assert dict(buildspec.loads(text).env.variables) == {"V": "1.10", "B": "yes", "N": "007"}


def test_version_as_float_and_string() -> None:
    assert buildspec.loads(MINIMAL.replace("0.2", '"0.2"')).version == "0.2"
    assert error_of(MINIMAL.replace("0.2", "0.3")) == ("buildspec.yml:1:10: version: expected 0.2, got '0.3'")


def test_version_01_is_refused_with_a_reason() -> None:
    assert "version 0.1 runs each command in its own shell" in error_of(MINIMAL.replace("0.2", "0.1"))


def test_missing_phases() -> None:
    assert error_of("version: 0.2\n") == "buildspec.yml:1:1: phases: required key is missing"


def test_commands_required_outside_install() -> None:
    assert error_of("version: 0.2\nphases:\n  build:\n    finally: [x]\n") == (
        "buildspec.yml:4:5: phases.build.commands: required key is missing"
    )
    spec = buildspec.loads("version: 0.2\nphases:\n  install:\n    runtime-versions:\n      python: 3.11\n")
    assert spec.phases[0].runtime_versions == {"python": "3.11"}


def test_yes_no_booleans() -> None:
    spec = buildspec.loads(MINIMAL + "artifacts:\n  files: '**/*'\n  discard-paths: yes\n")
    assert spec.artifacts is not None and spec.artifacts.primary.discard_paths is True
    assert spec.artifacts.primary.files == ("**/*",)
    assert error_of(MINIMAL + "artifacts:\n  files: [a]\n  discard-paths: maybe\n") == (
        "buildspec.yml:8:18: artifacts.discard-paths: expected yes or no, got 'maybe'"
    )


def test_duplicate_keys_are_refused() -> None:
    text = "version: 0.2\nphases:\n  build:\n    commands: [a]\n  build:\n    commands: [b]\n"
    assert error_of(text) == "buildspec.yml:5:3: duplicate key 'build' (first defined on line 3)"


def test_tabs_are_a_yaml_error_with_position() -> None:
    assert error_of("version: 0.2\nphases:\n\tbuild: {}\n").startswith("buildspec.yml:3:1: invalid YAML:")


def test_alias_bomb_is_refused() -> None:
    lines = ["version: 0.2", 'a0: &a0 ["x","x","x","x","x","x","x","x","x","x"]']
    for i in range(1, 9):
        lines.append(f"a{i}: &a{i} [" + ",".join([f"*a{i - 1}"] * 10) + "]")
    lines.append("phases: {build: {commands: [x]}}")
    assert "aliases expand to too many nodes" in error_of("\n".join(lines) + "\n")


def test_reserved_variable_names() -> None:
    text = MINIMAL + "env:\n  variables:\n    CODEBUILD_BUILD_ID: x\n"
    assert error_of(text) == (
        "buildspec.yml:8:5: env.variables.CODEBUILD_BUILD_ID: names starting with CODEBUILD_ "
        "are reserved by CodeBuild"
    )


def test_shell_and_secrets_sections() -> None:
    text = MINIMAL + (
        "env:\n  shell: bash\n  parameter-store:\n    DB: /app/db\n  secrets-manager:\n"
        "    TOKEN: prod/app:token\n  exported-variables: [OUT]\n"
    )
    spec = buildspec.loads(text)
    assert spec.env.shell == "bash"
    assert spec.env.parameter_store == {"DB": "/app/db"}
    assert spec.env.secrets_manager == {"TOKEN": "prod/app:token"}
    assert spec.env.exported_variables == ("OUT",)


def test_on_failure_is_validated() -> None:
    text = "version: 0.2\nphases:\n  build:\n    on-failure: SOMETIMES\n    commands: [x]\n"
    assert error_of(text).startswith("buildspec.yml:4:17: phases.build.on-failure: expected ABORT, CONTINUE")


def test_merge_keys_are_resolved() -> None:
    text = "version: 0.2\nx-common: &common\n  commands: [echo shared]\nphases:\n  build:\n    <<: *common\n"
    assert buildspec.loads(text).phases[0].commands == ("echo shared",)


def test_binary_garbage_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError) as info:
        buildspec.from_document(buildspec.load_text("version: 0.2\n\x00\x01", "b.yml"))
    assert str(info.value).startswith("b.yml:")
