"""The ECS task definition loader and its secrets, on files shaped like real projects' taskdef.json.

The shapes come from public ECS blue/green repositories (taskdef.json next to appspec.yaml):
Fargate definitions with `<IMAGE1_NAME>`, Secrets Manager ARNs with AWS's random suffix and a
json-key (`…:secret:app/mysql-PihY9g:password::`), SSM names, `null` fields left by
describe-task-definition, awslogs, an X-Ray daemon sidecar the app depends on, and templates
that a build renders with envsubst before deploying.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from runner.codedeploy import ecs_secrets
from runner.codedeploy.taskdef import load
from runner.core.secrets import loads_secrets
from runner.errors import ConfigError

SM_ARN = "arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:app/mysql-PihY9g"
FARGATE = {
    "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
    "containerDefinitions": [
        {
            "logConfiguration": {
                "logDriver": "awslogs",
                "secretOptions": None,
                "options": {"awslogs-group": "/ecs/backend", "awslogs-region": "ap-northeast-1"},
            },
            "portMappings": [{"hostPort": 80, "protocol": "tcp", "containerPort": 80}],
            "cpu": 256,
            "readonlyRootFilesystem": True,
            "environment": [],
            "secrets": [
                {
                    "valueFrom": f"{SM_ARN}:host::",
                    "name": "DB_HOST",
                },
                {
                    "valueFrom": f"{SM_ARN}:password::",
                    "name": "DB_PASSWORD",
                },
                {
                    "valueFrom": "arn:aws:ssm:ap-northeast-1:123456789012:parameter/app/api-key",
                    "name": "API_KEY",
                },
                {"valueFrom": "/app/flag", "name": "FLAG"},
            ],
            "memory": None,
            "memoryReservation": 512,
            "image": "<IMAGE1_NAME>",
            "essential": True,
            "name": "app",
            "dependsOn": [{"containerName": "xray-daemon", "condition": "START"}],
            "healthCheck": {"command": ["CMD-SHELL", "curl -f http://localhost/health || exit 1"]},
        },
        {
            "name": "xray-daemon",
            "image": "amazon/aws-xray-daemon",
            "cpu": 32,
            "memoryReservation": 256,
            "portMappings": [{"containerPort": 2000, "protocol": "udp"}],
        },
    ],
    "memory": "1024",
    "taskRoleArn": None,
    "family": "backend-def",
    "requiresCompatibilities": ["FARGATE"],
    "networkMode": "awsvpc",
    "cpu": "0.5 vCPU",
}

SECRETS = """\
parameter-store:
  /app/api-key: k-123
  /app/flag: "on"
secrets-manager:
  app/mysql: {host: db.internal, password: hunter2}
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_fargate_taskdef_loads_with_ecs_defaults_and_one_warning_per_foreign_field(tmp_path: Path) -> None:
    text = json.dumps(FARGATE, indent=2)
    task = load(write(tmp_path, "taskdef.json", text), "taskdef.json")
    app, xray = task.containers
    assert (task.family, task.network_mode, task.cpu, task.memory_mib) == ("backend-def", "awsvpc", 512, 1024)
    assert (app.image, app.essential, app.read_only, app.memory_mib, app.memory_reservation_mib) == (
        "<IMAGE1_NAME>",
        True,
        True,
        None,
        512,
    )
    line = next(n for n, t in enumerate(text.splitlines(), 1) if "<IMAGE1_NAME>" in t)
    assert str(app.image_at) == f"taskdef.json:{line}:16"
    assert app.depends_on == (("xray-daemon", "START"),)
    assert app.health is not None
    # ECS's defaults, written out (Docker's would be 30 s timeout).
    assert (app.health.interval_s, app.health.timeout_s, app.health.retries, app.health.start_period_s) == (
        30,
        5,
        3,
        None,
    )
    assert xray.essential and xray.ports == (2000,) and xray.image == "amazon/aws-xray-daemon"
    warned = [w.split(": ")[1] for w in task.warnings]
    assert warned == [
        "executionRoleArn",
        "containerDefinitions[0].logConfiguration",
        "requiresCompatibilities",
    ]
    assert all("accepted, no local meaning" in w and w.startswith("taskdef.json:") for w in task.warnings)


def test_secrets_resolve_by_arn_then_name_then_name_without_the_random_suffix(tmp_path: Path) -> None:
    task = load(write(tmp_path, "taskdef.json", json.dumps(FARGATE, indent=2)), "taskdef.json")
    values = ecs_secrets.resolve(task, loads_secrets(SECRETS))
    assert values == {
        "app": {"DB_HOST": "db.internal", "DB_PASSWORD": "hunter2", "API_KEY": "k-123", "FLAG": "on"},
        "xray-daemon": {},
    }
    by_arn = loads_secrets(
        "secrets-manager:\n"
        '  \'arn:aws:secretsmanager:ap-northeast-1:123456789012:secret:app/mysql-PihY9g\': \'{"host": "h", '
        '"password": "p"}\'\n'
        "  app/mysql: {host: wrong, password: wrong}\n"
        "parameter-store: {app/api-key: k, /app/flag: f}\n"
    )
    assert ecs_secrets.resolve(task, by_arn)["app"] == {
        "DB_HOST": "h",
        "DB_PASSWORD": "p",
        "API_KEY": "k",
        "FLAG": "f",
    }


