"""ECS deploy inputs against real Docker, compose and nginx: taskdef.json + appspec.yaml, unchanged.

The files follow public ECS blue/green projects: a Fargate task definition whose app image is
`<IMAGE1_NAME>`, an awsvpc sidecar the app depends on (an X-Ray daemon's place), secrets from a
Secrets Manager ARN with AWS's random suffix and a json-key and from an SSM ARN, a healthCheck,
awslogs and roles (warned about); an appspec naming a Lambda ARN as AfterAllowTestTraffic hook
and another Lambda that exists only in AWS.
"""

from __future__ import annotations

import json
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from runner.adapters.docker import client as docker_client
from runner.adapters.docker import images as docker_images
from runner.codedeploy import DeploymentResult, ImageRef, deploy, down, taskdef
from runner.codepipeline.service_build import build_service
from runner.core.config import PipelineConfig
from runner.errors import ConfigError
from runner.store import Store, open_store
from runner.store.deployments import env_state
from tests.integration.deploy.conftest import Images
from tests.integration.deploy.helpers import free_ports, get, write_project

pytestmark = [pytest.mark.docker, pytest.mark.slow]

PIPELINE = """\
app: {app}
time_scale: 1
secrets: secrets.yml
services:
  web:
    path: web
    ecs: {{}}                     # taskdef.json and appspec.yaml beside the service
    health_timeout: 40s
    hooks:
      shop-smoke:                 # the Lambda's function name
        command: >-
          curl -fsS --noproxy '*' "$RUNNER_TEST_URL/local/9000" &&
          echo "$RUNNER_LIFECYCLE_EVENT $RUNNER_NEW_IMAGE" >> {hook_log}
        on: host
environments:
  - name: staging
    port: {port}
    test_port: {test_port}
    strategy: {{canary: {{percent: 50, wait: 4s}}}}
    termination_wait: 1s
"""

SM_ARN = "arn:aws:secretsmanager:us-east-1:111122223333:secret:shop/db-AbC123"
TASKDEF = {
    "family": "shop-web",
    "executionRoleArn": "arn:aws:iam::111122223333:role/ecsTaskExecutionRole",
    "taskRoleArn": None,
    "networkMode": "awsvpc",
    "requiresCompatibilities": ["FARGATE"],
    "cpu": "512",
    "memory": "512",
    "containerDefinitions": [
        {
            "name": "app",
            "image": "<IMAGE1_NAME>",
            "essential": True,
            "user": "65534",
            "readonlyRootFilesystem": True,
            "portMappings": [{"containerPort": 8080, "hostPort": 8080, "protocol": "tcp"}],
            "environment": [{"name": "PORT", "value": "8080"}, {"name": "GREETING", "value": "cost $5"}],
            "secrets": [
                {"name": "DB_PASSWORD", "valueFrom": f"{SM_ARN}:password::"},
                {"name": "API_KEY", "valueFrom": "arn:aws:ssm:us-east-1:111122223333:parameter/shop/api-key"},
            ],
            "linuxParameters": {
                "initProcessEnabled": True,
                "tmpfs": [{"containerPath": "/tmp", "size": 16}],
                "capabilities": {"drop": ["NET_RAW"]},
            },
            "ulimits": [{"name": "nofile", "softLimit": 2048, "hardLimit": 4096}],
            "dockerLabels": {"team": "shop"},
            "stopTimeout": 5,
            "dependsOn": [{"containerName": "xray-daemon", "condition": "START"}],
            "healthCheck": {
                "command": [
                    "CMD-SHELL",
                    "python3 -c \"import urllib.request as u; u.urlopen('http://127.0.0.1:8080/health')\"",
                ],
                "interval": 5,
                "timeout": 3,
                "retries": 2,
            },
            "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "/ecs/shop-web"}},
        },
        {
            "name": "xray-daemon",
            "image": "runner/python:bookworm",
            "essential": True,
            "command": ["python3", "-m", "http.server", "9000", "--bind", "127.0.0.1"],
            "workingDirectory": "/tmp",
            "memoryReservation": 64,
            "portMappings": [{"containerPort": 9000, "protocol": "tcp"}],
        },
    ],
}
APPSPEC = """\
version: 0.0
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: <TASK_DEFINITION>
        LoadBalancerInfo:
          ContainerName: "app"
          ContainerPort: 8080
        PlatformVersion: "LATEST"
Hooks:
  - BeforeInstall: "arn:aws:lambda:us-east-1:111122223333:function:CodeDeployHook_only_in_aws"
  - AfterAllowTestTraffic: "arn:aws:lambda:us-east-1:111122223333:function:shop-smoke"
"""
SECRETS = """\
secrets-manager:
  shop/db: {username: shop, password: s3cr3t-pw}
parameter-store:
  /shop/api-key: key-123
"""


