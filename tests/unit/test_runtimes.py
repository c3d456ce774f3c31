"""runtime-versions selection against an image's runtimes.yml (CODEBUILD.md decisions 12-16)."""

from __future__ import annotations

import pytest

from runner.codebuild import runtimes
from runner.codebuild.runtimes import Runtime, SelectionError
from runner.images import base as base_images

# The shape of CodeBuild's ubuntu/standard/7.0 file (versions as YAML writes them: 3.10, 18).
IMAGE_FILE = """\
version: 0.1

runtimes:
  java:
    versions:
      corretto8:
        commands:
          - echo "Installing Java version 8 ..."
      corretto17:
        commands:
          - echo "Installing Java version 17 ..."

          - export JAVA_HOME="$JAVA_17_HOME"
      corretto21:
        commands:
          - echo "Installing Java version 21 ..."
      default:
        commands:
          - echo "Installing custom Corretto(OpenJDK) version $VERSION ..."
          - apt-get install -y java-$VERSION-amazon-corretto-jdk
  python:
    versions:
      3.9:
        commands: [pyenv global $PYTHON_39_VERSION]
      3.10:
        commands: [pyenv global $PYTHON_310_VERSION]
      3.11:
        commands:
          - echo "Installing Python version 3.11 ..."
          - pyenv global  $PYTHON_311_VERSION
  nodejs:
    versions:
      18:
        commands: [n $NODE_18_VERSION]
      20:
        commands: [n $NODE_20_VERSION]
"""


def table() -> dict[str, Runtime]:
    return runtimes.parse(IMAGE_FILE, "img")


def pick(requested: dict[str, str], env: dict[str, str] | None = None) -> list[tuple[str, str]]:
    values = {name: runtimes.expand(value, env or {}) for name, value in requested.items()}
    return [(s.runtime, s.version) for s in runtimes.select(table(), values, "img")]


def failure(requested: dict[str, str], image: str = "img") -> SelectionError:
    with pytest.raises(SelectionError) as info:
        runtimes.select(table(), requested, image)
    return info.value


def test_versions_are_kept_as_written_and_the_default_entry_apart() -> None:
    parsed = table()
    assert sorted(parsed) == ["java", "nodejs", "python"]
    assert list(parsed["python"].versions) == ["3.9", "3.10", "3.11"]  # not 3.1
    assert list(parsed["nodejs"].versions) == ["18", "20"]
    assert parsed["java"].versions["corretto17"] == (
        'echo "Installing Java version 17 ..."',
        'export JAVA_HOME="$JAVA_17_HOME"',
    )
    assert parsed["java"].default is not None and parsed["python"].default is None


def test_exact_versions_are_selected_in_buildspec_order_with_the_agents_log_line() -> None:
    assert pick({"python": "3.10", "java": "corretto17"}) == [("python", "3.10"), ("java", "corretto17")]
    [selection] = runtimes.select(table(), {"python": "3.11"}, "img")
    assert runtimes.selecting_line("python", "3.x") == (
        "Selecting 'python' runtime version '3.x' based on manual selections..."
    )
    assert selection.commands == (
        'echo "Installing Python version 3.11 ..."',
        "pyenv global  $PYTHON_311_VERSION",
    )


def test_major_x_and_latest_pick_the_newest_numerically() -> None:
    assert pick({"python": "3.x"}) == [("python", "3.11")]
    assert pick({"python": "latest", "nodejs": "latest"}) == [("python", "3.11"), ("nodejs", "20")]
    assert pick({"nodejs": "18.x"}) == [("nodejs", "18")]
    assert pick({"java": "corretto17.x", "python": "3.10.x"}) == [
        ("java", "corretto17"),
        ("python", "3.10"),
    ]
    assert pick({"java": "latest"}) == [("java", "corretto21")]  # 21 > 17 > 8, not by text


def test_version_order_compares_numbers_as_numbers() -> None:
    versions = ["3.10", "3.9", "3.14", "corretto8", "corretto17", "1.20", "1.9"]
    assert sorted(versions, key=runtimes.version_key) == [
        "1.9",
        "1.20",
        "3.9",
        "3.10",
        "3.14",
        "corretto8",
        "corretto17",
    ]


