"""`runner build -s DIR -s ID:DIR …`: secondary sources as codebuild_build.sh takes them,
through the real CLI and real Docker (copied and -m mounted), their variables, the
build's record, `runner debug`, and the refusals (exit 2, nothing recorded)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.store import open_store
from runner.store.builds import get_build
from tests.integration.helpers import write_project

pytestmark = pytest.mark.docker

SHOW_SOURCES = """
version: 0.2
phases:
  build:
    commands:
      - echo "dirs lib=$CODEBUILD_SRC_DIR_lib data=$CODEBUILD_SRC_DIR_data"
      - cat "$CODEBUILD_SRC_DIR_lib/lib.txt" "$CODEBUILD_SRC_DIR_data/data.txt"
      - echo "data has:" $(ls -A "$CODEBUILD_SRC_DIR_data")
      - echo "link to $(readlink "$CODEBUILD_SRC_DIR_data/link")"
      - echo "lib $CODEBUILD_SOURCE_VERSION_lib $CODEBUILD_RESOLVED_SOURCE_VERSION_lib"
      - echo "lib url $CODEBUILD_SOURCE_REPO_URL_lib"
      - echo "data ${CODEBUILD_SOURCE_VERSION_data-unset} ${CODEBUILD_RESOLVED_SOURCE_VERSION_data-unset}"
      - echo "data url $CODEBUILD_SOURCE_REPO_URL_data"
      - echo "primary at $PWD"
      - echo changed-in-the-copy > "$CODEBUILD_SRC_DIR_lib/lib.txt"
"""


def runner(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=120,
        env=dict(os.environ),  # RUNNER_HOME (runner_home fixture) and RUNNER_LABELS
    )


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.test", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def git_library(root: Path) -> tuple[Path, str]:
    write_project(root, "version: 0.2\n", {"lib.txt": "library file"})
    git(root, "init", "-q", "-b", "main")
    git(root, "add", ".")
    git(root, "commit", "-q", "-m", "lib")
    return root, git(root, "rev-parse", "HEAD")


def test_two_secondary_sources_are_copied_beside_the_primary(tmp_path: Path, runner_home: Path) -> None:
    app = write_project(tmp_path / "app", SHOW_SOURCES)
    lib, commit = git_library(tmp_path / "lib")
    data = tmp_path / "data"
    write_project(data, "version: 0.2\n", {"data.txt": "data file", ".runner/state.db": "not copied"})
    (data / "buildspec.yml").unlink()
    (tmp_path / "secret.txt").write_text("outside the source")
    os.symlink(tmp_path / "secret.txt", data / "link")

    done = runner("build", "-s", str(app), "-s", f"lib:{lib}", "-s", f"data:{data}", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    output = runner_home / "work" / result["id"].rpartition(":")[2] / "output"
    src = "/codebuild/output/" + next(p.name for p in output.iterdir() if p.name.startswith("src"))
    lines = done.stderr.splitlines()
    assert any(line.endswith(f"CODEBUILD_SRC_DIR_lib={src}/secSrc/lib") for line in lines)
    assert any(line.endswith(f"CODEBUILD_SRC_DIR_data={src}/secSrc/data") for line in lines)
    assert f"dirs lib={src}/secSrc/lib data={src}/secSrc/data" in lines
    assert "library filedata file" in lines
    assert "data has: data.txt link" in lines  # .runner is never copied
    assert f"link to {tmp_path / 'secret.txt'}" in lines  # copied as a link, not followed
    assert f"lib main {commit}" in lines and f"lib url {lib.as_uri()}" in lines
    assert "data unset unset" in lines and f"data url {data.as_uri()}" in lines
    assert f"primary at {src}/src" in lines
    assert (lib / "lib.txt").read_text() == "library file"  # the build changed its copy only

    expected = {
        "lib": {
            "path": str(lib),
            "src_dir": f"{src}/secSrc/lib",
            "source_version": "main",
            "resolved_source_version": commit,
            "repo_url": lib.as_uri(),
        },
        "data": {
            "path": str(data),
            "src_dir": f"{src}/secSrc/data",
            "source_version": None,
            "resolved_source_version": None,
            "repo_url": data.as_uri(),
        },
    }
    assert result["secondary_sources"] == expected
    stored = get_build(open_store(runner_home), result["id"])
    assert stored is not None and stored.result is not None
    assert stored.result["secondary_sources"] == expected

    session = runner(
        "debug",
        result["id"],
        "--phase",
        "build",
        stdin='cat "$CODEBUILD_SRC_DIR_lib/lib.txt"\necho "$CODEBUILD_RESOLVED_SOURCE_VERSION_lib"\nexit 0\n',
    )
    assert session.returncode == 0, session.stderr
    assert session.stdout.splitlines() == ["changed-in-the-copy", commit]


def test_m_mounts_the_secondary_sources(tmp_path: Path, runner_home: Path) -> None:
    app = write_project(
        tmp_path / "app",
        """
        version: 0.2
        phases:
          build:
            commands:
              - cat "$CODEBUILD_SRC_DIR_lib/lib.txt"
              - echo written-by-the-build > "$CODEBUILD_SRC_DIR_lib/made.txt"
              - echo through-again > "$CODEBUILD_SRC_DIR_again/again.txt"
              - cat "$CODEBUILD_SRC_DIR/again.txt"
        """,
    )
    lib, _ = git_library(tmp_path / "lib")
    # `again` is the primary's own directory: one host directory at two mount targets.
    done = runner("build", "-m", "-s", str(app), "-s", f"lib:{lib}", "-s", f"again:{app}")
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert "library file" in lines and "through-again" in lines
    assert (lib / "made.txt").read_text() == "written-by-the-build\n"
    assert (app / "again.txt").read_text() == "through-again\n"


def test_bad_secondary_sources_are_refused_before_anything_is_recorded(
    tmp_path: Path, runner_home: Path
) -> None:
    app = write_project(tmp_path / "app", SHOW_SOURCES)
    lib = write_project(tmp_path / "lib", "version: 0.2\n")
    rule = "use 1 to 127 letters, digits or underscores"
    long = "x" * 128
    refusals = {
        f"a-b:{lib}": f"-s a-b:{lib}: bad source identifier 'a-b': {rule}",
        f"{long}:{lib}": f"-s {long}:{lib}: bad source identifier '{long}': {rule}",
        f"lib:{tmp_path}/missing": f"-s lib:{tmp_path}/missing: '{tmp_path}/missing' is not a directory",
        str(lib): f"-s {lib}: a secondary source is IDENTIFIER:DIR (only the first -s is the primary DIR)",
    }
    for flag, message in refusals.items():
        refused = runner("build", "-s", str(app), "-s", flag, "--json")
        assert (refused.returncode, refused.stdout, refused.stderr) == (2, "", f"runner: error: {message}\n")
    twice = runner("build", "-s", str(app), "-s", f"lib:{lib}", "-s", f"lib:{app}")
    assert (twice.returncode, twice.stderr) == (
        2,
        f"runner: error: -s lib:{app}: source identifier 'lib' is given twice\n",
    )
    first = runner("build", "-s", f"app:{app}")
    assert first.returncode == 2
    assert first.stderr.startswith(f"runner: error: -s app:{app}: not a directory (")
    assert not runner_home.exists()  # no store was even created
    assert json.loads(runner("history", "--json").stdout) == []