@dataclass
class Stage:
    config: PipelineConfig
    store: Store
    root: Path
    port: int
    lines: list[str] = field(default_factory=list)

    def say(self, line: str) -> None:
        self.lines.append(line)
        print(line)

    def deploy(self, image: ImageRef) -> DeploymentResult:
        return deploy(self.config, self.store, "staging", "web", image, say=self.say, source_dir=self.root)


@pytest.fixture(scope="module")
def stage(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stage]:
    root = tmp_path_factory.mktemp("ecs")
    port, test_port = free_ports(2)
    text = PIPELINE.format(
        app=f"t{uuid.uuid4().hex[:6]}", port=port, test_port=test_port, hook_log=root / "hooks.log"
    )
    files = {
        "web/taskdef.json": json.dumps(TASKDEF, indent=2),
        "web/appspec.yaml": APPSPEC,
        "secrets.yml": SECRETS,
    }
    config = write_project(root / "repo", text, files)
    store = open_store(root / "home")
    stage = Stage(config, store, root / "repo", port)
    try:
        yield stage
    finally:
        down(config, store, "staging", say=stage.say)


def versions_during(stage: Stage, run: threading.Thread) -> list[str]:
    seen = []
    while run.is_alive():
        code, body = get(stage.port, "/web/")
        seen.append(str(body.get("version")) if code == 200 else f"status {code}")
        time.sleep(0.02)
    return seen


def test_a_fargate_taskdef_with_a_sidecar_deploys_with_canary(stage: Stage, images: Images) -> None:
    first = stage.deploy(images.v1)
    assert first.status == "Succeeded", first.reason
    assert get(stage.port, "/web/")[1]["version"] == "1"
    # The appspec's ContainerPort (8080), not pipeline.yml's default port, is what the listeners reach;
    # the secrets come from the secrets file by ARN, name and name without AWS's suffix.
    assert get(stage.port, "/web/env/DB_PASSWORD") == (200, {"value": "s3cr3t-pw"})
    assert get(stage.port, "/web/env/API_KEY") == (200, {"value": "key-123"})
    assert get(stage.port, "/web/env/GREETING") == (200, {"value": "cost $5"})
    # awsvpc: the sidecar listens on the task's localhost only, and the app reaches it there.
    assert get(stage.port, "/web/local/9000")[0] == 200

    box: list[DeploymentResult] = []
    run = threading.Thread(target=lambda: box.append(stage.deploy(images.v2)))
    run.start()
    seen = versions_during(stage, run)
    run.join()
    result = box[0]
    assert result.status == "Succeeded", result.reason
    assert (result.from_slot, result.to_slot) == ("blue", "green")
    # Canary 50 %: both versions answered while the deployment ran, none failed.
    assert {"1", "2"} <= set(seen) and all(not v.startswith("status") for v in seen), seen[-20:]
    assert get(stage.port, "/web/")[1]["version"] == "2"
    events = {e["name"]: e["status"] for e in result.lifecycle}
    assert events["BeforeInstall"] == "Skipped" and events["AfterAllowTestTraffic"] == "Succeeded"
    hook_runs = (stage.root.parent / "hooks.log").read_text().splitlines()
    assert hook_runs[-1] == f"AfterAllowTestTraffic {images.v2.tag}"
    said = "\n".join(stage.lines)
    assert "CodeDeployHook_only_in_aws" in said and "skipped (strict_hooks: true makes this an error)" in said
    assert "executionRoleArn: accepted, no local meaning" in said
    assert "listeners reach app:8080" in said


