"""`--aws local` as a user runs it: real buildspec shapes, the build image's AWS CLI, a real moto.

Every build is the `runner` command line in a subprocess, in a project directory, so the
project's local AWS is started on demand by the first build and shared by the others
(one process per project), as it is for a user. The AWS CLI is Debian's (2.9.19), from the
standard image when it exists, else from a small image built here.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import SESSION_LABEL
from tests.integration.deploy.helpers import free_ports, get

pytestmark = [pytest.mark.docker, pytest.mark.slow]

STANDARD = "runner/standard:bookworm"
FALLBACK = "runner-test/awscli:bookworm"
APP = Path(__file__).parent / "deploy" / "app.py"


def runner(project: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in ("RUNNER_HOME", "RUNNER_AWS")}
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        cwd=project,
        env=environ,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.fixture(scope="module")
def aws_image() -> str:
    """The standard image (it has the AWS CLI and the Docker CLI), else a small one built here."""
    if subprocess.run(["docker", "image", "inspect", STANDARD], capture_output=True).returncode == 0:
        return STANDARD
    dockerfile = (
        "FROM runner/build:bookworm\n"
        f"LABEL {SESSION_LABEL}\n"
        "RUN apt-get update && apt-get install -y --no-install-recommends awscli docker.io zip "
        "&& rm -rf /var/lib/apt/lists/*\n"
    )
    subprocess.run(["docker", "build", "-q", "-t", FALLBACK, "-"], input=dockerfile, text=True, check=True)
    return FALLBACK


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A project directory (its own .runner); its local AWS is stopped at the end."""
    root = tmp_path_factory.mktemp("awsproject").resolve()
    (root / ".git").mkdir()  # the project root, as a repository's would be
    (root / "secrets.yml").write_text(
        textwrap.dedent(
            """\
            parameter-store:
              /app/db/password: pw-from-ssm
            secrets-manager:
              prod/db:
                username: admin
                password: secret-from-sm
            """
        )
    )
    try:
        yield root
    finally:
        stopped = runner(root, "aws", "stop")
        assert stopped.returncode == 0, stopped.stderr


