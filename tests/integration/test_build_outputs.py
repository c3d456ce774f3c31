"""Artifacts, reports and the cache through real builds (CODEBUILD.md section 5).

The artifact cases are the AWS documentation's own examples
(https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html).
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.codebuild.build import BuildResult
from runner.codebuild.cache import evaluate_key
from tests.integration.helpers import build, phase_statuses, write_project

pytestmark = pytest.mark.docker

AWS_TREE = {
    "my-build-1/my-file-1.txt": "1\n",
    "my-build-2/my-file-2.txt": "2\n",
    "my-build-2/my-subdirectory/my-file-3.txt": "3\n",
}


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield tmp_path_factory.mktemp("runner-home")


def run(root: Path, home: Path, spec: str, **options: object) -> tuple[BuildResult, list[str]]:
    write_project(root, spec)
    lines: list[str] = []
    return build(root, home, lines, **options), lines


def said(lines: list[str]) -> list[str]:
    return [line.split(" ", 3)[3] for line in lines if line.startswith("[Container] ")]


def zip_names(path: Path) -> list[str]:
    with zipfile.ZipFile(path) as archive:
        return sorted(archive.namelist())


def tree(path: Path) -> list[str]:
    return sorted(p.relative_to(path).as_posix() for p in path.rglob("*") if not p.is_dir())


def test_aws_artifact_examples_and_the_local_agent_layout(tmp_path: Path, home: Path) -> None:
    root = tmp_path / "src"
    write_project(root, "", AWS_TREE)
    os.symlink("my-file-2.txt", root / "my-build-2" / "link-to-2")
    out = tmp_path / "out"
    result, lines = run(
        root,
        home,
        """
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p my-build-2/.cache my-build-2/node_modules/m && touch my-build-2/.env
              - touch my-build-2/.cache/c my-build-2/node_modules/m/i.js
        artifacts:
          files: ['*/my-file-3.txt']
          base-directory: my-build-2
          secondary-artifacts:
            flat:
              files: ['**/*']
              base-directory: 'my-build*'
              discard-paths: yes
              exclude-paths: ['**/.*', '**/.*/**/*', '**/node_modules/**/*', '**/link-*']
            clean:
              files: ['**/*']
              base-directory: my-build-2
              exclude-paths: ['**/.*/**/*', '**/node_modules/**/*']
              enable-symlinks: yes
        """,
        artifacts_dir=out,
    )
    assert result.status == "SUCCEEDED", lines
    assert result.as_json()["artifacts"] == {
        "primary": ["my-subdirectory/my-file-3.txt"],
        "secondary": {
            "flat": ["my-file-1.txt", "my-file-2.txt", "my-file-3.txt"],
            "clean": [".env", "link-to-2", "my-file-2.txt", "my-subdirectory/my-file-3.txt"],
        },
    }
    assert sorted(p.name for p in out.iterdir()) == [
        "artifacts",
        "artifacts.zip",
        "clean",
        "clean.zip",
        "flat",
        "flat.zip",
    ]
    assert zip_names(out / "artifacts.zip") == tree(out / "artifacts") == ["my-subdirectory/my-file-3.txt"]
    assert (
        zip_names(out / "flat.zip")
        == tree(out / "flat")
        == ["my-file-1.txt", "my-file-2.txt", "my-file-3.txt"]
    )
    assert (out / "flat" / "my-file-3.txt").read_text() == "3\n"
    assert os.readlink(out / "clean" / "link-to-2") == "my-file-2.txt"  # enable-symlinks keeps the link
    assert "Expanding 1 file(s) into " + str(out) in said(lines)


def test_reports_are_parsed_copied_and_incomplete_without_files(tmp_path: Path, home: Path) -> None:
    reports_dir = tmp_path / "reports"
    result, lines = run(
        tmp_path / "src",
        home,
        """
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p build/test-results/com/app
              - |
                cat > build/test-results/com/app/TEST-app.xml <<'XML'
                <testsuites><testsuite name="app">
                  <testcase classname="app.Calc" name="adds"/>
                  <testcase classname="app.Calc" name="divides">
                    <failure message="division by zero">trace</failure>
                  </testcase>
                  <testcase classname="app.Calc" name="later"><skipped/></testcase>
                </testsuite></testsuites>
                XML
        reports:
          unit:
            files: ['**/*.xml']
            base-directory: build/test-results
            discard-paths: yes
          integration:
            files: ['integration-results/*.xml']
        """,
        reports_dir=reports_dir,
        project="calc",
    )
    assert result.status == "SUCCEEDED", lines  # failing test cases alone do not fail a build
    unit, integration = result.as_json()["reports"]
    assert (unit["name"], unit["status"], unit["total"], unit["passed"], unit["failed"], unit["skipped"]) == (
        "calc-unit",
        "FAILED",
        3,
        1,
        1,
        1,
    )
    assert [(c["name"], c["message"]) for c in unit["failures"]] == [("app.Calc.divides", "division by zero")]
    assert (integration["status"], integration["problem"]) == ("INCOMPLETE", "no report files found")
    assert tree(reports_dir) == ["calc-unit/TEST-app.xml"]
    assert "Report calc-unit: FAILED (1 passed, 1 failed, 1 skipped)" in said(lines)
    assert (
        "Report calc-integration: INCOMPLETE (0 passed, 0 failed, 0 skipped): no report files found"
        in said(lines)
    )


def test_nunit3_and_cobertura_reports_written_by_a_build(tmp_path: Path, home: Path) -> None:
    """A test report and a coverage report, as a .NET and a Python tool write them."""
    reports_dir = tmp_path / "reports"
    result, lines = run(
        tmp_path / "src",
        home,
        """
        version: 0.2
        phases:
          build:
            commands:
              - mkdir -p TestResults
              - |
                cat > TestResults/results.xml <<'XML'
                <?xml version="1.0" encoding="utf-8"?>
                <test-run id="0" result="Failed" total="4" passed="2" failed="1" skipped="1">
                  <test-suite type="Assembly" name="Shop.Tests.dll">
                    <test-suite type="TestFixture" name="CartTests" fullname="Shop.CartTests">
                      <test-case name="Adds" fullname="Shop.CartTests.Adds" result="Passed" duration="0.01"/>
                      <test-case name="Removes" fullname="Shop.CartTests.Removes" result="Passed"/>
                      <test-case name="Totals" fullname="Shop.CartTests.Totals" result="Failed">
                        <failure><message><![CDATA[Expected: 7
                  But was:  6]]></message></failure>
                      </test-case>
                      <test-case name="Ships" fullname="Shop.CartTests.Ships" result="Skipped"/>
                    </test-suite>
                  </test-suite>
                </test-run>
                XML
              - |
                cat > coverage.xml <<'XML'
                <?xml version="1.0" ?>
                <coverage version="7.4" lines-valid="40" lines-covered="30" line-rate="0.75"
                          branches-valid="8" branches-covered="2" branch-rate="0.25" complexity="0">
                  <packages/>
                </coverage>
                XML
        reports:
          nunit:
            files: ['TestResults/*.xml']
            file-format: NUnit3Xml
          coverage:
            files: [coverage.xml]
            file-format: COBERTURAXML
        """,
        reports_dir=reports_dir,
        project="shop",
    )
    assert result.status == "SUCCEEDED", lines
    nunit, coverage = result.as_json()["reports"]
    totals = ("status", "total", "passed", "failed", "skipped", "coverage")
    assert [nunit[k] for k in totals] == ["FAILED", 4, 2, 1, 1, None]
    assert nunit["failures"] == [
        {
            "name": "Shop.CartTests.Totals",
            "suite": "CartTests",
            "status": "FAILED",
            "message": "Expected: 7",
            "duration_s": 0.0,
        }
    ]
    assert [coverage[k] for k in ("name", "file_format", "status", "total", "problem")] == [
        "shop-coverage",
        "COBERTURAXML",
        "SUCCEEDED",
        0,
        "",
    ]
    assert coverage["coverage"] == {
        "line_coverage_percentage": 75.0,
        "lines_covered": 30,
        "lines_missed": 10,
        "branch_coverage_percentage": 25.0,
        "branches_covered": 2,
        "branches_missed": 6,
    }
    assert tree(reports_dir) == ["shop-coverage/coverage.xml", "shop-nunit/TestResults/results.xml"]
    assert any(
        line.startswith("Report shop-coverage: SUCCEEDED (line coverage 75.00%") for line in said(lines)
    )


def test_cache_relative_and_absolute_paths_with_keys_fallbacks_and_actions(
    tmp_path: Path, home: Path
) -> None:
    cache_dir = home / "cache"  # where helpers.build keeps it
    spec = """
        version: 0.2
        phases:
          build:
            commands:
              - M2=/root/.m2/repo; echo "deps=$(cat deps/lib.txt || echo none) m2=$(cat $M2/x.jar || echo -)"
              - mkdir -p deps $M2 && cp package-lock.json deps/lib.txt && cp package-lock.json $M2/x.jar
        cache:
          key: npm-$(codebuild-hash-files package-lock.json)
          fallback-keys: [npm-]
          paths: ['deps/**/*', '/root/.m2/**/*']
    """
    key: dict[str, str] = {}

    def step(lock: str, text: str = spec) -> list[str]:
        root = tmp_path / f"src-{lock}"
        write_project(root, text, {"package-lock.json": lock})
        key[lock] = evaluate_key("npm-$(codebuild-hash-files package-lock.json)", root, {})
        lines: list[str] = []
        result = build(root, home, lines, project="cached")
        assert result.status == "SUCCEEDED", lines
        texts = [line.split(" ", 3)[3] if line.startswith("[Container] ") else line for line in lines]
        return [text for text in texts if text.startswith(("Cache", "deps="))]

    assert step("v1") == [
        f"Cache miss: key {key['v1']}",
        "deps=none m2=-",
        f"Cache saved: key {key['v1']}",
    ]
    # A new key: the exact key misses, the fallback prefix finds v1's cache (relative and absolute paths).
    assert step("v2") == [
        f"Cache miss: key {key['v2']}",
        f"Cache hit: key {key['v1']} (fallback key npm-)",
        "deps=v1 m2=v1",
        f"Cache saved: key {key['v2']}",
    ]
    # action: restore: the exact key hits, nothing is saved.
    assert step("v2", spec.replace("cache:", "cache:\n          action: restore")) == [
        f"Cache hit: key {key['v2']}",
        "deps=v2 m2=v2",
    ]
    assert sorted(p.name for p in cache_dir.iterdir()) == sorted(f"{key[k]}.tar" for k in ("v1", "v2"))


def test_build_phase_failure_keeps_reports_and_artifacts(tmp_path: Path, home: Path) -> None:
    """Decision 4 for outputs: after a BUILD failure artifacts are uploaded and reports read."""
    result, _ = run(
        tmp_path / "src",
        home,
        """
        version: 0.2
        phases:
          build:
            commands:
              - echo '<testsuite><testcase name="t"><error message="crash"/></testcase></testsuite>' > r.xml
              - echo out > out.txt
              - "false"
        reports:
          r:
            files: [r.xml]
        artifacts:
          files: [out.txt]
        """,
        artifacts_dir=tmp_path / "out",
    )
    assert phase_statuses(result)["UPLOAD_ARTIFACTS"] == "SUCCEEDED"
    assert result.reports[0].status == "FAILED" and result.reports[0].failures[0].message == "crash"
    assert (tmp_path / "out" / "artifacts" / "out.txt").is_file()