def test_the_task_runs_as_its_definition_says(stage: Stage, images: Images) -> None:
    if not env_state(stage.store, "staging", "web").live_slot:  # run alone (-k)
        assert stage.deploy(images.v1).status == "Succeeded"
    state = env_state(stage.store, "staging", "web")
    live, project = state.live_slot, f"{stage.config.app}-staging"
    client = docker_client.client()
    app = client.containers.get(f"{project}-web-{live}.app").attrs
    pause = client.containers.get(f"{project}-web-{live}").attrs
    sidecar = client.containers.get(f"{project}-web-{live}.xray-daemon").attrs
    host = app["HostConfig"]
    assert host["NetworkMode"] == f"container:{pause['Id']}" == sidecar["HostConfig"]["NetworkMode"]
    assert host["ReadonlyRootfs"] and host["Init"] and host["CapDrop"] == ["CAP_NET_RAW"]
    assert host["Tmpfs"] == {"/tmp": "size=16m"}
    assert host["Memory"] == 512 * 1024 * 1024 and host["NanoCpus"] == 500_000_000
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 2048, "Hard": 4096}]
    assert sidecar["HostConfig"]["MemoryReservation"] == 64 * 1024 * 1024
    config = app["Config"]
    assert config["User"] == "65534" and config["Labels"]["team"] == "shop"
    assert config["StopTimeout"] == 5
    # ECS's health check values, not Docker's defaults.
    check = config["Healthcheck"]
    assert (check["Interval"], check["Timeout"], check["Retries"]) == (5_000_000_000, 3_000_000_000, 2)
    assert app["State"]["Health"]["Status"] == "healthy"
    pinned = docker_images.image("runner/python:bookworm")
    assert app["Image"] == state.image(live).id and pinned and sidecar["Image"] == pinned.id
    # No secret value at rest: compose gets them through its own environment.
    env_dir = stage.store.path.parent / "envs" / "staging"
    for path in (env_dir / "compose.yml", *sorted((env_dir / "tasks").glob("*.json"))):
        assert "s3cr3t-pw" not in path.read_text() and "key-123" not in path.read_text(), path
    assert "${RUNNER_SECRET_" in (env_dir / "compose.yml").read_text()


# A build that renders its task definition and appspec, as many projects do with sed before
# CodePipeline's deploy action reads them: the source holds templates that are not valid JSON
# (an unquoted ${TASK_CPU}); the build's artifact holds the rendered files.
RENDERED_PIPELINE = """\
app: {app}
time_scale: 1
services:
  web:
    path: web
    ecs: {{}}
    health_timeout: 30s
environments:
  - name: staging
    port: {port}
    test_port: {test_port}
"""
TEMPLATE = """\
{
  "family": "web",
  "cpu": ${TASK_CPU},
  "containerDefinitions": [
    {
      "name": "${CONTAINER_NAME}",
      "image": "<IMAGE1_NAME>",
      "environment": [{"name": "APP_VERSION", "value": "rendered"}, {"name": "PORT", "value": "8000"}],
      "portMappings": [{"containerPort": 8000}]
    }
  ]
}
"""
TEMPLATE_APPSPEC = """\
version: 1
Resources:
  - TargetService:
      Type: AWS::ECS::Service
      Properties:
        TaskDefinition: <TASK_DEFINITION>
        LoadBalancerInfo: {ContainerName: "${CONTAINER_NAME}", ContainerPort: 8000}
"""
RENDER_BUILDSPEC = """\
version: 0.2
env:
  variables:
    CONTAINER_NAME: web-app
    TASK_CPU: "256"
phases:
  build:
    commands:
      - mkdir -p out
      - >-
        sed -e "s/\\${CONTAINER_NAME}/$CONTAINER_NAME/g" -e "s/\\${TASK_CPU}/$TASK_CPU/g"
        web/taskdef.json > out/taskdef.json
      - sed -e "s/\\${CONTAINER_NAME}/$CONTAINER_NAME/g" web/appspec.yaml > out/appspec.yaml
artifacts:
  base-directory: out
  files: [taskdef.json, appspec.yaml]
"""
DOCKERFILE = """\
FROM runner/python:bookworm
COPY app.py /app/app.py
CMD ["python3", "/app/app.py"]
"""


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def test_a_taskdef_rendered_by_the_build_is_read_from_its_artifact(tmp_path: Path) -> None:
    port, test_port = free_ports(2)
    root = tmp_path / "repo"
    files = {
        "web/taskdef.json": TEMPLATE,
        "web/appspec.yaml": TEMPLATE_APPSPEC,
        "web/buildspec.yml": RENDER_BUILDSPEC,
        "web/Dockerfile": DOCKERFILE,
        "web/app.py": (Path(__file__).with_name("app.py")).read_text(),
    }
    text = RENDERED_PIPELINE.format(app=f"t{uuid.uuid4().hex[:6]}", port=port, test_port=test_port)
    config = write_project(root, text, files)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "v1")
    store = open_store(tmp_path / "home")
    lines: list[str] = []
    try:
        built = build_service(config, "web", store, commit=git(root, "rev-parse", "HEAD"), show=lines.append)
        assert built.image is not None, built.error
        result = deploy(config, store, "staging", "web", built.image.ref, say=lines.append, source_dir=root)
        assert result.status == "Succeeded", result.reason
        assert get(port, "/web/")[1]["version"] == "rendered"
        said = "\n".join(lines)
        assert "task definition web from the build's artifacts" in said
        assert "listeners reach web-app:8000" in said
        assert "artifacts/appspec.yaml:1:10: version: AWS documents 0.0; 1 is read as 0.0" in said
        # The source's template itself is not deployable: it says so in one line.
        template = r"web/taskdef.json:3:10: a template, not valid JSON until rendered"
        with pytest.raises(ConfigError, match=template):
            taskdef.load(root / "web/taskdef.json", "web/taskdef.json")
    finally:
        down(config, store, "staging", say=lines.append)