def build(
    project: Path, image: str, name: str, buildspec: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    source = project / name
    source.mkdir(exist_ok=True)
    (source / "buildspec.yml").write_text(textwrap.dedent(buildspec))
    return runner(project, "build", "-s", name, "-i", image, "--aws", "local", *extra)


def test_s3_ssm_secrets_and_sts(project: Path, aws_image: str) -> None:
    done = build(
        project,
        aws_image,
        "basics",
        """\
        version: 0.2
        env:
          parameter-store:
            DB_PASSWORD: /app/db/password
        phases:
          build:
            commands:
              - aws sts get-caller-identity --query Account --output text
              - aws s3 mb s3://roundtrip-bucket
              - echo payload-123 > up.txt && aws s3 cp up.txt s3://roundtrip-bucket/dir/up.txt
              - aws s3 cp s3://roundtrip-bucket/dir/up.txt down.txt && cat down.txt
              - test "$(aws ssm get-parameter --name /app/db/password --with-decryption
                --query Parameter.Value --output text)" = "$DB_PASSWORD" && echo ssm-matches
              - aws secretsmanager get-secret-value --secret-id prod/db --query SecretString --output text
                | python3 -c 'import json,sys; print("keys", ",".join(sorted(json.load(sys.stdin))))'
        """,
        "--secrets",
        "secrets.yml",
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert "Local AWS (moto, in memory): account 000000000000, region us-east-1" in out
    lines = out.splitlines()
    assert "000000000000" in lines
    assert "payload-123" in lines
    assert "ssm-matches" in lines
    assert "keys password,username" in lines
    assert "pw-from-ssm" not in out and "secret-from-sm" not in out  # masked, as every secret


def test_a_missing_credentials_failure_names_aws_local(project: Path, aws_image: str) -> None:
    source = project / "nocreds"
    source.mkdir()
    (source / "buildspec.yml").write_text(
        "version: 0.2\nphases:\n  build:\n    commands:\n      - aws s3 ls\n"
    )
    environ = ["--env", "AWS_EC2_METADATA_DISABLED=true"]  # no instance metadata to ask here
    done = runner(project, "build", "-s", "nocreds", "-i", aws_image, *environ)
    assert done.returncode == 1
    assert "Unable to locate credentials" in done.stdout
    hints = [line for line in done.stdout.splitlines() if "Hint:" in line]
    assert len(hints) == 1 and "runner build --aws local" in hints[0]


def test_cloudformation_package_and_first_deploy(project: Path, aws_image: str) -> None:
    source = project / "stack"
    (source / "src").mkdir(parents=True)
    (source / "src" / "app.py").write_text("def handler(event, context):\n    return {'ok': True}\n")
    (source / "template.yml").write_text(
        textwrap.dedent(
            """\
            AWSTemplateFormatVersion: "2010-09-09"
            Resources:
              Role:
                Type: AWS::IAM::Role
                Properties:
                  AssumeRolePolicyDocument:
                    Version: "2012-10-17"
                    Statement:
                      - Effect: Allow
                        Principal: {Service: lambda.amazonaws.com}
                        Action: sts:AssumeRole
              Api:
                Type: AWS::Lambda::Function
                Properties:
                  FunctionName: stack-api
                  Code: src/
                  Handler: app.handler
                  Runtime: python3.11
                  Role: !GetAtt Role.Arn
            """
        )
    )
    done = build(
        project,
        aws_image,
        "stack",
        """\
        version: 0.2
        phases:
          build:
            commands:
              - aws s3 mb s3://cfn-packages
              - aws cloudformation package --template-file template.yml --s3-bucket cfn-packages
                --output-template-file packaged.yml
              - grep -q 'S3Bucket. cfn-packages' packaged.yml
              - aws cloudformation deploy --template-file packaged.yml --stack-name app-stack
                --capabilities CAPABILITY_IAM
              - aws cloudformation describe-stacks --stack-name app-stack --query 'Stacks[0].StackStatus'
                --output text
              - aws lambda get-function --function-name stack-api --query Configuration.Runtime --output text
        """,
    )
    lines = done.stdout.splitlines()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "CREATE_COMPLETE" in lines
    assert "python3.11" in lines


def test_lambda_update_function_code(project: Path, aws_image: str) -> None:
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
    )
    source = project / "function"
    source.mkdir()
    (source / "policy.json").write_text(policy)
    (source / "digest.py").write_text(
        "import base64, hashlib\n"
        "print('local', base64.b64encode(hashlib.sha256(open('fn.zip', 'rb').read()).digest()).decode())\n"
    )
    done = build(
        project,
        aws_image,
        "function",
        r"""
        version: 0.2
        phases:
          install:
            commands:
              - printf 'def handler(e, c):\n    return 1\n' > app.py && zip -q fn.zip app.py
              - aws iam create-role --role-name fn-role --assume-role-policy-document file://policy.json
                --query Role.Arn --output text > role.txt
              - aws lambda create-function --function-name fn --runtime python3.11 --handler app.handler
                --role "$(cat role.txt)" --zip-file fileb://fn.zip --query FunctionName --output text
          build:
            commands:
              - printf 'def handler(e, c):\n    return 2\n' > app.py && rm fn.zip && zip -q fn.zip app.py
              - echo "aws $(aws lambda update-function-code --function-name fn --zip-file fileb://fn.zip
                --query CodeSha256 --output text)"
              - python3 digest.py
        """,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [remote] = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("aws ")]
    [local] = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("local ")]
    assert remote == local


ECS_BUILDSPEC = """\
version: 0.2
phases:
  pre_build:
    commands:
      - ACCOUNT=$(aws sts get-caller-identity --query Account --output text)
      - REGISTRY=$ACCOUNT.dkr.ecr.$AWS_DEFAULT_REGION.amazonaws.com
      - aws ecr create-repository --repository-name web --query repository.repositoryUri --output text
      - aws ecr get-login-password --region $AWS_DEFAULT_REGION
        | docker login --username AWS --password-stdin $REGISTRY
  build:
    commands:
      - docker build -t $REGISTRY/web:$CODEBUILD_BUILD_NUMBER .
      - docker push $REGISTRY/web:$CODEBUILD_BUILD_NUMBER
  post_build:
    commands:
      - DIGEST=$(docker inspect --format '{{index .RepoDigests 0}}' $REGISTRY/web:$CODEBUILD_BUILD_NUMBER)
      - printf '[{"name":"web","imageUri":"%s"}]' "$DIGEST" > imagedefinitions.json
artifacts:
  files: [imagedefinitions.json]
"""

PIPELINE = """\
app: {app}
aws: local
time_scale: 600
services:
  web:
    path: web
    health_timeout: 10s
environments:
  - name: staging
    port: {port}
    test_port: {test_port}
    termination_wait: 0s
"""


