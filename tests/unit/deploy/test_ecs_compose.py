"""A task definition as compose services of one slot (pure), and how its inputs are filled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runner.codedeploy import ecs_inputs
from runner.codedeploy.ecs_compose import SlotPlace, SlotTask, members, render, secret_variable
from runner.codedeploy.ecs_files import load_json_text
from runner.codedeploy.model import ImageRef
from runner.codedeploy.taskdef import from_document
from runner.core.config import EcsFiles, Service
from runner.errors import ConfigError, UsageError

TASK = {
    "family": "web",
    "networkMode": "awsvpc",
    "cpu": "1 vCPU",
    "memory": "1 GB",
    "containerDefinitions": [
        {
            "name": "app",
            "image": "web:1a2b3c4d5e6f",
            "command": ["sh", "-c", "echo $HOME"],
            "environment": [{"name": "PRICE", "value": "$5"}],
            "secrets": [{"name": "PW", "valueFrom": "/db/pw"}],
            "dependsOn": [
                {"containerName": "envoy", "condition": "HEALTHY"},
                {"containerName": "migrate", "condition": "SUCCESS"},
            ],
            "stopTimeout": 20,
        },
        {
            "name": "envoy",
            "image": "envoy:v1",
            "essential": True,
            "healthCheck": {"command": ["CMD-SHELL", "curl -s localhost:9901/ready"], "startPeriod": 10},
            "linuxParameters": {"sharedMemorySize": 64, "capabilities": {"add": ["NET_ADMIN"]}},
        },
        {"name": "migrate", "image": "web:1a2b3c4d5e6f", "essential": False, "command": ["migrate"]},
    ],
}


def task(data: dict[str, object], port: int = 8080) -> SlotTask:
    parsed = from_document(load_json_text(json.dumps(data), "taskdef.json"))
    ids = {c.name: f"sha256:{c.name}" for c in parsed.containers}
    return SlotTask(parsed, ids, "app", port)


PLACE = SlotPlace(
    "web", "blue", "10.213.4.10", "shop-prod", {"runner.kind": "slot"}, {"RUNNER_SLOT": "blue"}, "nginx:1"
)


def test_awsvpc_a_pause_container_holds_the_slot_address_and_every_container_joins_it() -> None:
    services = render(task(TASK), PLACE)
    assert list(services) == ["web-blue", "web-blue.app", "web-blue.envoy", "web-blue.migrate"]
    pause = services["web-blue"]
    assert pause["networks"] == {"default": {"ipv4_address": "10.213.4.10"}} and pause["command"] == [
        "sleep",
        "infinity",
    ]
    app = services["web-blue.app"]
    assert app["network_mode"] == "service:web-blue" and "networks" not in app
    assert app["container_name"] == "shop-prod-web-blue.app" and app["image"] == "sha256:app"
    assert app["command"] == ["sh", "-c", "echo $$HOME"]  # compose would interpolate $HOME
    assert app["environment"] == {
        "PRICE": "$$5",
        "RUNNER_SLOT": "blue",
        "PW": "${" + secret_variable("web", "blue", "app", "PW") + "}",
    }
    assert app["depends_on"] == {
        "web-blue.envoy": {"condition": "service_healthy"},
        "web-blue.migrate": {"condition": "service_completed_successfully"},
    }
    # Task size on the target container when no container has its own; 30 s/5 s/3 are ECS's defaults.
    assert (app["mem_limit"], app["cpus"], app["stop_grace_period"], app["restart"]) == (
        "1024m",
        1.0,
        "20s",
        "no",
    )
    envoy = services["web-blue.envoy"]
    assert envoy["healthcheck"] == {
        "test": ["CMD-SHELL", "curl -s localhost:9901/ready"],
        "interval": "30s",
        "timeout": "5s",
        "retries": 3,
        "start_period": "10s",
    }
    assert (envoy["shm_size"], envoy["cap_add"], "mem_limit" in envoy) == ("64m", ["NET_ADMIN"], False)
    assert members("web", "blue", task(TASK)) == list(services)


def test_bridge_the_target_container_holds_the_address_and_links_reach_the_others() -> None:
    bridge = {
        "containerDefinitions": [
            {"name": "app", "image": "a", "links": ["cache:redis"], "memory": 256, "cpu": 128},
            {"name": "cache", "image": "c", "memoryReservation": 32},
        ]
    }
    services = render(task(bridge), PLACE)
    assert list(services) == ["web-blue", "web-blue.cache"]
    app = services["web-blue"]
    assert app["networks"] == {"default": {"ipv4_address": "10.213.4.10"}}
    assert app["links"] == ["web-blue.cache:redis"]
    assert (app["mem_limit"], app["cpu_shares"], "cpus" in app) == ("256m", 128, False)
    assert services["web-blue.cache"]["networks"] == {"default": {}}


def service(tmp_path: Path, images: dict[str, str] | None = None) -> Service:
    (tmp_path / "web").mkdir(exist_ok=True)
    ecs = EcsFiles(images=images or {})
    return Service("web", "web", "b.yml", 8000, "/", "/web", ecs=ecs)


def write(tmp_path: Path, taskdef: dict[str, object], appspec: str = "") -> None:
    (tmp_path / "web/taskdef.json").write_text(json.dumps(taskdef, indent=2))
    (tmp_path / "web/appspec.yaml").write_text(
        appspec
        or "version: 0.0\nResources:\n  - TargetService:\n      Properties:\n"
        "        LoadBalancerInfo: {ContainerName: app, ContainerPort: 8080}\n"
    )


TWO = {
    "containerDefinitions": [
        {"name": "app", "image": "<IMAGE1_NAME>", "portMappings": [{"containerPort": 8080}]},
        {"name": "worker", "image": "<IMAGE2_NAME>"},
    ]
}
IMAGE = ImageRef("web:1a2b3c4d5e6f", "sha256:" + "1" * 64)


def test_two_placeholders_need_pipeline_yml_images(tmp_path: Path) -> None:
    svc = service(tmp_path)
    write(tmp_path, TWO)
    with pytest.raises(ConfigError) as caught:
        ecs_inputs.load(svc, IMAGE, tmp_path, None, {}, print)
    assert str(caught.value) == (
        "web/taskdef.json:5:16: containerDefinitions[0].image: placeholder <IMAGE1_NAME> is not replaced: "
        "name the service whose image fills it in pipeline.yml (services.web.images: {IMAGE1_NAME: SERVICE})"
    )
    with pytest.raises(
        UsageError, match="worker has no live image in this environment to fill <IMAGE2_NAME>"
    ):
        ecs_inputs.load(
            service(tmp_path, {"IMAGE1_NAME": "web", "IMAGE2_NAME": "worker"}),
            IMAGE,
            tmp_path,
            None,
            {},
            print,
        )


def test_the_appspec_target_must_be_a_container_and_one_of_its_ports(tmp_path: Path) -> None:
    one = {
        "containerDefinitions": [
            {"name": "app", "image": "<IMAGE1_NAME>", "portMappings": [{"containerPort": 80}]}
        ]
    }
    svc = service(tmp_path)
    write(tmp_path, one)
    with pytest.raises(
        UsageError, match=r"appspec.yaml: ContainerPort 8080 is not a portMappings containerPort of app"
    ):
        ecs_inputs.load(svc, IMAGE, tmp_path, None, {}, print)
    write(
        tmp_path,
        one,
        "version: 0.0\nResources:\n  - TargetService:\n      Properties:\n"
        "        LoadBalancerInfo: {ContainerName: web, ContainerPort: 80}\n",
    )
    with pytest.raises(
        UsageError, match=r"ContainerName 'web' is not a container of web/taskdef.json \(app\)"
    ):
        ecs_inputs.load(svc, IMAGE, tmp_path, None, {}, print)


def test_the_build_artifact_wins_over_the_source(tmp_path: Path) -> None:
    svc = service(tmp_path)
    write(tmp_path, TWO)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    (artifacts / "taskdef.json").write_text("{}")
    taskdef, appspec, origin = ecs_inputs.find(EcsFiles(), svc, tmp_path, artifacts)
    assert (taskdef, appspec, origin) == (
        artifacts / "taskdef.json",
        tmp_path / "web/appspec.yaml",
        "the build's artifacts",
    )
    assert ecs_inputs.find(EcsFiles(), svc, tmp_path, None)[2] == "web/ in the source"