# The standard ECS action's hand-off: one imagedefinitions.json entry per container.
DEFINITIONS_PIPELINE = """\
app: {app}
time_scale: 1
services:
  web:
    path: web
    ecs: {{}}
    health_timeout: 30s
    variables: {{WEB_IMAGE: "{web}", WORKER_IMAGE: "{worker}"}}
environments:
  - name: staging
    port: {port}
    test_port: {test_port}
"""
DEFINITIONS_BUILDSPEC = """\
version: 0.2
phases:
  build:
    commands:
      - mkdir -p out && cp web/taskdef.json web/appspec.yaml out/
      - >-
        printf '[{"name":"web","imageUri":"%s"},{"name":"worker","imageUri":"%s"}]'
        "$WEB_IMAGE" "$WORKER_IMAGE" > out/imagedefinitions.json
artifacts:
  base-directory: out
  files: ["*"]
"""
TWO_CONTAINERS = {
    "family": "web",
    "networkMode": "awsvpc",
    "containerDefinitions": [
        {"name": "web", "image": "<IMAGE1_NAME>", "portMappings": [{"containerPort": 8000}]},
        {
            "name": "worker",
            "image": "111122223333.dkr.ecr.us-east-1.amazonaws.com/worker:latest",
            "essential": False,
            "environment": [{"name": "PORT", "value": "9100"}],
        },
    ],
}
PLAIN_APPSPEC = (
    "version: 0.0\nResources:\n  - TargetService:\n      Properties:\n"
    "        LoadBalancerInfo: {ContainerName: web, ContainerPort: 8000}\n"
)


def test_a_multi_entry_imagedefinitions_sets_each_named_container(tmp_path: Path, images: Images) -> None:
    port, test_port = free_ports(2)
    root = tmp_path / "repo"
    app = f"t{uuid.uuid4().hex[:6]}"
    text = DEFINITIONS_PIPELINE.format(
        app=app, port=port, test_port=test_port, web=images.v1.tag, worker=images.v2.tag
    )
    files = {
        "web/taskdef.json": json.dumps(TWO_CONTAINERS),
        "web/appspec.yaml": PLAIN_APPSPEC,
        "web/buildspec.yml": DEFINITIONS_BUILDSPEC,
    }
    config = write_project(root, text, files)
    git(root, "init", "-q")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "v1")
    store = open_store(tmp_path / "home")
    lines: list[str] = []
    try:
        built = build_service(config, "web", store, commit=git(root, "rev-parse", "HEAD"), show=lines.append)
        assert built.image is not None, built.error
        result = deploy(config, store, "staging", "web", built.image.ref, say=lines.append, source_dir=root)
        assert result.status == "Succeeded", result.reason
        assert get(port, "/web/")[1]["version"] == "1"  # the web entry, handed off by the build
        assert get(port, "/web/local/9100")[0] == 200  # the worker runs the worker entry's image
        worker = docker_client.client().containers.get(f"{config.app}-staging-web-blue.worker")
        assert worker.attrs["Image"] == images.v2.id
        assert f"worker: image {images.v2.tag} from the build's imagedefinitions.json" in "\n".join(lines)
    finally:
        down(config, store, "staging", say=lines.append)
