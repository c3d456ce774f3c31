"""A task definition's `secrets[].valueFrom`, resolved from the project's secrets file (never AWS).

ECS accepts an SSM parameter name or ARN, or a Secrets Manager ARN with an optional
`:json-key:version-stage:version-id` tail
(https://docs.aws.amazon.com/AmazonECS/latest/developerguide/secrets-envvar-secrets-manager.html).
A file written by hand rarely holds the ARN, so each reference is looked up by its full ARN,
then by its name, then by the name without the `-AbCdEf` suffix AWS appends to secret ARNs.
"""

from __future__ import annotations

import json
import re

from runner.codedeploy.taskdef import Secret, TaskDef
from runner.core.secrets import SecretsFile
from runner.errors import ConfigError

_SUFFIX = re.compile(r"-[A-Za-z0-9]{6}$")  # Secrets Manager's random ARN suffix
_SM_REFERENCE = "/aws/reference/secretsmanager/"  # an SSM name that points at Secrets Manager


def resolve(task: TaskDef, secrets: SecretsFile) -> dict[str, dict[str, str]]:
    """Container → variable → value, or ConfigError at the first reference the file lacks."""
    return {
        container.name: {
            secret.name: value(secret, secrets, f"containerDefinitions[{index}].secrets.{secret.name}")
            for secret in container.secrets
        }
        for index, container in enumerate(task.containers)
    }


def value(secret: Secret, secrets: SecretsFile, key_path: str) -> str:
    reference = secret.value_from
    if reference.startswith(_SM_REFERENCE):
        reference = reference[len(_SM_REFERENCE) :]
        return _secrets_manager("", [reference], secrets, secret, key_path)
    if reference.startswith("arn:") and ":secretsmanager:" in reference:
        parts = reference.split(":")
        name = parts[6] if len(parts) > 6 else ""
        candidates = [":".join(parts[:7]), name, _SUFFIX.sub("", name)]
        json_key = parts[7] if len(parts) > 7 else ""
        return _secrets_manager(json_key, candidates, secrets, secret, key_path)
    candidates = [reference]
    if reference.startswith("arn:"):  # arn:aws:ssm:region:acct:parameter/name (a /name loses its slash)
        name = reference.split(":parameter", 1)[-1]
        candidates += [name, name.lstrip("/")]
    for candidate in _unique(candidates):
        if candidate in secrets.parameters:
            return secrets.parameters[candidate]
    raise _missing(secret, key_path, "parameter-store", candidates, secrets)


def _secrets_manager(
    json_key: str, candidates: list[str], secrets: SecretsFile, secret: Secret, key: str
) -> str:
    found = next((c for c in _unique(candidates) if c in secrets.secrets), None)
    if found is None:
        raise _missing(secret, key, "secrets-manager", candidates, secrets)
    document = secrets.secrets[found]
    if not json_key:
        return json.dumps(document, separators=(",", ":")) if isinstance(document, dict) else str(document)
    if not isinstance(document, dict):
        try:
            document = json.loads(str(document))
        except ValueError:
            document = None
    if not isinstance(document, dict) or json_key not in document:
        raise ConfigError(
            secret.where, key, f"secret {found!r} in {secrets.name} has no JSON key {json_key!r}"
        )
    return str(document[json_key])


def _unique(items: list[str]) -> list[str]:
    return [item for index, item in enumerate(items) if item and item not in items[:index]]


def _missing(
    secret: Secret, key: str, section: str, candidates: list[str], secrets: SecretsFile
) -> ConfigError:
    tried = ", ".join(repr(c) for c in _unique(candidates))
    return ConfigError(
        secret.where, key, f"{secret.value_from!r} is not in {secrets.name} (tried {section}: {tried})"
    )
