"""pipeline.yml `build_engines:` and where the Build stage places the next service build."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.codepipeline.build_fleet import Fleet
from runner.core import config_loader
from runner.core.placement import EngineLoad, choose
from runner.errors import ConfigError

BASE = """\
app: shop
services:
  web:
    path: web
environments:
  - name: prod
    port: 8080
    test_port: 9080
engines:
  node2: tcp://10.231.0.2:2375
  box: ssh://ci@box
"""


def test_the_least_loaded_engine_relative_to_its_cpus() -> None:
    engines = [EngineLoad("local", True, 2, ncpu=2), EngineLoad("box", True, 3, ncpu=8)]
    chosen = choose(engines)
    assert chosen is not None and chosen.name == "box"  # 3/8 < 2/2


def test_a_tie_goes_to_local_then_to_the_listed_order() -> None:
    listed = [EngineLoad("node2", True, 1, 2), EngineLoad("box", True, 1, 2), EngineLoad("local", True, 1, 2)]
    assert [choose(listed, avoid).name for avoid in ((), ("local",))] == ["local", "node2"]  # type: ignore[union-attr]


def test_unreachable_and_avoided_engines_are_never_chosen() -> None:
    listed = [
        EngineLoad("local", True, 9, 1),
        EngineLoad("node2", False, error="timed out"),
        EngineLoad("box", True, 4, 1),
    ]
    chosen = choose(listed)
    assert chosen is not None and chosen.name == "box"
    assert choose(listed, avoid=("box", "local")) is None


def test_without_build_engines_every_build_stays_local() -> None:
    assert config_loader.loads(BASE, Path("pipeline.yml")).build_engines == ()
    config = config_loader.loads(BASE + "build_engines: [local, node2]\n", Path("pipeline.yml"))
    assert config.build_engines == ("local", "node2")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "build_engines: [local, node3]\n",
            "pipeline.yml:12:24: build_engines[1]: no engine 'node3' under engines: "
            "(known: local, node2, box)",
        ),
        ("build_engines: [node2, node2]\n", "pipeline.yml:12:24: build_engines[1]: node2 is listed twice"),
        ("build_engines: []\n", "pipeline.yml:12:16: build_engines: expected at least 1 item(s)"),
        (
            "build_engines: node2\n",
            "pipeline.yml:12:16: build_engines: expected a list, got a string ('node2')",
        ),
    ],
)
def test_a_wrong_build_engine_is_named_with_its_position(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        config_loader.loads(BASE + text, Path("pipeline.yml"))
    assert str(error.value) == message


def test_a_fleet_only_with_build_engines_and_never_with_a_local_aws() -> None:
    said: list[str] = []
    assert Fleet.of(config_loader.loads(BASE, Path("pipeline.yml")), said.append) is None
    fleet = Fleet.of(
        config_loader.loads(BASE + "build_engines: [node2, local]\n", Path("pipeline.yml")), said.append
    )
    assert fleet is not None and [e.name for e in fleet.engines] == ["node2", "local"]
    local_aws = config_loader.loads(
        BASE + "aws: local\nbuild_engines: [local, node2]\n", Path("pipeline.yml")
    )
    assert Fleet.of(local_aws, said.append) is None
    assert said == ["warning: aws: local: the builds run on the local engine, not on build_engines:"]
