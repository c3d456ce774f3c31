"""sample-services as a self-contained project: pipeline.yml, buildspecs, appspecs, Dockerfiles, tools."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from runner.codebuild import buildspec_loader
from runner.core import config_loader
from runner.images import inputs

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "sample-services"
SERVICES = ("catalog", "offers", "web")
TOOLS = SAMPLE / "tools"


def run_tool(tool: str, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [sys.executable, str(TOOLS / tool), *args], cwd=cwd, env=env, capture_output=True, text=True
    )


# ---------------------------------------------------------------- pipeline.yml and its references


def test_pipeline_yml_declares_the_shop() -> None:
    cfg = config_loader.load(SAMPLE / "pipeline.yml")
    assert cfg.app == "shop"
    assert [(s.name, s.route, s.port, s.health) for s in cfg.services] == [
        ("catalog", "/catalog", 8000, "/health"),
        ("offers", "/offers", 8000, "/health"),
        ("web", "/", 8000, "/health"),
        ("stock", "/stock", 8000, "/"),  # an ECS service: the target group's default health path
    ]
    stock = cfg.service("stock").ecs
    assert stock is not None and (stock.taskdef, stock.appspec) == ("taskdef.json", "appspec.yaml")
    assert cfg.service("offers").env["CATALOG_URL"] == "http://router/catalog"
    assert cfg.service("web").env == {
        "CATALOG_URL": "http://router/catalog",
        "OFFERS_URL": "http://router/offers",
    }
    staging, prod = cfg.environments
    assert (staging.name, staging.port, staging.test_port, staging.approval) == (
        "staging",
        8081,
        9081,
        "auto",
    )
    assert (prod.name, prod.port, prod.test_port, prod.approval) == ("prod", 8080, 9080, "auto")
    assert prod.strategy == "CodeDeployDefault.ECSCanary10Percent5Minutes" and cfg.time_scale == 60
    assert [a.metric for a in prod.alarms] == ["error_rate"]
    assert cfg.test is not None and cfg.test.buildspec == "buildspecs/smoke-staging.yml"


def test_every_service_ships_the_one_kit_through_its_build_artifact() -> None:
    cfg = config_loader.load(SAMPLE / "pipeline.yml")
    for svc in cfg.services:
        assert svc.image.from_artifacts, svc.name  # the bundle, with lib/kit.py in it
        assert "lib" in svc.inputs, svc.name  # a kit change rebuilds the service
        assert not (SAMPLE / svc.path / "kit.py").exists(), svc.name
        assert not (SAMPLE / svc.path / "tests" / "test_kit.py").exists(), svc.name
    assert (SAMPLE / "lib" / "kit.py").is_file() and (SAMPLE / "lib" / "tests" / "test_kit.py").is_file()


def test_everything_the_pipeline_needs_lives_inside_sample_services() -> None:
    cfg = config_loader.load(SAMPLE / "pipeline.yml")
    assert cfg.test is not None
    referenced = [cfg.test.buildspec]
    for svc in cfg.services:
        referenced += [svc.path, svc.buildspec, *svc.inputs, f"{svc.path}/{svc.image.dockerfile}"]
        referenced += [f"{svc.path}/settings.json"]
        if svc.ecs:
            referenced += [f"{svc.path}/{svc.ecs.taskdef}", f"{svc.path}/{svc.ecs.appspec}"]
            referenced += [f"{svc.path}/hooks/{svc.name}-smoke"]
        else:
            referenced += [f"{svc.path}/appspec.yml", f"{svc.path}/hooks/smoke"]
    for rel in referenced:
        path = (SAMPLE / rel).resolve()
        assert path.is_relative_to(SAMPLE) and path.exists(), rel


@pytest.mark.parametrize(
    "path", [*sorted((SAMPLE / "buildspecs").glob("*.yml")), *sorted((ROOT / "buildspecs").glob("*.yml"))]
)
def test_buildspecs_are_valid(path: Path) -> None:
    spec = buildspec_loader.load(path)
    assert spec.warnings == ()
    assert spec.reports or spec.artifacts


def test_service_buildspec_shape() -> None:
    spec = buildspec_loader.load(SAMPLE / "buildspecs" / "python-service.yml")
    assert [p.name for p in spec.phases] == ["install", "pre_build", "build", "post_build"]
    assert spec.phases[0].commands[0].startswith('cd "${SERVICE_PATH')
    assert [r.file_format for r in spec.reports] == ["JUNITXML"]
    # The build phase writes the bundle where the primary artifact takes it from.
    assert spec.artifacts is not None and spec.artifacts.primary.base_directory == "bundle"
    (bundling,) = [c for c in spec.phases[2].commands if "tools/bundle.py" in c]
    assert bundling.endswith(' . "$CODEBUILD_SRC_DIR/bundle"')


# ---------------------------------------------------------------- per-service files


@pytest.mark.parametrize("name", SERVICES)
def test_appspec_is_an_ecs_appspec_with_a_smoke_hook(name: str) -> None:
    spec = yaml.safe_load((SAMPLE / name / "appspec.yml").read_text())
    assert spec["version"] == 0.0
    target = spec["Resources"][0]["TargetService"]
    assert target["Type"] == "AWS::ECS::Service"
    assert target["Properties"]["TaskDefinition"] == "<TASK_DEFINITION>"
    assert target["Properties"]["LoadBalancerInfo"] == {"ContainerName": name, "ContainerPort": 8000}
    assert {"AfterAllowTestTraffic": "smoke"} in spec["Hooks"]
    for hook in spec["Hooks"]:
        (hook_name,) = hook.values()
        assert os.access(SAMPLE / name / "hooks" / hook_name, os.X_OK)


@pytest.mark.parametrize("name", SERVICES)
def test_dockerfile_uses_the_offline_python_image_without_pip(name: str) -> None:
    lines = [
        line for line in (SAMPLE / name / "Dockerfile").read_text().splitlines() if line and line[0] != "#"
    ]
    assert lines[:2] == ["ARG BASE_IMAGE=runner/python:bookworm", "FROM ${BASE_IMAGE}"]
    assert lines[-1] == 'CMD ["python3", "app.py"]'
    assert not any("pip" in line for line in lines)


@pytest.mark.parametrize("name", SERVICES)
def test_service_unit_tests_pass_and_write_junit(name: str, tmp_path: Path) -> None:
    """As the buildspec runs them: the service's tests and the kit's, with lib/ importable."""
    report = tmp_path / f"{name}-junit.xml"
    flags = ("--path", "../lib", "--start", "tests", "--start", "../lib/tests")
    done = run_tool("run_tests.py", *flags, "--junit", str(report), "--suite", name, cwd=SAMPLE / name)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    suite = ET.parse(report).getroot().find("testsuite")
    assert suite is not None
    assert (suite.get("name"), suite.get("failures"), suite.get("errors")) == (name, "0", "0")
    assert int(suite.get("tests") or 0) >= 15
    modules = {(case.get("classname") or "").partition(".")[0] for case in suite}
    assert modules == {"test_app", "test_kit"}


@pytest.mark.parametrize("name", SERVICES)
def test_lint_passes_on_the_services_and_lib(name: str) -> None:
    done = run_tool("lint.py", ".", "../lib", cwd=SAMPLE / name)
    assert done.returncode == 0, done.stdout
    assert done.stdout.endswith(" in . and ../lib, 0 problem(s)\n")


def test_the_ecs_service_bundle_carries_its_task_definition_and_appspec(tmp_path: Path) -> None:
    """The deploy reads taskdef.json and appspec.yaml from the build's artifact: the bundle."""
    out = tmp_path / "bundle"
    done = run_tool("bundle.py", "stock", str(out), cwd=SAMPLE)
    assert done.returncode == 0, done.stderr
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == [
        "Dockerfile",
        "app.py",
        "appspec.yaml",
        "hooks/stock-smoke",
        "kit.py",
        "settings.json",
        "taskdef.json",
    ]
    assert run_tool("lint.py", ".", "../lib", cwd=SAMPLE / "stock").returncode == 0


