"""Fuzzing the YAML loaders: whatever the text, the only exception is ConfigError (exit 2, one line).

Three generators per loader: documents built from the schemas' own key names (to get past
the top level), arbitrary text, and random edits of a valid file. Bounded (200 examples
each, no database) so the whole module runs in seconds.
"""

from __future__ import annotations

import importlib.util
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runner.codebuild import buildspec_loader
from runner.core import config_loader, secrets
from runner.errors import ConfigError

BOUNDED = settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KEYS = [
    *("version", "phases", "install", "pre_build", "build", "post_build", "commands", "finally"),
    *("run-as", "on-failure", "runtime-versions", "env", "shell", "variables", "parameter-store"),
    *("secrets-manager", "exported-variables", "git-credential-helper", "proxy", "batch", "reports"),
    *("artifacts", "files", "name", "discard-paths", "base-directory", "exclude-paths", "cache"),
    *("enable-symlinks", "secondary-artifacts", "paths", "key", "fallback-keys", "action", "file-format"),
    *("app", "services", "environments", "path", "port", "test_port", "host", "strategy", "canary"),
    *("linear", "percent", "wait", "every", "alarms", "metric", "threshold", "window", "min_requests"),
    *("hooks", "command", "on", "health", "route", "image", "dockerfile", "context", "build_args"),
    *("time_scale", "hook_timeout", "health_timeout", "bake", "termination_wait", "approval", "test"),
    *("approval_timeout", "execution_mode", "build_parallelism", "buildspec", "inputs", "<<"),
    *("Resources", "TargetService", "Type", "Properties", "LoadBalancerInfo", "ContainerName"),
    *("ContainerPort", "Hooks", "BeforeInstall", "AfterInstall", "AfterAllowTestTraffic"),
]
WORDS = [
    *("0.2", "0.0", "0.1", "AllAtOnce", "Canary10Percent5Minutes", "RETRY-2-x", "RETRY-", "yes"),
    *("bash", "30s", "0", "-1", "1" * 30, "9" * 4400, "staging", "web", "/x", "..", "1.5h"),
    *("CODEBUILD_X", "AWS_X"),
    *("AWS::ECS::Service", "a.b", "arn:aws:secretsmanager:r:1:secret:n:k", "\t", "\ud800"),
]
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(WORDS),
)
DATA = st.recursive(
    SCALARS,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(KEYS), st.text(max_size=6)), inner, max_size=5),
    ),
    max_leaves=40,
)
SEEDS = {
    "buildspec": (
        "version: 0.2\nenv:\n  variables: {A: '1'}\n  parameter-store: {P: /p}\n"
        "phases:\n  install:\n    runtime-versions: {python: 3.11}\n    commands: [make]\n"
        "  build:\n    on-failure: CONTINUE\n    commands:\n      - make\n    finally: [echo]\n"
        "reports:\n  r:\n    files: ['**/*.xml']\nartifacts:\n  files: ['**/*']\n  base-directory: out\n"
        "cache:\n  paths: [x]\n"
    ),
    "pipeline": (
        "app: shop\nservices:\n  web:\n    path: web\n    hooks: {smoke: ./smoke}\n    port: 8000\n"
        "environments:\n  - name: staging\n    port: 8081\n    test_port: 9081\n"
        "    strategy: {canary: {percent: 10, wait: 5s}}\n"
        "    alarms: [{name: a, metric: error_rate, window: 5s}]\n"
    ),
    "secrets": "parameter-store:\n  /p: v\nsecrets-manager:\n  s: {u: a, p: b}\n  t: text\n",
    "appspec": (
        "version: 0.0\nResources:\n  - TargetService:\n      Type: AWS::ECS::Service\n"
        "      Properties:\n        LoadBalancerInfo: {ContainerName: web, ContainerPort: 8000}\n"
        "Hooks:\n  - BeforeInstall: prepare\n  - AfterAllowTestTraffic: smoke\n"
    ),
}
FILE_NAMES = {
    "buildspec": r"buildspec\.yml",
    "pipeline": r"pipeline\.yml",
    "secrets": r"secrets\.yml",
    "appspec": r"appspec\.yml",
}
_scratch = tempfile.TemporaryDirectory(prefix="runner-fuzz-")


