"""runtime-versions against real images (CODEBUILD.md decisions 11-15): the standard image
compiles and runs each language after selecting it; a custom image's own runtimes.yml is read
and run; an image without one gets CodeBuild's warning."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.adapters.docker import client as docker_client
from runner.adapters.docker import images
from runner.codebuild.build import RUNTIME_WARNING, BuildResult
from runner.images import base as base_images
from tests.integration.helpers import build, phase_statuses, write_project

pytestmark = pytest.mark.docker

STANDARD = base_images.STANDARD


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("runner-home")


def run(
    tmp_path: Path, home: Path, spec: str, files: dict[str, str] | None = None, image: str = STANDARD
) -> tuple[BuildResult, list[str]]:
    root = write_project(tmp_path / "src", spec, files)
    lines: list[str] = []
    return build(root, home, lines, image=image), lines


def said(lines: list[str]) -> list[str]:
    """The runner's `[Container]` lines without their timestamp."""
    return [line.split(" ", 3)[3] for line in lines if line.startswith("[Container] ")]


def printed(lines: list[str]) -> list[str]:
    return [line for line in lines if not line.startswith("[Container] ")]


# language: (requested version, the image's echo, files, build commands, what they print)
LANGUAGES = {
    "java": (
        "corretto17",
        "Installing Java version 17 (Debian's OpenJDK 17 stands in for Corretto 17) ...",
        {"Hello.java": 'class Hello { public static void main(String[] a) { System.out.println("hi"); } }'},
        [
            "javac Hello.java",
            "java Hello",
            'echo "JAVA_HOME=$JAVA_HOME"',
            "mvn -v 2>&1 | grep -o 'Apache Maven [0-9.]*\\|Java version: [0-9]*'",
        ],
        ["hi", "JAVA_HOME=/usr/lib/jvm/openjdk-17", "Apache Maven 3.8.7", "Java version: 17"],
    ),
    "golang": (
        "1.x",
        "Installing Go version 1.23 ...",
        {"hello.go": 'package main\nimport "fmt"\nfunc main() { fmt.Println("hi go") }\n'},
        ["go build -o hello hello.go", "./hello", "go version | cut -d' ' -f3 | cut -d. -f1,2"],
        ["hi go", "go1.23"],
    ),
    "nodejs": (
        "18",
        "Installing Node.js version 18 ...",
        {"hello.js": 'console.log("hi node " + process.version.split(".")[0])\n'},
        ["node hello.js", "npm --version | cut -d. -f1"],
        ["hi node v18", "9"],
    ),
    "python": (
        "3.x",
        "Installing Python version 3.11 ...",
        {"hello.py": 'import sys\nprint("hi python %d.%d" % sys.version_info[:2])\n'},
        [
            "python hello.py",
            "python -m venv /tmp/venv && /tmp/venv/bin/python hello.py",
            "pip --version | cut -c1-7",
        ],
        ["hi python 3.11", "hi python 3.11", "pip 23."],
    ),
    "ruby": ("latest", "Installing Ruby version 3.1 ...", {}, ['ruby -e "puts 1 + 1"'], ["2"]),
    "php": (
        "8.2",
        "Installing PHP version 8.2 ...",
        {},
        ["php -r 'echo PHP_MAJOR_VERSION, PHP_EOL;'"],
        ["8"],
    ),
}


@pytest.mark.parametrize("language", list(LANGUAGES))
def test_standard_image_selects_each_runtime_then_builds_with_it(
    tmp_path: Path, home: Path, language: str
) -> None:
    requested, installing, files, commands, expected = LANGUAGES[language]
    spec = f"""
        version: 0.2
        phases:
          install:
            runtime-versions:
              {language}: {requested}
          build:
            commands: {commands!r}
        """
    result, lines = run(tmp_path, home, textwrap.dedent(spec), files)
    assert result.status == "SUCCEEDED", lines
    log = said(lines)
    selecting = log.index(
        f"Selecting '{language}' runtime version '{requested}' based on manual selections..."
    )
    entering = log.index("Entering phase INSTALL")
    assert log.index("Processing environment variables") < selecting < entering
    assert log.index("Phase complete: DOWNLOAD_SOURCE State: SUCCEEDED") < entering
    assert printed(lines) == [installing, *expected]  # the image's echo comes before any phase


