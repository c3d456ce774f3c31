"""What the local AWS (moto) cannot do, said where it matters: `runner validate`, the build log.

Each entry: a pattern over one buildspec command, and what happens with `--aws local`
plus the workaround or the plain "not supported". README.md "Without AWS" has the same list.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

MISSING_CREDENTIALS = "Unable to locate credentials"
HINT = (
    "Hint: the AWS CLI found no credentials. To run AWS CLI calls against a local AWS (moto) "
    "instead: runner build --aws local (or aws: local in pipeline.yml, RUNNER_AWS=local)"
)


@dataclass(frozen=True, slots=True)
class Limit:
    pattern: re.Pattern[str]
    message: str


LIMITS = (
    Limit(
        re.compile(r"\bsam\s+deploy\b.*--resolve-s3"),
        "sam deploy --resolve-s3 is not supported by the local AWS (no stack outputs through change "
        "sets): create a bucket first (aws s3 mb s3://NAME) and pass --s3-bucket NAME",
    ),
    Limit(
        re.compile(r"\bsam\s+deploy\b"),
        "the local AWS accepts a SAM stack but does not expand the SAM transform: AWS::Serverless::* "
        "resources are not created (write AWS::Lambda::Function and friends to have them locally)",
    ),
    Limit(
        re.compile(r"\b(cloudformation|sam)\s+deploy\b.*--no-fail-on-empty-changeset"),
        "redeploying an unchanged template fails with the local AWS (exit 255) where AWS exits 0 "
        "with --no-fail-on-empty-changeset: run `runner aws reset` between such builds",
    ),
    Limit(
        re.compile(r"\bcloudformation\s+describe-stacks\b.*Outputs"),
        "stack outputs of a stack deployed through a change set are empty with the local AWS: not supported",
    ),
    Limit(
        re.compile(r"\becr\s+(describe-images|batch-get-image|list-images|describe-image-scan-findings)\b"),
        "the local AWS's ECR API does not see images pushed to the local registry: not supported "
        "(read the digest from `docker push` or `docker inspect`)",
    ),
    Limit(
        re.compile(r"\becs\s+wait\s+services-stable\b"),
        "the local AWS reports one running task per ECS service: the wait returns for services of "
        "desired count 1 only, others wait until the CLI gives up (wrap it in `timeout`)",
    ),
    Limit(
        re.compile(r"\blambda\s+invoke\b"),
        "aws lambda invoke runs the function in a container of an AWS image that cannot be pulled "
        "here: not supported by the local AWS",
    ),
    Limit(
        re.compile(r"\bcodeartifact\s+(login|get-authorization-token)\b"),
        "CodeArtifact repositories do not exist locally: not supported (install from the public "
        "package registries instead)",
    ),
)


def warnings(buildspec: Path, display_name: str | None = None) -> tuple[str, ...]:
    """`FILE:LINE:COL: phases.P.commands[i]: with --aws local: …` for every command a limit matches."""
    name = display_name or str(buildspec)
    found = []
    for key_path, line, column, command in _commands(buildspec):
        for limit in LIMITS:
            if limit.pattern.search(command):
                found.append(f"{name}:{line}:{column}: {key_path}: with --aws local: {limit.message}")
    return tuple(found)


def _commands(buildspec: Path) -> Iterator[tuple[str, int, int, str]]:
    """Every command scalar of the phases, with its position (a buildspec already validated)."""
    try:
        root = yaml.compose(buildspec.read_text())
    except (OSError, yaml.YAMLError):
        return
    for phase_name, phase in _items(root, "phases"):
        for section in ("commands", "finally"):
            items = _value(phase, section)
            if not isinstance(items, yaml.SequenceNode):
                continue
            for index, node in enumerate(items.value):
                if isinstance(node, yaml.ScalarNode):
                    at = node.start_mark
                    yield f"phases.{phase_name}.{section}[{index}]", at.line + 1, at.column + 1, node.value


def _items(node: yaml.Node | None, key: str) -> Iterator[tuple[str, yaml.Node]]:
    value = _value(node, key)
    if isinstance(value, yaml.MappingNode):
        for k, v in value.value:
            yield str(k.value), v


def _value(node: yaml.Node | None, key: str) -> yaml.Node | None:
    if not isinstance(node, yaml.MappingNode):
        return None
    return next((v for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value == key), None)
