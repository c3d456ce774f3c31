"""Buildspec loading: validate a YAML document against buildspec_schema, build the model (pure)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node, SequenceNode

from runner.codebuild.buildspec import (
    DEFAULT_REPORT_FORMAT,
    Artifacts,
    ArtifactSpec,
    Buildspec,
    CacheSpec,
    Env,
    Phase,
    ReportSpec,
    parse_on_failure,
)
from runner.codebuild.buildspec_checks import PHASE_NAMES, UnknownKeys, has_key, reserved_names
from runner.codebuild.buildspec_schema import PLAINTEXT, SCHEMA
from runner.core.schema import Context, find_node, validate
from runner.core.yamlnodes import Document, is_null, load_file, load_text, mapping_items, position
from runner.errors import ConfigError, Position


def load(path: Path, display_name: str | None = None) -> Buildspec:
    return from_document(load_file(path, display_name))


def loads(text: str, name: str = "buildspec.yml") -> Buildspec:
    return from_document(load_text(text, name))


def from_document(doc: Document) -> Buildspec:
    unknown = UnknownKeys(doc)
    data, warnings = validate(doc, SCHEMA, Context(doc, on_unknown=unknown))
    notes = []
    if data["phases"] is None and data["batch"] is None:
        # Only a batch file may leave phases out: each of its tasks can name its own buildspec.
        if not isinstance(doc.root, MappingNode) or not has_key(doc.root, "phases"):
            raise ConfigError(position(doc.name, doc.root), "phases", "required key is missing")
        where = position(doc.name, find_node(doc, "phases", key=True))
        notes.append(f"{where}: phases: no phase is defined (the section is empty); no command runs")
    notes += _batch_identifier_notes(doc, data["batch"])
    phases_data = data["phases"] or {}
    phases = tuple(
        _phase(name, phases_data[name]) for name in PHASE_NAMES if phases_data.get(name) is not None
    )
    env = data["env"] or {}
    variables = dict(env.get("variables") or {})
    if data["version"] == "0.1":
        variables = _plaintext(doc, unknown) | variables
    _check_exported(doc, env)
    positions = _env_positions(doc, env)
    unknown_keys = unknown.warnings(data["version"])
    return Buildspec(
        path=doc.name,
        version=data["version"],
        phases=phases,
        env=Env(
            shell="bash" if env.get("shell", "sh") in ("bash", "/bin/bash") else "sh",
            variables=variables,
            parameter_store=dict(env.get("parameter-store") or {}),
            secrets_manager=dict(env.get("secrets-manager") or {}),
            exported_variables=tuple(env.get("exported-variables") or ()),
            git_credential_helper=bool(env.get("git-credential-helper")),
        ),
        run_as=data["run-as"],
        proxy=dict(data["proxy"] or {}),
        batch=data["batch"],
        reports=tuple(_report(name, spec) for name, spec in (data["reports"] or {}).items()),
        artifacts=_artifacts(data["artifacts"]),
        cache=_cache(data["cache"]),
        warnings=(
            *(u.warning() for u in unknown_keys),
            *reserved_names(env, positions),
            *notes,
            *warnings,
        ),
        positions=positions,
        unknown_keys=tuple(unknown_keys),
    )


def _batch_identifier_notes(doc: Document, batch: dict[str, Any] | None) -> list[str]:
    """A plain build ignores `batch` (as start-build does); what only a batch build refuses is said."""
    from runner.codebuild.batch import IDENTIFIER, IDENTIFIER_RULE  # its rule, written once

    notes = []
    for kind in ("build-list", "build-graph"):
        for index, task in enumerate((batch or {}).get(kind) or ()):
            name = task.get("identifier") or ""
            if not IDENTIFIER.fullmatch(name):
                where = position(doc.name, _task_identifier_node(doc, kind, index))
                notes.append(
                    f"{where}: batch.{kind}[{index}].identifier: {name!r} {IDENTIFIER_RULE}: "
                    "a batch build (runner build --batch) refuses it"
                )
    return notes


def _task_identifier_node(doc: Document, kind: str, index: int) -> Node:
    tasks = find_node(doc, f"batch.{kind}")
    task = tasks.value[index] if isinstance(tasks, SequenceNode) else tasks
    if not isinstance(task, MappingNode):
        return task
    return next((v for k, v in mapping_items(task) if k.value == "identifier"), task)


def _plaintext(doc: Document, unknown: UnknownKeys) -> dict[str, str]:
    """Version 0.1's `environment_variables.plaintext` (0.2 renamed it env.variables)."""
    node = find_node(doc, "environment_variables")
    if node is doc.root or is_null(node):
        return {}
    data = PLAINTEXT.read(node, "environment_variables", Context(doc, on_unknown=unknown))
    return dict(data["plaintext"] or {})


def _env_positions(doc: Document, env: dict[str, Any]) -> dict[str, Position]:
    found = {}
    for section in ("variables", "parameter-store", "secrets-manager"):
        for name in env.get(section) or {}:
            path = f"env.{section}.{name}"
            found[path] = position(doc.name, find_node(doc, path, key=section == "variables"))
    return found


def _check_exported(doc: Document, env: dict[str, Any]) -> None:
    for name in env.get("exported-variables") or ():
        if name.startswith("AWS_"):
            node = find_node(doc, "env.exported-variables")
            raise ConfigError(
                position(doc.name, node),
                "env.exported-variables",
                f"{name}: names starting with AWS_ cannot be exported",
            )


def _phase(name: str, spec: dict[str, Any]) -> Phase:
    return Phase(
        name=name,
        commands=tuple(spec.get("commands") or ()),
        finally_commands=tuple(spec.get("finally") or ()),
        run_as=spec.get("run-as"),
        on_failure=parse_on_failure(spec["on-failure"]) if spec.get("on-failure") else None,
        runtime_versions=dict(spec.get("runtime-versions") or {}),
    )


def _artifact_spec(spec: dict[str, Any]) -> ArtifactSpec:
    return ArtifactSpec(
        files=tuple(spec["files"]),
        name=spec.get("name"),
        discard_paths=bool(spec.get("discard-paths")),
        base_directory=spec.get("base-directory"),
        exclude_paths=tuple(spec.get("exclude-paths") or ()),
        enable_symlinks=bool(spec.get("enable-symlinks")),
        s3_prefix=spec.get("s3-prefix"),
    )


def _artifacts(spec: dict[str, Any] | None) -> Artifacts | None:
    if not spec:
        return None
    secondary = {k: _artifact_spec(v) for k, v in (spec.get("secondary-artifacts") or {}).items()}
    return Artifacts(_artifact_spec(spec), secondary)


def _report(name: str, spec: dict[str, Any]) -> ReportSpec:
    return ReportSpec(
        name=name,
        files=tuple(spec["files"]),
        file_format=spec.get("file-format") or DEFAULT_REPORT_FORMAT,
        base_directory=spec.get("base-directory"),
        discard_paths=bool(spec.get("discard-paths")),
    )


def _cache(spec: dict[str, Any] | None) -> CacheSpec | None:
    if not spec:
        return None
    return CacheSpec(
        paths=tuple(spec["paths"]),
        key=spec.get("key"),
        fallback_keys=tuple(spec.get("fallback-keys") or ()),
        action=spec.get("action"),
    )