def test_ecr_login_push_then_deploy_by_digest(project: Path, aws_image: str) -> None:
    app = f"ecr{uuid.uuid4().hex[:6]}"
    port, test_port = free_ports(2)
    (project / "pipeline.yml").write_text(PIPELINE.format(app=app, port=port, test_port=test_port))
    web = project / "web"
    web.mkdir()
    shutil.copy(APP, web / "app.py")
    (web / "Dockerfile").write_text(
        f"FROM runner/python:bookworm\nLABEL {SESSION_LABEL}\nCOPY app.py /app/app.py\n"
        'ENV APP_VERSION=from-ecr\nCMD ["python3", "/app/app.py"]\n'
    )
    (web / "buildspec.yml").write_text(ECS_BUILDSPEC)
    try:
        built = runner(project, "build", "-s", "web", "-i", aws_image, "-d", "--aws", "local", "-a", "out")
        assert built.returncode == 0, built.stdout + built.stderr
        [definition] = json.loads((project / "out" / "artifacts" / "imagedefinitions.json").read_text())
        uri = definition["imageUri"]
        assert uri.startswith("000000000000.dkr.ecr.us-east-1.amazonaws.com/web@sha256:")
        registry = json.loads(runner(project, "aws", "status", "--json").stdout)["registry"]
        manifest = urllib.request.Request(
            f"http://{registry}/v2/web/manifests/{uri.rpartition('@')[2]}",
            headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
        )
        with urllib.request.urlopen(manifest, timeout=10) as response:  # the local registry holds it
            assert response.status == 200
        deployed = runner(
            project, "deploy", "staging", "web", "out/artifacts/imagedefinitions.json", "--no-wait"
        )
        assert deployed.returncode == 0, deployed.stdout + deployed.stderr
        assert get(port, "/web/version")[1]["version"] == "from-ecr"
    finally:
        subprocess.run(
            ["docker", "compose", "-p", f"{app}-staging", "down", "-v", "-t", "1"], capture_output=True
        )
        (project / "pipeline.yml").unlink()


def test_status_reset_and_stop(project: Path, aws_image: str) -> None:
    status = runner(project, "aws", "status", "--json")
    state = json.loads(status.stdout)
    assert state["running"] is True and state["account"] == "000000000000"
    host = state["proxy"].rpartition(":")[0]
    assert host != "0.0.0.0" and not host.startswith("127.")  # the bridge gateway, never all interfaces
    assert runner(project, "aws", "reset").returncode == 0
    listed = build(
        project,
        aws_image,
        "after-reset",
        'version: 0.2\nphases:\n  build:\n    commands:\n      - echo "buckets:$(aws s3 ls)"\n',
    )
    assert "buckets:" in listed.stdout.splitlines()  # roundtrip-bucket and the others are gone
    assert runner(project, "aws", "stop").returncode == 0
    assert json.loads(runner(project, "aws", "status", "--json").stdout)["running"] is False
    assert "# runner aws local" not in Path("/etc/hosts").read_text()


def test_a_service_build_takes_aws_and_account_from_pipeline_yml(tmp_path: Path, aws_image: str) -> None:
    root = tmp_path / "svc"
    (root / "web").mkdir(parents=True)
    (root / "pipeline.yml").write_text(
        f"app: svc{uuid.uuid4().hex[:6]}\naws: local\naccount: '123456789012'\nbuild_image: {aws_image}\n"
        "services:\n  web: {path: web}\nenvironments:\n  - {name: staging, port: 18080, test_port: 18081}\n"
    )
    (root / "web" / "Dockerfile").write_text(
        f'FROM runner/python:bookworm\nLABEL {SESSION_LABEL}\nCMD ["true"]\n'
    )
    (root / "web" / "buildspec.yml").write_text(
        "version: 0.2\nphases:\n  build:\n    commands:\n"
        "      - aws sts get-caller-identity --query Account --output text\n"
    )
    for args in (
        ["init", "-q"],
        ["add", "."],
        ["-c", "user.name=t", "-c", "user.email=t@e", "commit", "-qm", "v1"],
    ):
        subprocess.run(["git", *args], cwd=root, check=True, capture_output=True)
    try:
        built = runner(root, "build", "web")
        assert built.returncode == 0, built.stdout + built.stderr
        assert "123456789012" in built.stdout.splitlines()
    finally:
        assert runner(root, "aws", "stop").returncode == 0
