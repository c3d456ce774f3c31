"""Variables in artifact and report paths (codebuild/build_paths.py, CODEBUILD.md decision 23), pure."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.codebuild import buildspec_loader
from runner.codebuild.artifacts import ArtifactError
from runner.codebuild.build_paths import (
    BuildPaths,
    Values,
    expand,
    expand_artifact,
    expand_report,
    referenced,
)
from runner.codebuild.buildspec import ArtifactSpec, ReportSpec
from runner.codebuild.globs import PathEscape
from runner.codebuild.workspace import Workspace


def test_both_forms_expand_and_unset_is_empty_as_in_the_shell() -> None:
    values = {"OUT": "build", "V": "1.2"}
    assert expand("$OUT/app-${V}.jar", values) == "build/app-1.2.jar"
    assert expand("dist/$MISSING*.js", values) == "dist/*.js"
    assert expand("$(date)/x", values) == "$(date)/x"  # no command substitution in paths


def test_referenced_lists_every_path_setting_once() -> None:
    spec = buildspec_loader.loads(
        "version: 0.2\nphases: {build: {commands: [x]}}\n"
        "artifacts:\n  files: [$OUT/*.jar]\n  exclude-paths: ['${OUT}/tmp/**/*']\n  name: app-$V\n"
        "  secondary-artifacts:\n    two:\n      files: ['*']\n      base-directory: $CODEBUILD_SRC_DIR_two\n"
        "reports:\n  unit:\n    files: ['$REPORT_GLOB']\n    base-directory: ${REPORT_DIR}\n"
    )
    # `name` is not a path: it is evaluated by the shell, $(…) included.
    assert referenced(spec) == ["OUT", "CODEBUILD_SRC_DIR_two", "REPORT_GLOB", "REPORT_DIR"]


def test_a_pattern_made_absolute_by_a_variable_is_refused_naming_it() -> None:
    spec = ArtifactSpec(files=("$OUT/app.jar",))
    with pytest.raises(ArtifactError) as info:
        expand_artifact(spec, {"OUT": "/tmp/out"})
    assert str(info.value) == (
        "files: '$OUT/app.jar' expands to '/tmp/out/app.jar', an absolute path ($OUT is '/tmp/out'); "
        "set base-directory: $OUT instead"
    )
    with pytest.raises(ArtifactError) as info:
        expand_artifact(spec, {})
    assert str(info.value) == (
        "files: '$OUT/app.jar' expands to '/app.jar', an absolute path ($OUT is unset); "
        "set base-directory: $OUT instead"
    )
    with pytest.raises(PathEscape, match=r"\(\$D is unset\); patterns are relative to base-directory$"):
        expand_report(ReportSpec("r", files=("${D}/x.xml",), base_directory="reports"), {})


def test_an_absolute_base_directory_may_come_from_a_variable() -> None:
    spec = ArtifactSpec(files=("**/*",), base_directory="$CODEBUILD_SRC_DIR/dist")
    expanded = expand_artifact(spec, {"CODEBUILD_SRC_DIR": "/codebuild/output/src1/src"})
    assert expanded.base_directory == "/codebuild/output/src1/src/dist"


def test_locate_maps_mounted_container_paths_to_the_host_and_the_rest_to_copies(tmp_path: Path) -> None:
    space = Workspace(tmp_path / "w", "123", None)
    paths = BuildPaths(space, Values())
    assert paths.locate("/codebuild/output/src123/src/dist") == (space.output, "src123/src/dist")
    assert paths.locate("/tmp/testArtifacts") == (space.tmp / "container-root", "tmp/testArtifacts")
    mounted = Workspace(tmp_path / "w", "123", tmp_path / "mine")
    assert BuildPaths(mounted, Values()).locate("/codebuild/output/src123/src") == (tmp_path / "mine", ".")