def test_a_variable_is_read_from_the_builds_variables() -> None:
    assert pick({"nodejs": "$NODE"}, {"NODE": "20"}) == [("nodejs", "20")]
    assert pick({"python": "${PY}"}, {"PY": "3.x"}) == [("python", "3.11")]


def test_unknown_version_is_codebuilds_yaml_file_error_with_our_hint() -> None:
    error = failure({"python": "3.12"}, image="runner/standard:bookworm")
    assert error.status_code == "YAML_FILE_ERROR" and error.status == "FAILED"
    assert str(error) == (
        "Unknown runtime version named '3.12' of python. "
        "This build image has the following versions: 3.9, 3.10, 3.11"
    )
    assert error.hint == (
        "runner/standard:bookworm has python 3.9, 3.10, 3.11; -i IMAGE (pipeline.yml: build_image) selects "
        "another build image, e.g. a CodeBuild standard image where it can be pulled"
    )


def test_major_x_without_a_match_names_the_value_as_written() -> None:
    assert str(failure({"nodejs": "16.x"})) == (
        "Unknown runtime version named '16.x' of nodejs. This build image has the following versions: 18, 20"
    )


def test_unset_variable_is_an_unknown_empty_version() -> None:
    assert runtimes.expand("$NOPE", {}) == ""
    assert str(failure({"nodejs": ""})).startswith("Unknown runtime version named '' of nodejs.")


def test_unknown_runtime_lists_the_runtimes_alphabetically() -> None:
    error = failure({"python": "3.11", "docker": "20"})
    assert str(error) == (
        "Unknown runtime named 'docker'. This build image has the following runtimes: java, nodejs, python"
    )
    assert error.hint.startswith("img has the runtimes java, nodejs, python; -i IMAGE")


def test_a_default_entry_installs_a_custom_version_with_version_substituted() -> None:
    [selection] = runtimes.select(table(), {"java": "corretto11"}, "img")
    assert (selection.version, selection.commands) == (
        "corretto11",
        (
            'echo "Installing custom Corretto(OpenJDK) version 11 ..."',
            "apt-get install -y java-11-amazon-corretto-jdk",
        ),
    )


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("runtimes: [java]\n", "no `runtimes:` mapping"),
        (
            "runtimes:\n  java:\n    versions:\n      17:\n        commands: {a: b}\n",
            "runtime java: `commands`",
        ),
        ("runtimes: {java: [\n", "not YAML"),
    ],
)
def test_a_malformed_image_file_is_one_clear_line(text: str, why: str) -> None:
    with pytest.raises(SelectionError) as info:
        runtimes.parse(text, "my/image")
    message = str(info.value)
    assert message.startswith(
        "Invalid runtime configuration /codebuild/image/config/runtimes.yml in image my/image: " + why
    )
    assert "\n" not in message


def test_the_standard_image_lists_exactly_what_its_recipe_installs() -> None:
    recipe = next(r for r in base_images.RECIPES if r.ref == base_images.STANDARD)
    files = dict(recipe.files)
    parsed = runtimes.parse(files["runtimes.yml"], recipe.ref)
    assert {name: list(r.versions) for name, r in parsed.items()} == {
        "java": ["corretto17"],
        "golang": ["1.23"],
        "python": ["3.11"],
        "nodejs": ["18"],
        "ruby": ["3.1"],
        "php": ["8.2"],
    }
    assert "golang-1.23-go" in recipe.dockerfile and "/usr/lib/go-1.23/bin" in recipe.dockerfile
    assert "openjdk-17-jdk-headless" in recipe.dockerfile
    assert "COPY runtimes.yml /codebuild/image/config/runtimes.yml" in recipe.dockerfile
    java = parsed["java"].versions["corretto17"]
    assert java[0] == 'echo "Installing Java version 17 (Debian\'s OpenJDK 17 stands in for Corretto 17) ..."'