def _appspec(text: str) -> Any:
    from runner.codedeploy import appspec  # type: ignore[import-not-found,unused-ignore]

    path = Path(_scratch.name) / "appspec.yml"
    path.write_text(text, errors="surrogatepass")
    return appspec.load(path, "appspec.yml")


LOADERS: dict[str, Callable[[str], Any]] = {
    "buildspec": buildspec_loader.loads,
    "pipeline": lambda text: config_loader.loads(text, Path("pipeline.yml")),
    "secrets": secrets.loads_secrets,
    "appspec": _appspec,
}
KINDS = [
    pytest.param(
        kind,
        marks=pytest.mark.skipif(
            kind == "appspec" and importlib.util.find_spec("runner.codedeploy") is None,
            reason="runner/deploy (appspec loader) is not there yet",
        ),
    )
    for kind in LOADERS
]


def only_config_errors(kind: str, text: str) -> None:
    try:
        LOADERS[kind](text)
    except ConfigError as e:  # one line that starts with file:line:column
        assert re.fullmatch(rf"{FILE_NAMES[kind]}:\d+:\d+: [^\n]+", str(e)), str(e)


@pytest.mark.parametrize("kind", KINDS)
@BOUNDED
@given(data=DATA, flow=st.booleans())
def test_documents_made_of_schema_keys(kind: str, data: Any, flow: bool) -> None:
    only_config_errors(kind, yaml.safe_dump(data, default_flow_style=flow, allow_unicode=True))


@pytest.mark.parametrize("kind", KINDS)
@BOUNDED
@given(text=st.text(max_size=300))
def test_arbitrary_text(kind: str, text: str) -> None:
    only_config_errors(kind, text)


@pytest.mark.parametrize("kind", KINDS)
@BOUNDED
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 10_000), st.integers(0, 8), st.text(max_size=6)), min_size=1, max_size=4
    )
)
def test_random_edits_of_a_valid_file(kind: str, edits: list[tuple[int, int, str]]) -> None:
    text = SEEDS[kind]
    for at, cut, insert in edits:
        at %= len(text) + 1
        text = text[:at] + insert + text[at + cut :]
    only_config_errors(kind, text)


def scalar_spans(text: str) -> list[tuple[int, int]]:
    """Where the scalars of a valid file are, to swap values while keeping the structure."""
    stack, spans = [yaml.compose(text)], []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.ScalarNode):
            spans.append((node.start_mark.index, node.end_mark.index))
        elif isinstance(node, yaml.MappingNode):
            stack.extend(child for pair in node.value for child in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return sorted(spans)


REPLACEMENTS = st.one_of(
    st.sampled_from(WORDS),
    st.integers().map(str),
    st.text(max_size=8),
    st.sampled_from(["[]", "{}", "[a, [b]]", "{a: b}", "*x", "&x a", "!!binary a", "'"]),
)


@pytest.mark.parametrize("kind", KINDS)
@BOUNDED
@given(swaps=st.lists(st.tuples(st.integers(0, 1000), REPLACEMENTS), min_size=1, max_size=3))
def test_values_swapped_in_a_valid_file(kind: str, swaps: list[tuple[int, str]]) -> None:
    text = SEEDS[kind]
    spans = scalar_spans(text)
    for index, value in sorted(((i % len(spans), v) for i, v in swaps), reverse=True):
        start, end = spans[index]
        text = text[:start] + value + text[end:]
    only_config_errors(kind, text)


@pytest.mark.parametrize("kind", KINDS)
def test_seeds_are_valid(kind: str) -> None:
    LOADERS[kind](SEEDS[kind])  # the edits start from a file that loads
