"""Traffic shifting configurations: CodeDeploy names, custom forms, scaled schedules."""

from __future__ import annotations

import pytest

from runner.codedeploy.strategies import ALL_AT_ONCE, CANARY, LINEAR, Step, parse, scaled
from runner.errors import UsageError


def test_predefined_canary_is_two_steps_scaled() -> None:
    config = parse("CodeDeployDefault.ECSCanary10Percent5Minutes", time_scale=60)
    assert (config.type, config.percent, config.interval_s) == (CANARY, 10, 300.0)
    assert config.steps() == (Step(10, 5.0), Step(100, 0.0))
    assert "10%, then 100% after 5s (AWS 5m / time_scale 60)" in config.describe()


def test_predefined_linear_names_with_and_without_prefix() -> None:
    ecs = parse("ECSLinear10PercentEvery1Minutes", time_scale=60)
    assert ecs.name == "CodeDeployDefault.ECSLinear10PercentEvery1Minutes" and ecs.type == LINEAR
    assert [s.percent for s in ecs.steps()] == [10, 20, 30, 40, 50, 60, 70, 80, 90, 100]
    assert {s.wait_s for s in ecs.steps()[:-1]} == {1.0} and ecs.steps()[-1].wait_s == 0
    lam = parse("CodeDeployDefault.LambdaLinear10PercentEvery1Minute", time_scale=1)
    assert lam.name == "CodeDeployDefault.LambdaLinear10PercentEvery1Minute" and lam.interval_s == 60


def test_all_at_once() -> None:
    for name in ("AllAtOnce", "CodeDeployDefault.ECSAllAtOnce", "LambdaAllAtOnce"):
        config = parse(name, time_scale=60)
        assert config.type == ALL_AT_ONCE and config.steps() == (Step(100, 0.0),)


def test_linear_steps_end_at_100() -> None:
    assert [s.percent for s in parse("linear:30:10s", 1).steps()] == [30, 60, 90, 100]
    assert parse("linear:100:1m", 1).steps() == (Step(100, 0.0),)


def test_custom_forms_from_pipeline_yml_and_cli() -> None:
    canary = parse({"canary": {"percent": 10, "wait": "30s"}}, time_scale=10)
    assert (canary.type, canary.name, canary.steps()) == (
        CANARY,
        "Canary10Percent30s",
        (Step(10, 3.0), Step(100, 0.0)),
    )
    assert parse("canary:10:30s", time_scale=10) == canary
    linear = parse({"linear": {"percent": 25, "every": "2m"}}, time_scale=60)
    assert linear.name == "Linear25PercentEvery2m" and linear.steps()[0] == Step(25, 2.0)
    assert linear.as_json()["steps"][0] == {"percent": 25, "wait_s": 2.0}


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("Blue", "unknown deployment configuration 'Blue'"),
        ("canary:100:1m", "between 1 and 99"),
        ("linear:0:1m", "between 1 and 100"),
        ({"canary": {"percent": 1, "wait": "1s"}, "linear": {"percent": 1, "every": "1s"}}, "exactly one"),
        ({"canary": {"percent": 5}}, "expected percent and wait"),
    ],
)
def test_bad_strategies(value: object, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse(value, 1)  # type: ignore[arg-type]


def test_scaled_durations() -> None:
    assert scaled(300, 60) == 5 and scaled(300, 0) == 300