def test_aws_cli_docker_cli_and_codebuild_user_are_in_the_standard_image(tmp_path: Path, home: Path) -> None:
    spec = """
        version: 0.2
        phases:
          build:
            commands:
              - aws --version | cut -d' ' -f1 | cut -d. -f1
              - docker --version | cut -d' ' -f1-2
              - id -un codebuild-user
              - for t in git make gcc wget curl jq zip unzip; do command -v $t >/dev/null || echo "$t?"; done
        """
    result, lines = run(tmp_path, home, textwrap.dedent(spec))
    assert result.status == "SUCCEEDED", lines
    assert printed(lines) == ["aws-cli/2", "Docker version", "codebuild-user"]


def test_exports_carry_into_every_phase_and_install_starts_in_the_source(tmp_path: Path, home: Path) -> None:
    spec = """
        version: 0.2
        phases:
          install:
            runtime-versions:
              java: corretto17
              golang: latest
          pre_build:
            commands: ['pwd', 'echo "$JAVA_HOME $JDK_HOME"']
          post_build:
            commands: ['echo "$PATH" | cut -d: -f1']
        """
    result, lines = run(tmp_path, home, textwrap.dedent(spec))
    assert result.status == "SUCCEEDED", lines
    log = said(lines)
    # All Selecting lines first (buildspec order), then each runtime's commands.
    java_echo = "Installing Java version 17 (Debian's OpenJDK 17 stands in for Corretto 17) ..."
    assert log.index("Selecting 'golang' runtime version 'latest' based on manual selections...") < log.index(
        f'Running command echo "{java_echo}"'
    )
    assert log.index(
        "Selecting 'java' runtime version 'corretto17' based on manual selections..."
    ) < log.index("Selecting 'golang' runtime version 'latest' based on manual selections...")
    source = next(line.split("=", 1)[1] for line in log if line.startswith("CODEBUILD_SRC_DIR="))
    assert printed(lines)[-3:] == [
        source,
        "/usr/lib/jvm/openjdk-17 /usr/lib/jvm/openjdk-17",
        "/usr/lib/go-1.23/bin",
    ]


def test_unknown_version_fails_download_source_with_yaml_file_error(tmp_path: Path, home: Path) -> None:
    spec = """
        version: 0.2
        phases:
          install:
            runtime-versions:
              python: 3.12
          build:
            commands: ['echo never']
        """
    result, lines = run(tmp_path, home, textwrap.dedent(spec))
    assert result.status == "FAILED"
    assert phase_statuses(result)["DOWNLOAD_SOURCE"] == "FAILED"
    assert "INSTALL" not in phase_statuses(result) and "BUILD" not in phase_statuses(result)
    log = said(lines)
    at = log.index("Phase complete: DOWNLOAD_SOURCE State: FAILED")
    # As the agent does: the Selecting line, then the check.
    assert log[at - 1] == "Selecting 'python' runtime version '3.12' based on manual selections..."
    assert log[at + 1 : at + 3] == [
        "Phase context status code: YAML_FILE_ERROR Message: Unknown runtime version named '3.12' of python. "
        "This build image has the following versions: 3.11",
        "runner/standard:bookworm has python 3.11; -i IMAGE (pipeline.yml: build_image) selects another "
        "build image, e.g. a CodeBuild standard image where it can be pulled",
    ]
    assert "Entering phase INSTALL" not in log and "never" not in printed(lines)
    context = next(p for p in result.phases if p.name == "DOWNLOAD_SOURCE").context
    assert context[0]["status_code"] == "YAML_FILE_ERROR"


