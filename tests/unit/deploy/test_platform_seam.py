"""Environments are reached through the Platform protocol: compose is spoken by its platform only,
and the deployment's own modules (lifecycle, traffic, alarms, rollback, status, ownership,
nginx rendering) import no engine adapter."""

from __future__ import annotations

import ast
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[3] / "runner"
ENGINE = ("runner.adapters.docker", "runner.adapters.compose")  # docker_engine, or a docker/ package
PLATFORM_NEUTRAL = (
    "control",
    "deployment",
    "environment",
    "lifecycle",
    "nginx_config",
    "outcome",
    "ownership",
    "platform",
    "rollback",
    "router",
    "stack",
    "status",
    "watch",
)


def imported(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            names |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
        elif isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
    return names


def test_only_the_compose_platform_runs_compose() -> None:
    users = sorted(
        str(path.relative_to(RUNNER.parent))
        for path in RUNNER.rglob("*.py")
        if "runner.adapters.compose" in imported(path) and path.parent.name != "adapters"
    )
    assert users == ["runner/codedeploy/compose_platform.py"]


def test_the_deployment_modules_speak_to_the_platform_not_the_engine() -> None:
    wrong = {
        f"{module}: {name}"
        for module in PLATFORM_NEUTRAL
        for name in imported(RUNNER / "codedeploy" / f"{module}.py")
        if name.startswith(ENGINE)
    }
    assert wrong == set()


def test_the_pipeline_asks_codedeploy_for_the_network_of_its_tests() -> None:
    source = (RUNNER / "codepipeline" / "execution.py").read_text(encoding="utf-8")
    assert "compose_network" not in source and "hook_network(" in source


def test_only_the_swarm_platform_speaks_to_swarm() -> None:
    users = sorted(
        str(path.relative_to(RUNNER.parent))
        for path in RUNNER.rglob("*.py")
        if "runner.adapters.docker.services" in imported(path) and path.parent.name != "docker"
    )
    assert users == ["runner/codedeploy/swarm_platform.py"]
