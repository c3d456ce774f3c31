"""The ECS AppSpec loader: read as is, exact errors with positions."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from runner.codedeploy.appspec import load, load_for
from runner.errors import ConfigError
from runner.spec.config import Service

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
        ("version: 1.0\n", "appspec.yml:1:10: version: expected 0.0, got '1.0'"),
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
