"""pipeline.yml keys the deploy engine adds: service hooks, health_timeout, one strategy form."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from runner.core import config_loader, config_schema
from runner.core.config import PipelineConfig, ServiceHook
from runner.errors import ConfigError

BASE = """\
app: shop
services:
  web:
    path: web
{service}
environments:
  - name: prod
    port: 8080
    test_port: 9080
{env}
"""


def load(tmp_path: Path, service: str = "", env: str = "") -> PipelineConfig:
    path = tmp_path / "pipeline.yml"
    path.write_text(BASE.format(service=service, env=env))
    return config_loader.loads(path.read_text(), Path("pipeline.yml"))


def test_hooks_and_health_timeout(tmp_path: Path) -> None:
    web = load(
        tmp_path,
        "    health_timeout: 90s\n    hooks:\n      smoke: ./smoke.sh\n"
        "      local: {command: make check, on: host}",
    ).service("web")
    assert web.hooks == {"smoke": ServiceHook("./smoke.sh"), "local": ServiceHook("make check", "host")}
    assert web.health_timeout_s == 90.0
    assert load(tmp_path).service("web").health_timeout_s == 60.0


def test_a_strategy_mapping_names_exactly_one_form(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as error:
        load(tmp_path, env="    strategy: {}")
    assert (
        str(error.value)
        == "pipeline.yml:10:15: environments[0].strategy: expected exactly one of canary, linear"
    )


def test_hook_mapping_needs_a_command(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"hooks\.smoke\.command: required key is missing"):
        load(tmp_path, "    hooks:\n      smoke: {on: host}")


def test_retry_on_canary_failure_is_on_unless_turned_off(tmp_path: Path) -> None:
    assert load(tmp_path).environment("prod").retry_on_canary_failure is True
    off = load(tmp_path, env="    retry_on_canary_failure: false")
    assert off.environment("prod").retry_on_canary_failure is False
    with pytest.raises(ConfigError) as error:
        load(tmp_path, env="    retry_on_canary_failure: sometimes")
    assert str(error.value) == (
        "pipeline.yml:10:30: environments[0].retry_on_canary_failure: expected yes or no, got 'sometimes'"
    )
    properties = config_schema.json_schema()["properties"]["environments"]["items"]["properties"]
    assert properties["retry_on_canary_failure"]["default"] is True


@pytest.mark.parametrize(
    "strategy",
    [
        "AllAtOnce",
        "CodeDeployDefault.ECSCanary10Percent5Minutes",
        "LambdaLinear10PercentEvery1Minute",
        "{canary: {percent: 99, wait: 30s}}",
        "{linear: {percent: 100, every: 1m}}",
        "Canary10Percent",
        "Linear0PercentEvery1Minutes",
        "{canary: {percent: 100, wait: 30s}}",
        "{linear: {percent: 0, every: 1m}}",
        "{canary: {percent: 10, wait: 30s}, linear: {percent: 10, every: 1m}}",
    ],
)
def test_pipeline_yml_and_the_deploy_engine_read_strategies_alike(tmp_path: Path, strategy: str) -> None:
    """One grammar (runner/core/traffic.py): what pipeline.yml accepts, a deployment can run."""
    from runner.codedeploy.strategies import parse
    from runner.errors import UsageError

    try:
        accepted = load(tmp_path, env=f"    strategy: {strategy}").environment("prod").strategy
    except ConfigError:
        accepted = None
    try:
        parsed = parse(yaml.safe_load(strategy))
    except UsageError:
        parsed = None
    assert (accepted is None) == (parsed is None)


def test_strict_hooks_and_lambda_names_as_hook_keys(tmp_path: Path) -> None:
    path = tmp_path / "pipeline.yml"
    path.write_text(
        "app: a\nstrict_hooks: true\nservices:\n  web:\n    path: web\n    hooks:\n"
        "      arn:aws:lambda:us-east-1:1:function:smoke: make smoke\n      web-pre_hook.v2: make pre\n"
        "environments: [{name: s, port: 1, test_port: 2}]\n"
    )
    loaded = config_loader.load(path)
    assert loaded.strict_hooks is True
    hooks = set(loaded.service("web").hooks)
    assert hooks == {"arn:aws:lambda:us-east-1:1:function:smoke", "web-pre_hook.v2"}


SWARM = """\
app: shop
engines:
  node1: tcp://10.0.0.5:2375
services:
  web:
    path: web
    replicas: 3
environments:
  - name: prod
    port: 8080
    test_port: 9080
{env}
"""


def load_swarm(tmp_path: Path, env: str) -> PipelineConfig:
    return config_loader.loads(SWARM.format(env=env), Path("pipeline.yml"))


def test_swarm_platform_engine_and_replicas(tmp_path: Path) -> None:
    config = load_swarm(tmp_path, "    platform: swarm\n    engine: node1")
    env = config.environments[0]
    assert (env.platform, env.engine, env.host) == (
        "swarm",
        "node1",
        "10.0.0.5",
    )  # where the router is reached
    assert config.services[0].replicas == 3
    local = load_swarm(tmp_path, "    platform: swarm").environments[0]
    assert (local.engine, local.host) == ("local", "127.0.0.1")
    compose = load(tmp_path).environments[0]
    assert (compose.platform, compose.host) == ("compose", "127.0.0.1") and load(tmp_path).services[
        0
    ].replicas == 1


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            "    platform: swarm\n    engine: node9",
            "pipeline.yml:13:13: environments[0].engine: no engine 'node9'",
        ),
        (
            "    engine: node1",
            "pipeline.yml:12:13: environments[0].engine: engine: applies to platform: swarm",
        ),
        ("    platform: kubernetes", "pipeline.yml:12:15: environments[0].platform:"),
    ],
)
def test_swarm_keys_are_checked_with_their_position(tmp_path: Path, env: str, message: str) -> None:
    with pytest.raises(ConfigError) as e:
        load_swarm(tmp_path, env)
    assert str(e.value).startswith(message), str(e.value)
