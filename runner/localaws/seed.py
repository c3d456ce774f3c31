"""The project's state put into the local AWS: the secrets file as SSM parameters and secrets.

So `aws ssm get-parameter --with-decryption --name N` in a build returns what
`env: parameter-store` would give, and `aws secretsmanager get-secret-value` the same
secret. Done through moto's endpoint on 127.0.0.1 with boto3 (a dependency of moto),
and skipped when the same content was already put into the same process.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from runner.core.secrets import SecretsFile
from runner.errors import RunnerError
from runner.localaws.process import LocalAws, state_dir


def seed(home: Path, aws: LocalAws, region: str, secrets: SecretsFile) -> None:
    if not secrets.parameters and not secrets.secrets:
        return
    marker = state_dir(home) / "seeded"
    digest = _digest(aws, region, secrets)
    if marker.is_file() and marker.read_text() == digest:
        return
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        _put(aws, region, secrets)
    except (BotoCoreError, ClientError) as e:
        raise RunnerError(f"--aws local: cannot put {secrets.name} into the local AWS: {e}") from e
    marker.write_text(digest)


def _put(aws: LocalAws, region: str, secrets: SecretsFile) -> None:
    ssm, manager = _client(aws, "ssm", region), _client(aws, "secretsmanager", region)
    for name, value in secrets.parameters.items():
        ssm.put_parameter(Name=name, Value=value, Type="SecureString", Overwrite=True)
    for name, secret in secrets.secrets.items():
        _put_secret(manager, name, secret_text(secret))


def secret_text(secret: Any) -> str:
    # The same text `env: secrets-manager` gives for a whole secret (runner.secrets).
    return json.dumps(secret, separators=(",", ":")) if isinstance(secret, dict) else str(secret)


def _put_secret(client: Any, name: str, text: str) -> None:
    try:
        client.create_secret(Name=name, SecretString=text)
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=text)


def _client(aws: LocalAws, service: str, region: str) -> Any:
    import boto3  # only for --aws local: its import costs a few tenths of a second

    return boto3.client(
        service,
        endpoint_url=aws.control_url,
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )


def _digest(aws: LocalAws, region: str, secrets: SecretsFile) -> str:
    content = json.dumps(
        [aws.pid, aws.started, region, dict(secrets.parameters), dict(secrets.secrets)], sort_keys=True
    )
    return hashlib.sha256(content.encode()).hexdigest()
