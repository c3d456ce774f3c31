"""Buildspec parsing and validation: exact messages with file:line:column."""

from __future__ import annotations

import pytest

from runner.codebuild import buildspec_loader
from runner.codebuild.buildspec_checks import syntax_report
from runner.core.yamlnodes import load_text
from runner.errors import ConfigError

MINIMAL = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo hi\n"


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        buildspec_loader.loads(text)
    return str(info.value)


def test_minimal_buildspec() -> None:
    spec = buildspec_loader.loads(MINIMAL)
    assert spec.version == "0.2"
    assert [p.name for p in spec.phases] == ["build"]
    assert spec.phases[0].commands == ("echo hi",)
    assert spec.env.shell == "sh"


def test_command_that_yaml_reads_as_a_mapping_is_refused_with_its_position() -> None:
    text = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo a: b\n"
    assert error_of(text) == (
        "buildspec.yml:5:9: phases.build.commands[0]: expected a string, got a mapping "
        "(a command with ': ' in it must be quoted)"
    )


def test_unknown_phase_is_an_error_in_codebuilds_words() -> None:
    text = "version: 0.2\nphases:\n  compile:\n    commands: [make]\n"
    assert error_of(text) == (
        "buildspec.yml:3:3: phases.compile: Invalid buildspec phase name: compile. "
        "Expecting: build,install,post_build,pre_build"
    )


def test_unknown_top_level_key_is_a_warning_with_position() -> None:
    spec = buildspec_loader.loads(MINIMAL + "frobnicate: 1\n")
    assert spec.warnings == (
        "buildspec.yml:6:1: frobnicate: In the section (top level), "
        "the following keys cannot be identified: frobnicate",
    )


def test_variables_keep_their_source_text() -> None:
    text = MINIMAL + "env:\n  variables:\n    V: 1.10\n    B: yes\n    N: 007\n"
    assert dict(buildspec_loader.loads(text).env.variables) == {"V": "1.10", "B": "yes", "N": "007"}


def test_version_as_float_and_string() -> None:
    assert buildspec_loader.loads(MINIMAL.replace("0.2", '"0.2"')).version == "0.2"
    assert error_of(MINIMAL.replace("0.2", "0.3")) == (
        "buildspec.yml:1:10: version: expected 0.2 (or 0.1), got '0.3'"
    )
    assert error_of("phases:\n  build:\n    commands: [x]\n") == (
        "buildspec.yml:1:1: version: required key is missing"
    )


def test_version_01_reads_environment_variables_plaintext() -> None:
    text = (
        "version: 0.1\nenvironment_variables:\n  plaintext:\n    GREETING: hi\n"
        "phases:\n  build:\n    commands: [echo $GREETING]\nartifacts:\n  type: zip\n  files: [a]\n"
    )
    spec = buildspec_loader.loads(text)
    assert spec.version == "0.1"
    assert spec.env.variables == {"GREETING": "hi"}
    assert spec.warnings == ()  # both keys are 0.1's own
    # 0.2 renamed them: there they are unknown keys (decision 17).
    assert buildspec_loader.loads(text.replace("0.1", "0.2", 1)).warnings == (
        "buildspec.yml:2:1: environment_variables: In the section (top level), "
        "the following keys cannot be identified: environment_variables",
        "buildspec.yml:9:3: artifacts.type: In the section artifacts, "
        "the following keys cannot be identified: type",
    )


def test_missing_phases() -> None:
    assert error_of("version: 0.2\n") == "buildspec.yml:1:1: phases: required key is missing"


def test_a_batch_file_needs_no_phases() -> None:
    text = (
        "version: 0.2\nbatch:\n  fast-fail: false\n  build-list:\n    - identifier: linux\n"
        "      buildspec: ci/linux.yml\n      env:\n        fleet: my-fleet\n"
        "        compute-type: BUILD_GENERAL1_LARGE\n        image: aws/codebuild/standard:7.0\n"
        "        type: LINUX_CONTAINER\n        privileged-mode: true\n        variables: {A: b}\n"
    )
    spec = buildspec_loader.loads(text)
    assert spec.phases == () and spec.warnings == ()
    assert spec.batch is not None and spec.batch["build-list"][0]["env"]["fleet"] == "my-fleet"