@pytest.mark.parametrize("name", SERVICES)
def test_bundle_is_the_service_without_its_tests_plus_lib(name: str, tmp_path: Path) -> None:
    out = tmp_path / "bundle"
    done = run_tool("bundle.py", name, str(out), cwd=SAMPLE)
    assert done.returncode == 0, done.stderr
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["Dockerfile", "app.py", "appspec.yml", "hooks/smoke", "kit.py", "settings.json"]
    assert (out / "kit.py").read_bytes() == (SAMPLE / "lib" / "kit.py").read_bytes()
    assert os.access(out / "hooks" / "smoke", os.X_OK)


# ---------------------------------------------------------------- the tools


def test_lint_reports_each_problem_with_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("import os\nprint(os.sep)\n")
    (tmp_path / "unused.py").write_text("import json\nfrom typing import Any\nx: 'Any' = 1\n")
    (tmp_path / "broken.py").write_text("def f(:\n")
    (tmp_path / "settings.json").write_text('{"error_rate": 1.5, "healthy": "yes", "colour": 1}')
    (tmp_path / "hooks").mkdir()
    (tmp_path / "hooks" / "smoke").write_text("#!/usr/bin/env python3\n")
    done = run_tool("lint.py", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout.splitlines() == [
        f"{tmp_path}/broken.py:1: syntax error: invalid syntax",
        f"{tmp_path}/unused.py:1: 'json' imported but unused",
        f"{tmp_path}/settings.json:1: unknown key 'colour'",
        f"{tmp_path}/settings.json:1: healthy: expected bool, got 'yes'",
        f"{tmp_path}/settings.json:1: error_rate: expected a share between 0 and 1, got 1.5",
        f"{tmp_path}/hooks/smoke:1: hook is not executable (chmod +x)",
        f"lint: 4 Python file(s) in {tmp_path}, 6 problem(s)",
    ]


def test_run_tests_reports_every_outcome_in_junit(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_mixed.py").write_text(
        textwrap.dedent(
            """
            import unittest

            class Mixed(unittest.TestCase):
                def test_pass(self):
                    pass

                def test_fail(self):
                    self.assertEqual(1, 2)

                def test_error(self):
                    raise RuntimeError("boom")

                @unittest.skip("not today")
                def test_skip(self):
                    pass

                def test_subtests(self):
                    for n in (1, 2):
                        with self.subTest(n=n):
                            self.assertEqual(n, 1)
            """
        )
    )
    done = run_tool("run_tests.py", "--junit", "out/r.xml", "--suite", "mixed", cwd=tmp_path)
    assert done.returncode == 1
    suite = ET.parse(tmp_path / "out" / "r.xml").getroot()[0]
    assert {k: suite.get(k) for k in ("name", "tests", "failures", "errors", "skipped")} == {
        "name": "mixed",
        "tests": "5",
        "failures": "2",
        "errors": "1",
        "skipped": "1",
    }
    outcomes = {case.get("name"): [child.tag for child in case] for case in suite}
    assert outcomes == {
        "test_error": ["error"],
        "test_fail": ["failure"],
        "test_pass": [],
        "test_skip": ["skipped"],
        "test_subtests (n=2)": ["failure"],
    }
    failure = suite.find("testcase[@name='test_fail']/failure")
    assert failure is not None and failure.get("message") == "AssertionError: 1 != 2"


def test_bundle_leaves_out_what_it_is_told_and_refuses_clashes_and_used_directories(tmp_path: Path) -> None:
    service, lib = tmp_path / "svc", tmp_path / "lib"
    (service / "checks").mkdir(parents=True)
    lib.mkdir()
    for path in (service / "app.py", service / "checks" / "test_x.py", lib / "kit.py", lib / "util.py"):
        path.write_text("")
    out = tmp_path / "out"
    args = ("--lib", str(lib), "--exclude", "checks", str(service))
    done = run_tool("bundle.py", *args, str(out), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["app.py", "kit.py", "util.py"]
    again = run_tool("bundle.py", *args, str(out), cwd=tmp_path)
    assert (again.returncode, again.stderr) == (2, f"bundle: {out} exists and is not an empty directory\n")
    (service / "kit.py").write_text("")  # a stale copy would silently replace the shared one
    clash = run_tool("bundle.py", *args, str(tmp_path / "out2"), cwd=tmp_path)
    assert clash.returncode == 1
    assert clash.stderr == f"bundle: {service}/kit.py: a service file named like {lib}/kit.py (rename it)\n"
    assert not (tmp_path / "out2").exists()


def test_run_tests_fails_when_no_test_is_found(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    done = run_tool("run_tests.py", "--junit", "r.xml", cwd=tmp_path)
    assert (done.returncode, done.stderr) == (1, "run_tests: no tests found\n")


# ---------------------------------------------------------------- monorepo change detection


def git(repo: Path, *args: str) -> str:
    command = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args]
    return subprocess.run(command, check=True, capture_output=True, text=True).stdout.strip()


def test_a_kit_change_rebuilds_every_service_and_a_service_change_only_that_one(tmp_path: Path) -> None:
    repo = tmp_path / "shop"
    shutil.copytree(SAMPLE, repo, ignore=shutil.ignore_patterns(".runner", "__pycache__"))
    git(repo, "init", "-q", "-b", "main")

    def commit(message: str) -> dict[str, str]:
        git(repo, "add", "-A")
        git(repo, "commit", "-qm", message)
        cfg, tree = (
            config_loader.load(repo / "pipeline.yml"),
            inputs.commit_tree(repo, git(repo, "rev-parse", "HEAD")),
        )
        return {svc.name: inputs.collect(cfg, svc, tree, lambda _ref: None).digest for svc in cfg.services}

    first = commit("v1")
    with (repo / "lib" / "kit.py").open("a") as kit:
        kit.write("# a kit change\n")
    second = commit("kit")
    assert {name for name in SERVICES if second[name] != first[name]} == set(SERVICES)
    (repo / "catalog" / "settings.json").write_text('{"version": "1.1.0"}\n')
    third = commit("catalog 1.1.0")
    assert {name for name in SERVICES if third[name] != second[name]} == {"catalog"}
