"""The ECS AppSpec loader: read as is, exact errors with positions."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runner.codedeploy.appspec import load, load_for
from runner.core.config import Service
from runner.errors import ConfigError

ECS = """\
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: "<TASK_DEFINITION>"
        LoadBalancerInfo:
          ContainerName: "web"
          ContainerPort: 8000
        PlatformVersion: "LATEST"
        NetworkConfiguration:
          AwsvpcConfiguration:
            Subnets: ["subnet-a"]
Hooks:
  - BeforeInstall: "prepare"
  - AfterAllowTestTraffic: "smoke"
  - AfterAllowTestTraffic: "contract"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "appspec.yml"
    path.write_text(textwrap.dedent(text))
    return path


def test_loads_the_ecs_appspec(tmp_path: Path) -> None:
    spec = load(write(tmp_path, ECS), "appspec.yml")
    assert spec.hooks == (
        ("BeforeInstall", "prepare"),
        ("AfterAllowTestTraffic", "smoke"),
        ("AfterAllowTestTraffic", "contract"),
    )
    assert spec.hooks_for("AfterAllowTestTraffic") == ("smoke", "contract")
    assert (spec.container_name, spec.container_port) == ("web", 8000)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 2\n", "appspec.yml:1:10: version: expected 0.0, got '2'"),
        (
            "version: 0.0\nHooks: [{AfterInstall: a}]\nhooks: [{AfterInstall: b}]\n",
            "appspec.yml:3:8: hooks: both Hooks and hooks: keep one",
        ),
        ("Hooks: []\n", "appspec.yml:1:1: version: required key is missing"),
        (
            "version: 0.0\nHooks:\n  - Install: x\n",
            "appspec.yml:3:5: Hooks[0].Install: unknown key; expected one of: BeforeInstall, AfterInstall, "
            "AfterAllowTestTraffic, BeforeAllowTraffic, AfterAllowTraffic",
        ),
        (
            "version: 0.0\nHooks:\n  - BeforeInstall: a\n    AfterInstall: b\n",
            "appspec.yml:3:5: Hooks[0]: expected exactly one lifecycle event",
        ),
        (
            "version: 0.0\nResources:\n  - TargetService:\n      Properties: {}\n",
            "appspec.yml:4:19: Resources[0].TargetService.Properties.LoadBalancerInfo: "
            "required key is missing",
        ),
    ],
)
def test_errors_name_file_line_column(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        load(write(tmp_path, text), "appspec.yml")
    assert str(error.value).startswith(message)


def test_found_beside_the_service_or_where_pipeline_yml_says(tmp_path: Path) -> None:
    service = Service("web", "services/web", "b.yml", 8000, "/health", "/web")
    assert load_for(service, tmp_path) is None
    (tmp_path / "services/web").mkdir(parents=True)
    (tmp_path / "services/web/appspec.yaml").write_text("version: 0.0\n")
    found = load_for(service, tmp_path)
    assert found is not None and found.hooks == ()
    custom = Service("web", "services/web", "b.yml", 8000, "/health", "/web", appspec="deploy/spec.yml")
    (tmp_path / "deploy").mkdir()
    (tmp_path / "deploy/spec.yml").write_text("version: 0.0\nHooks:\n  - AfterInstall: x\n")
    spec = load_for(custom, tmp_path)
    assert spec is not None and spec.hooks == (("AfterInstall", "x"),)


# Shapes seen in public ECS blue/green repositories: `version: 1` and `version: 0`, a lowercase
# `hooks:`, an appspec.json with a numeric version, Lambda ARNs as hooks, a quoted ContainerPort.
REAL_JSON = """\
{
\t"version": 0.0,
\t"Resources": [{"TargetService": {"Type": "AWS::ECS::Service", "Properties": {
\t\t"TaskDefinition": "arn:aws:ecs:us-east-1:111122223333:task-definition/web:7",
\t\t"LoadBalancerInfo": {"ContainerName": "web", "ContainerPort": "8080"},
\t\t"CapacityProviderStrategy": [{"Base": 0, "CapacityProvider": "FARGATE_SPOT", "Weight": 1}]}}}],
\t"Hooks": [
\t\t{"BeforeInstall": "arn:aws:lambda:us-east-1:111122223333:function:web-pre-deployment-hook"},
\t\t{"AfterAllowTestTraffic": "arn:aws:lambda:us-east-1:111122223333:function:web-smoke:live"}
\t]
}
"""


def test_real_projects_versions_and_lowercase_hooks_are_read_with_a_warning(tmp_path: Path) -> None:
    for version in ("1", "0"):
        spec = load(write(tmp_path, f"version: {version}\nhooks:\n  - AfterInstall: check\n"), "appspec.yml")
        assert spec.hooks == (("AfterInstall", "check"),)
        assert spec.warnings == (f"appspec.yml:1:10: version: AWS documents 0.0; {version} is read as 0.0",)
    assert load(write(tmp_path, ECS), "appspec.yml").warnings == (
        "appspec.yml:10:26: Resources[0].TargetService.Properties.PlatformVersion: accepted, "
        "no local meaning: Fargate platform versions are AWS's",
        "appspec.yml:12:11: Resources[0].TargetService.Properties.NetworkConfiguration: accepted, "
        "no local meaning: the environment's network is the runner's",
    )


def test_an_appspec_json_with_lambda_arns(tmp_path: Path) -> None:
    path = tmp_path / "appspec.json"
    path.write_text(REAL_JSON)
    spec = load(path, "appspec.json")
    assert (spec.container_name, spec.container_port) == ("web", 8080)
    arn = "arn:aws:lambda:us-east-1:111122223333:function:web-smoke:live"
    assert spec.hooks[1] == ("AfterAllowTestTraffic", arn)
    assert [w.split(": ", 2)[1] for w in spec.warnings] == [
        "Resources[0].TargetService.Properties.TaskDefinition",
        "Resources[0].TargetService.Properties.CapacityProviderStrategy",
    ]
    assert spec.warnings[0].startswith("appspec.json:4:21: ")


def test_an_appspec_json_is_found_beside_the_service(tmp_path: Path) -> None:
    service = Service("web", "web", "b.yml", 8000, "/health", "/web")
    (tmp_path / "web").mkdir()
    (tmp_path / "web/appspec.json").write_text(REAL_JSON)
    found = load_for(service, tmp_path)
    assert found is not None and found.path.name == "appspec.json"