def test_project_settings_under_batch_are_warnings() -> None:
    text = MINIMAL + "batch:\n  combineArtifacts: true\n  build-list:\n    - identifier: a\n"
    assert buildspec_loader.loads(text).warnings == (
        "buildspec.yml:7:3: batch.combineArtifacts: In the section batch, "
        "the following keys cannot be identified: combineArtifacts",
    )


def test_a_phase_without_commands_is_accepted() -> None:
    spec = buildspec_loader.loads("version: 0.2\nphases:\n  build:\n    finally: [x]\n")
    assert spec.phases[0].commands == () and spec.phases[0].finally_commands == ("x",)
    text = "version: 0.2\nphases:\n  install:\n    runtime-versions:\n      python: 3.11\n"
    spec = buildspec_loader.loads(text)
    assert spec.phases[0].runtime_versions == {"python": "3.11"}


def test_commands_with_every_entry_commented_out_is_one_empty_command() -> None:
    """Decision 20, observed on CodeBuild: `PRE_BUILD: 1 commands`, `Running command `, SUCCEEDED."""
    text = (
        "version: 0.2\nphases:\n  pre_build:\n    commands:\n      # - npm ci\n"
        "    finally:\n      # - echo done\n  build:\n    commands: [make]\n"
        "cache:\n  paths:\n    # - /root/.m2/**/*\n"
    )
    spec = buildspec_loader.loads(text)
    assert spec.phases[0].commands == ("",) and spec.phases[0].finally_commands == ()
    assert spec.cache is not None and spec.cache.paths == ()
    assert spec.warnings == ()
    assert error_of(MINIMAL + "cache:\n  key: k\n") == (
        "buildspec.yml:7:3: cache.paths: required key is missing"
    )


def test_misplaced_and_misspelt_keys_are_warnings_in_codebuilds_words() -> None:
    text = (
        "version: 0.2\nenv:\n  compute-type: BUILD_GENERAL1_SMALL\nphases:\n  build:\n"
        "    env:\n      variables: {A: b}\n    Commands:\n      - make\n"
        "artifacts:\n  files: ['**/*']\n  basedir: dist\n"
    )
    spec = buildspec_loader.loads(text)
    assert spec.warnings == (
        "buildspec.yml:3:3: env.compute-type: In the section env, "
        "the following keys cannot be identified: compute-type",
        "buildspec.yml:6:5: phases.build.env: In the section BUILD, "
        "the following keys cannot be identified: env",
        "buildspec.yml:8:5: phases.build.Commands: In the section BUILD, "
        "the following keys cannot be identified: Commands (did you mean commands?)",
        "buildspec.yml:12:3: artifacts.basedir: In the section artifacts, "
        "the following keys cannot be identified: basedir (did you mean base-directory?)",
    )
    assert spec.phases[0].commands == ()  # `Commands` is not `commands`, as on CodeBuild
    assert syntax_report(spec.unknown_keys) == [
        "Found possible syntax errors in buildspec: ",
        "In the section env",
        "    The following keys cannot be identified:",
        "        compute-type",
        "In the section BUILD",
        "    The following keys cannot be identified:",
        "        env",
        "        Commands",
        "In the section artifacts",
        "    The following keys cannot be identified:",
        "        basedir",
    ]


def test_github_actions_steps_are_one_clear_error() -> None:
    text = "version: 0.2\nphases:\n  build:\n    steps:\n      - uses: actions/checkout@v4\n"
    assert error_of(text) == (
        "buildspec.yml:4:5: phases.build.steps: GitHub Actions steps in a buildspec run only on CodeBuild "
        "with a GitHub connection and are not supported here; write the phase as commands"
    )