def test_a_missing_secret_names_its_place_and_what_was_tried(tmp_path: Path) -> None:
    task = load(write(tmp_path, "taskdef.json", json.dumps(FARGATE, indent=2)), "taskdef.json")
    with pytest.raises(ConfigError) as caught:
        ecs_secrets.resolve(task, loads_secrets("parameter-store: {/app/api-key: k}\n", "secrets.yml"))
    message = str(caught.value)
    assert message.startswith("taskdef.json:25:24: containerDefinitions[0].secrets.DB_HOST: ")
    assert "is not in secrets.yml (tried secrets-manager: " in message
    assert "'app/mysql-PihY9g', 'app/mysql')" in message
    missing_key = loads_secrets(
        "secrets-manager: {app/mysql: {host: h}}\nparameter-store: {/app/api-key: k}\n"
    )
    with pytest.raises(ConfigError, match=r"secret 'app/mysql' in secrets.yml has no JSON key 'password'"):
        ecs_secrets.resolve(task, missing_key)


def test_a_yaml_taskdef_and_describe_output_are_accepted(tmp_path: Path) -> None:
    described = {"taskDefinition": {**FARGATE, "revision": 7, "status": "ACTIVE"}}
    task = load(write(tmp_path, "taskdef.json", json.dumps(described)), "taskdef.json")
    assert task.family == "backend-def" and len(task.containers) == 2
    assert any("describe-task-definition output" in w for w in task.warnings)
    assert any(
        ": revision: accepted, no local meaning: a field of describe-task-definition output" in w
        for w in task.warnings
    )
    yaml_task = load(
        write(
            tmp_path,
            "taskdef.yaml",
            textwrap.dedent(
                """\
                family: web
                containerDefinitions:
                  - name: web
                    image: "<IMAGE1_NAME>"
                    command: [python3, app.py]
                    ulimits: [{name: nofile, softLimit: 1024, hardLimit: 4096}]
                    linuxParameters:
                      capabilities: {drop: [ALL]}
                      initProcessEnabled: true
                      tmpfs: [{containerPath: /tmp, size: 64, mountOptions: [noexec]}]
                    stopTimeout: 20
                    healthCheck: {command: [CMD, /bin/true], interval: 10, retries: 5, startPeriod: 3}
                    dockerLabels: {team: shop}
                    colour: blue
                """
            ),
        ),
        "taskdef.yaml",
    )
    web = yaml_task.containers[0]
    assert (yaml_task.network_mode, web.command, web.ulimits, web.cap_drop, web.init) == (
        "bridge",
        ("python3", "app.py"),
        {"nofile": (1024, 4096)},
        ("ALL",),
        True,
    )
    assert (
        web.tmpfs == ("/tmp:size=64m,noexec",) and web.stop_timeout_s == 20 and web.labels == {"team": "shop"}
    )
    assert web.health is not None and (web.health.interval_s, web.health.timeout_s, web.health.retries) == (
        10,
        5,
        5,
    )
    assert yaml_task.warnings == (
        "taskdef.yaml:14:5: containerDefinitions[0].colour: unknown task definition field, ignored",
    )


def test_tabs_are_json_whitespace(tmp_path: Path) -> None:
    text = '{\n\t"family": "t",\n\t"containerDefinitions": [\n'
    text += '\t\t{"name": "a", "image": "<IMAGE1_NAME>"}\n\t]\n}\n'
    task = load(write(tmp_path, "taskdef.json", text), "taskdef.json")
    assert str(task.containers[0].image_at) == "taskdef.json:4:26"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"containerDefinitions": [{"name": "a", "image": "x", "cpu": ${AWS_FARGATE_CPU}}]}',
            "taskdef.json:1:62: a template, not valid JSON until rendered (unquoted ${AWS_FARGATE_CPU})",
        ),
        ('{"containerDefinitions": [{"name": "a", "image": "x"},]}', "taskdef.json:1:55: invalid JSON: "),
        ('{"family": "x"}', "taskdef.json:1:1: containerDefinitions: required key is missing"),
        (
            '{"containerDefinitions": [{"name": "a", "image": "x", "essential": false}]}',
            "taskdef.json:1:1: containerDefinitions: at least one container must be essential",
        ),
        (
            '{"containerDefinitions": [{"name": "a", "image": "x"}, {"name": "a", "image": "y"}]}',
            "taskdef.json:1:65: containerDefinitions[1].name: 'a' is used twice",
        ),
        (
            '{"containerDefinitions": [{"name": "a", "image": "x",\n'
            ' "dependsOn": [{"containerName": "b", "condition": "HEALTHY"}]}, {"name": "b", "image": "y"}]}',
            "taskdef.json:2:15: containerDefinitions[0].dependsOn: HEALTHY needs a healthCheck on 'b'",
        ),
        (
            '{"containerDefinitions": [{"name": "a", "image": "x",\n'
            ' "healthCheck": {"command": ["true"], "timeout": 90}}]}',
            "taskdef.json:2:50: containerDefinitions[0].healthCheck.timeout: expected a number <= 60, got 90",
        ),
        (
            '{"networkMode": "nat", "containerDefinitions": [{"name": "a", "image": "x"}]}',
            "taskdef.json:1:17: networkMode: expected one of bridge, awsvpc, host, none, got 'nat'",
        ),
        (
            '{"memory": "lots", "containerDefinitions": [{"name": "a", "image": "x"}]}',
            "taskdef.json:1:12: memory: expected a number of MiB or '1 GB', got 'lots'",
        ),
    ],
)
def test_errors_name_file_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load(write(tmp_path, "taskdef.json", text), "taskdef.json")
    assert str(caught.value).startswith(message)