def test_unknown_runtime_lists_the_images_runtimes(tmp_path: Path, home: Path) -> None:
    spec = "version: 0.2\nphases:\n  install:\n    runtime-versions:\n      dotnet: 8.0\n"
    result, lines = run(tmp_path, home, spec)
    assert result.status == "FAILED"
    assert (
        "Phase context status code: YAML_FILE_ERROR Message: Unknown runtime named 'dotnet'. "
        "This build image has the following runtimes: golang, java, nodejs, php, python, ruby"
    ) in said(lines)


def test_an_image_without_runtimes_yml_warns_even_when_install_only_selects(
    tmp_path: Path, home: Path
) -> None:
    spec = "version: 0.2\nphases:\n  install:\n    runtime-versions:\n      python: 3.11\n"
    result, lines = run(tmp_path, home, spec, image=base_images.BUILD)
    assert result.status == "SUCCEEDED", lines
    log = said(lines)
    assert log[log.index("Processing environment variables") - 1 :][:3] == [
        "No commands found for phase name: install",
        "Processing environment variables",
        RUNTIME_WARNING,
    ]
    assert log.index(RUNTIME_WARNING) < log.index("Phase complete: DOWNLOAD_SOURCE State: SUCCEEDED")


CUSTOM_RUNTIMES = """\
version: 0.1
runtimes:
  tool:
    versions:
      2.10:
        commands:
          - echo "Installing tool version 2.10 ..."
          - mkdir -p /opt/tool && echo 2.10 > /opt/tool/selected
          - export TOOL_VERSION=2.10
          - cd /opt
      2.9:
        commands:
          - echo "Installing tool version 2.9 ..."
      3.0:
        commands:
          - echo "Installing tool version 3.0 ..."
          - exit 3
"""


@pytest.fixture(scope="module")
def custom_image(tmp_path_factory: pytest.TempPathFactory) -> str:
    """An image of someone else's (as a CodeBuild image pulled by a user) with its own runtimes.yml."""
    context = tmp_path_factory.mktemp("custom-image")
    (context / "runtimes.yml").write_text(CUSTOM_RUNTIMES)
    (context / "Dockerfile").write_text(
        f"FROM {base_images.BUILD}\nCOPY runtimes.yml /codebuild/image/config/runtimes.yml\n"
    )
    return images.build_image(context, None, docker_client.labels("image"))


def test_a_custom_images_runtimes_run_with_files_exports_and_state(
    tmp_path: Path, home: Path, custom_image: str
) -> None:
    spec = """
        version: 0.2
        env:
          variables: {WANTED: "2.x"}
        phases:
          install:
            runtime-versions:
              tool: $WANTED
          build:
            commands: ['pwd | grep -c /src$', 'echo "$TOOL_VERSION $(cat /opt/tool/selected)"']
        """
    result, lines = run(tmp_path, home, textwrap.dedent(spec), image=custom_image)
    assert result.status == "SUCCEEDED", lines
    assert "Selecting 'tool' runtime version '2.x' based on manual selections..." in said(lines)
    assert printed(lines) == ["Installing tool version 2.10 ...", "1", "2.10 2.10"]


def test_a_failing_runtime_command_fails_download_source(
    tmp_path: Path, home: Path, custom_image: str
) -> None:
    spec = "version: 0.2\nphases:\n  install:\n    runtime-versions:\n      tool: latest\n"
    result, lines = run(tmp_path, home, spec, image=custom_image)
    assert result.status == "FAILED"
    assert phase_statuses(result)["DOWNLOAD_SOURCE"] == "FAILED"
    assert (
        "Phase context status code: COMMAND_EXECUTION_ERROR Message: Error while executing command: exit 3. "
        "Reason: exit status 3"
    ) in said(lines)
    assert "Entering phase INSTALL" not in said(lines)