@pytest.mark.parametrize("shell", ["powershell.exe", "cmd.exe"])
def test_a_windows_shell_is_one_line_naming_windows(shell: str) -> None:
    assert error_of(MINIMAL + f"env:\n  shell: {shell}\n") == (
        f"buildspec.yml:7:10: env.shell: {shell} is the shell of CodeBuild's Windows images; runner runs "
        "Linux containers only: use bash or /bin/sh, or run this buildspec on CodeBuild"
    )
    assert error_of(MINIMAL + "env:\n  shell: zsh\n") == (
        "buildspec.yml:7:10: env.shell: expected one of bash, /bin/bash, sh, /bin/sh, got 'zsh'"
    )


def test_yes_no_booleans() -> None:
    spec = buildspec_loader.loads(MINIMAL + "artifacts:\n  files: '**/*'\n  discard-paths: yes\n")
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


def test_reserved_variable_names_are_a_warning() -> None:
    text = MINIMAL + "env:\n  variables:\n    CODEBUILD_BUILD_ID: x\n"
    spec = buildspec_loader.loads(text)
    assert spec.warnings == (
        "buildspec.yml:8:5: env.variables.CODEBUILD_BUILD_ID: names starting with CODEBUILD_ "
        "are reserved by CodeBuild; a variable CodeBuild sets keeps CodeBuild's value",
    )
    assert spec.env.variables == {"CODEBUILD_BUILD_ID": "x"}


def test_shell_and_secrets_sections() -> None:
    text = MINIMAL + (
        "env:\n  shell: bash\n  parameter-store:\n    DB: /app/db\n  secrets-manager:\n"
        "    TOKEN: prod/app:token\n  exported-variables: [OUT]\n"
    )
    spec = buildspec_loader.loads(text)
    assert spec.env.shell == "bash"
    assert spec.env.parameter_store == {"DB": "/app/db"}
    assert spec.env.secrets_manager == {"TOKEN": "prod/app:token"}
    assert spec.env.exported_variables == ("OUT",)


def test_on_failure_is_validated() -> None:
    text = "version: 0.2\nphases:\n  build:\n    on-failure: SOMETIMES\n    commands: [x]\n"
    assert error_of(text).startswith("buildspec.yml:4:17: phases.build.on-failure: expected ABORT, CONTINUE")


def test_merge_keys_are_resolved() -> None:
    text = "version: 0.2\nx-common: &common\n  commands: [echo shared]\nphases:\n  build:\n    <<: *common\n"
    assert buildspec_loader.loads(text).phases[0].commands == ("echo shared",)


def test_binary_garbage_is_a_one_line_error() -> None:
    with pytest.raises(ConfigError) as info:
        buildspec_loader.from_document(load_text("version: 0.2\n\x00\x01", "b.yml"))
    assert str(info.value).startswith("b.yml:")


def test_a_bare_dash_is_an_empty_command_and_a_mapping_names_the_usual_cause() -> None:
    """`- # a comment` (seen in real files CodeBuild runs) is an empty command."""
    text = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo a\n      - # a note\n"
    text += "      - echo b\n"
    assert buildspec_loader.loads(text).phases[0].commands == ("echo a", "", "echo b")
    assert error_of(text.replace("# a note", "echo x: y")) == (
        "buildspec.yml:6:9: phases.build.commands[1]: expected a string, got a mapping "
        "(a command with ': ' in it must be quoted)"
    )


def test_an_empty_phases_section_runs_nothing_and_says_so() -> None:
    text = "version: 0.1\nphases:\n\nenvironment_variables:\n  plaintext: {A: b}\n"
    text += "  build:\n    commands: [x]\n"
    spec = buildspec_loader.loads(text)
    assert spec.phases == () and spec.env.variables == {"A": "b"}
    assert spec.warnings == (
        "buildspec.yml:6:3: environment_variables.build: In the section environment_variables, "
        "the following keys cannot be identified: build",
        "buildspec.yml:2:1: phases: no phase is defined (the section is empty); no command runs",
    )
