"""Parameter Store / Secrets Manager values from a local secrets file, and their masking.

Never AWS (CODEBUILD.md decision 8). The secrets file is YAML:

    parameter-store:
      /myapp/db/password: s3cr3t
    secrets-manager:
      prod/db:                       # a mapping is the JSON of the secret
        username: admin
        password: hunter2
      prod/token: plain-text-secret  # a string is the secret text

A buildspec reference `secret-id:json-key:version-stage:version-id` takes json-key
from the secret; stages and versions are accepted and ignored (one version locally).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runner.core.schema import Key, MapOf, Obj, OneOf, Str, validate
from runner.core.yamlnodes import Document, load_file, load_text
from runner.errors import ConfigError, Position

if TYPE_CHECKING:  # a buildspec names the secrets it wants; this module only reads the file
    from runner.codebuild.buildspec import Buildspec

MASK = "***"
MIN_MASKED_LENGTH = 3
SECRETS_ENV = "RUNNER_SECRETS"

_SECRET_VALUE = OneOf(Str(), MapOf(Str()))
SCHEMA = Obj(
    (
        Key("parameter-store", MapOf(Str()), default={}),
        Key("secrets-manager", MapOf(_SECRET_VALUE), default={}),
    )
)


@dataclass(frozen=True, slots=True)
class SecretsFile:
    name: str
    parameters: Mapping[str, str]
    secrets: Mapping[str, Any]


def secrets_path(path: Path | None) -> Path | None:
    """The secrets file a build reads: the one it was given, else $RUNNER_SECRETS."""
    if path is None:
        configured = os.environ.get(SECRETS_ENV)
        path = Path(configured) if configured else None
    return path


def load_secrets(path: Path | None) -> SecretsFile:
    path = secrets_path(path)
    if path is None:
        return SecretsFile("(no secrets file)", {}, {})
    return _from_document(load_file(path))


def loads_secrets(text: str, name: str = "secrets.yml") -> SecretsFile:
    return _from_document(load_text(text, name))


def _from_document(doc: Document) -> SecretsFile:
    data, _ = validate(doc, SCHEMA)
    return SecretsFile(doc.name, dict(data["parameter-store"]), dict(data["secrets-manager"]))


@dataclass(frozen=True, slots=True)
class SecretSources:
    """Where a build's secret variables come from, never their values: enough to inject
    them again later (`runner debug`) without writing a value down."""

    file: str | None
    parameter_store: Mapping[str, str]  # variable → parameter name
    secrets_manager: Mapping[str, str]  # variable → secret reference

    @staticmethod
    def of(spec: Buildspec, file: Path | None, names: set[str]) -> SecretSources:
        """The sources of `names` (the variables whose value is still the secret's)."""
        return SecretSources(
            str(file.resolve()) if file else None,
            {k: v for k, v in spec.env.parameter_store.items() if k in names},
            {k: v for k, v in spec.env.secrets_manager.items() if k in names},
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "parameter-store": dict(self.parameter_store),
            "secrets-manager": dict(self.secrets_manager),
        }

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> SecretSources:
        return SecretSources(data["file"], data["parameter-store"], data["secrets-manager"])

    def values(self) -> dict[str, str]:
        """The values again, from the secrets file as it is now; ConfigError if it changed."""
        secrets = load_secrets(Path(self.file)) if self.file else SecretsFile("(no secrets file)", {}, {})
        return resolve_sources(self.parameter_store, self.secrets_manager, secrets, {})


def resolve(spec: Buildspec, secrets: SecretsFile, positions: Mapping[str, Position]) -> dict[str, str]:
    """Values of env.parameter-store and env.secrets-manager, by variable name."""
    return resolve_sources(spec.env.parameter_store, spec.env.secrets_manager, secrets, positions)


def resolve_sources(
    parameter_store: Mapping[str, str],
    secrets_manager: Mapping[str, str],
    secrets: SecretsFile,
    positions: Mapping[str, Position],
) -> dict[str, str]:
    values: dict[str, str] = {}
    for variable, parameter in parameter_store.items():
        if parameter not in secrets.parameters:
            raise _missing(
                positions,
                f"env.parameter-store.{variable}",
                f"parameter {parameter!r} is not in {secrets.name}",
            )
        values[variable] = secrets.parameters[parameter]
    for variable, reference in secrets_manager.items():
        values[variable] = _secret_value(reference, secrets, positions, variable)
    return values


def _secret_value(
    reference: str, secrets: SecretsFile, positions: Mapping[str, Position], variable: str
) -> str:
    key_path = f"env.secrets-manager.{variable}"
    secret_id, json_key = _split_reference(reference)
    if secret_id not in secrets.secrets:
        raise _missing(positions, key_path, f"secret {secret_id!r} is not in {secrets.name}")
    secret = secrets.secrets[secret_id]
    if not json_key:
        return json.dumps(secret, separators=(",", ":")) if isinstance(secret, dict) else str(secret)
    document = secret if isinstance(secret, dict) else _json_object(str(secret))
    if document is None or json_key not in document:
        raise _missing(positions, key_path, f"secret {secret_id!r} has no JSON key {json_key!r}")
    return str(document[json_key])


def _split_reference(reference: str) -> tuple[str, str]:
    # An ARN contains colons itself: arn:aws:secretsmanager:region:acct:secret:name-AbCdEf
    if reference.startswith("arn:"):
        parts = reference.split(":")
        return ":".join(parts[:7]), (parts[7] if len(parts) > 7 else "")
    secret_id, _, rest = reference.partition(":")
    return secret_id, rest.partition(":")[0]


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def _missing(positions: Mapping[str, Position], key_path: str, message: str) -> ConfigError:
    where = positions.get(key_path) or Position("buildspec.yml", 1, 1)
    return ConfigError(where, key_path, message)


class Masker:
    """Replaces every secret value (and each line of a multi-line one) with ***."""

    def __init__(self, values: list[str]) -> None:
        pieces = {v for value in values for v in [value, *value.splitlines()]}
        kept = sorted((p for p in pieces if len(p.strip()) >= MIN_MASKED_LENGTH), key=len, reverse=True)
        self.pattern = re.compile("|".join(re.escape(p) for p in kept)) if kept else None
        self.too_short = sorted(p for p in pieces if 0 < len(p.strip()) < MIN_MASKED_LENGTH)

    def __call__(self, text: str) -> str:
        return self.pattern.sub(MASK, text) if self.pattern else text

    def deep(self, value: Any) -> Any:
        """Mask every string inside a JSON-like value."""
        if isinstance(value, str):
            return self(value)
        if isinstance(value, dict):
            return {k: self.deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.deep(v) for v in value]
        return value
