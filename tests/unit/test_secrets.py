"""Parameter Store / Secrets Manager references resolved from a local file, and masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from runner.codebuild import buildspec_loader
from runner.core.secrets import MASK, Masker, load_secrets, loads_secrets, resolve
from runner.errors import ConfigError

ARN = "arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/token-AbCdEf"
SECRETS = f"""
parameter-store:
  /app/db/password: pw-123
  /app/number: 0042
secrets-manager:
  prod/db:
    username: admin
    password: hunter2
  prod/plain: just-text
  prod/json-text: '{{"api": "k-1", "n": 5}}'
  "{ARN}": '{{"token": "tok-9"}}'
"""


def resolved(env: str, secrets: str = SECRETS) -> dict[str, str]:
    spec = buildspec_loader.loads("version: 0.2\nenv:\n" + env + "phases:\n  build:\n    commands: [x]\n")
    return resolve(spec, loads_secrets(secrets), spec.positions)


def error_of(env: str, secrets: str = SECRETS) -> str:
    with pytest.raises(ConfigError) as info:
        resolved(env, secrets)
    return str(info.value)


def test_parameter_store_values_keep_their_text() -> None:
    env = "  parameter-store:\n    DB: /app/db/password\n    N: /app/number\n"
    assert resolved(env) == {"DB": "pw-123", "N": "0042"}


@pytest.mark.parametrize(
    ("reference", "value"),
    [
        ("prod/db:password", "hunter2"),
        ("prod/db:username:AWSCURRENT", "admin"),  # version-stage: one version locally
        ("prod/db:password::v-123", "hunter2"),  # version-id likewise
        ("prod/db", '{"username":"admin","password":"hunter2"}'),  # no json-key: the whole secret
        ("prod/plain", "just-text"),
        ("prod/json-text:api", "k-1"),  # a string secret holding JSON
        ("prod/json-text:n", "5"),
        (ARN, '{"token": "tok-9"}'),
        (f"{ARN}:token", "tok-9"),
        (f"{ARN}:token:AWSPREVIOUS", "tok-9"),
    ],
)
def test_secrets_manager_references(reference: str, value: str) -> None:
    assert resolved(f'  secrets-manager:\n    V: "{reference}"\n') == {"V": value}


def test_missing_parameter_names_the_buildspec_position() -> None:
    assert error_of("  parameter-store:\n    DB: /nope\n") == (
        "buildspec.yml:4:9: env.parameter-store.DB: parameter '/nope' is not in secrets.yml"
    )


def test_missing_secret_and_json_key() -> None:
    assert error_of("  secrets-manager:\n    S: other/secret:key\n") == (
        "buildspec.yml:4:8: env.secrets-manager.S: secret 'other/secret' is not in secrets.yml"
    )
    assert error_of("  secrets-manager:\n    S: prod/db:nokey\n") == (
        "buildspec.yml:4:8: env.secrets-manager.S: secret 'prod/db' has no JSON key 'nokey'"
    )
    assert "has no JSON key 'k'" in error_of("  secrets-manager:\n    S: prod/plain:k\n")


def test_no_secrets_file(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RUNNER_SECRETS", raising=False)
    spec = buildspec_loader.loads(
        "version: 0.2\nenv:\n  parameter-store:\n    DB: /x\nphases: {build: {commands: [x]}}\n"
    )
    with pytest.raises(ConfigError, match=r"parameter '/x' is not in \(no secrets file\)$"):
        resolve(spec, load_secrets(None), spec.positions)


def test_load_secrets_from_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.yml"
    path.write_text("parameter-store:\n  /a: b\n")
    assert load_secrets(path).parameters == {"/a": "b"}
    monkeypatch.setenv("RUNNER_SECRETS", str(path))
    assert load_secrets(None).parameters == {"/a": "b"}
    monkeypatch.delenv("RUNNER_SECRETS")
    assert load_secrets(None).parameters == {}


def test_malformed_secrets_file_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match=r"^s\.yml:2:7: parameter-store\./a: expected a string, got a list$"
    ):
        loads_secrets("parameter-store:\n  /a: [1]\n", "s.yml")
    with pytest.raises(ConfigError, match=r"^s\.yml:1:1: other: unknown key"):
        loads_secrets("other: 1\n", "s.yml")


def test_masker_replaces_every_occurrence_longest_first() -> None:
    mask = Masker(["hunter2", "hunter2-long", "pw"])
    assert mask("a hunter2 b hunter2-long c") == f"a {MASK} b {MASK} c"
    assert mask("pw is too short to mask") == "pw is too short to mask"
    assert mask.too_short == ["pw"]
    assert Masker([])("nothing") == "nothing"


def test_masker_multi_line_secret_masks_each_line() -> None:
    key = "-----BEGIN KEY-----\nAAAA1111\nBBBB2222\n-----END KEY-----"
    mask = Masker([key])
    assert mask(key) == MASK
    # A log is split in lines: each line of the secret must be masked on its own.
    assert [mask(line) for line in key.splitlines()] == [MASK] * 4
    assert mask("prefix AAAA1111 suffix") == f"prefix {MASK} suffix"


def test_masker_special_characters_are_literal() -> None:
    mask = Masker(["a.b*c(d)"])
    assert mask("x a.b*c(d) y axbbc(d)") == f"x {MASK} y axbbc(d)"


def test_masker_deep_masks_json_like_values() -> None:
    mask = Masker(["s3cr3t"])
    value = {"a": ["x s3cr3t", {"b": "s3cr3t"}], "n": 1, "t": ("s3cr3t",), "none": None}
    assert mask.deep(value) == {"a": [f"x {MASK}", {"b": MASK}], "n": 1, "t": [MASK], "none": None}
