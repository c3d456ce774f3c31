"""Buildspec 0.2: the model (frozen dataclasses) and its loader/validator (pure).

Reference: https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode

from runner.codebuild.buildspec_checks import (
    PHASE_NAMES,
    Command,
    Shell,
    UnknownKey,
    UnknownKeys,
    has_key,
    null_key,
    reserved_names,
)
from runner.codebuild.coverage_formats import COVERAGE_PARSERS
from runner.codebuild.report_formats import TEST_PARSERS
from runner.errors import ConfigError, Position
from runner.spec.schema import Bool, Context, Enum, Int, Key, ListOf, MapOf, Obj, Str, find_node, validate
from runner.spec.yamlnodes import Document, is_null, load_file, load_text, position

REPORT_FORMATS = (*TEST_PARSERS, *COVERAGE_PARSERS)  # a new format: add its parser there, nothing here
DEFAULT_REPORT_FORMAT = "JUNITXML"  # CodeBuild's default file-format
ON_FAILURE = r"ABORT|CONTINUE|RETRY(-\d+)?(-.+)?"
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
DEFAULT_RETRIES = 3


@dataclass(frozen=True, slots=True)
class OnFailure:
    """What a failed phase does next. RETRY re-runs the phase (see README, fidelity)."""

    action: str  # ABORT | CONTINUE | RETRY
    retries: int = 0
    pattern: str = ".*"


@dataclass(frozen=True, slots=True)
class Phase:
    name: str
    commands: tuple[str, ...]
    finally_commands: tuple[str, ...] = ()
    run_as: str | None = None
    on_failure: OnFailure | None = None
    runtime_versions: Mapping[str, str] = field(default_factory=dict)

    @property
    def phase_type(self) -> str:
        """CodeBuild's name for the phase in logs and the API (PRE_BUILD …)."""
        return self.name.upper()


@dataclass(frozen=True, slots=True)
class Env:
    shell: str = "sh"
    variables: Mapping[str, str] = field(default_factory=dict)
    parameter_store: Mapping[str, str] = field(default_factory=dict)
    secrets_manager: Mapping[str, str] = field(default_factory=dict)
    exported_variables: tuple[str, ...] = ()
    git_credential_helper: bool = False


@dataclass(frozen=True, slots=True)
class ArtifactSpec:
    files: tuple[str, ...]
    name: str | None = None
    discard_paths: bool = False
    base_directory: str | None = None
    exclude_paths: tuple[str, ...] = ()
    enable_symlinks: bool = False
    s3_prefix: str | None = None


@dataclass(frozen=True, slots=True)
class Artifacts:
    primary: ArtifactSpec
    secondary: Mapping[str, ArtifactSpec] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ReportSpec:
    name: str
    files: tuple[str, ...]
    file_format: str = DEFAULT_REPORT_FORMAT
    base_directory: str | None = None
    discard_paths: bool = False


@dataclass(frozen=True, slots=True)
class CacheSpec:
    paths: tuple[str, ...]
    key: str | None = None
    fallback_keys: tuple[str, ...] = ()
    action: str | None = None  # None: restore and save


@dataclass(frozen=True, slots=True)
class Buildspec:
    path: str
    version: str
    phases: tuple[Phase, ...]
    env: Env = field(default_factory=Env)
    run_as: str | None = None
    proxy: Mapping[str, bool] = field(default_factory=dict)
    batch: Mapping[str, Any] | None = None
    reports: tuple[ReportSpec, ...] = ()
    artifacts: Artifacts | None = None
    cache: CacheSpec | None = None
    warnings: tuple[str, ...] = ()
    positions: Mapping[str, Position] = field(default_factory=dict)  # of env entries, for errors
    unknown_keys: tuple[UnknownKey, ...] = ()  # also in warnings; the log shows CodeBuild's block

    def phase(self, name: str) -> Phase | None:
        return next((p for p in self.phases if p.name == name), None)


# ---------------------------------------------------------------- schema

_STR_LIST = ListOf(Str(), scalar_ok=True)
_COMMANDS = ListOf(Command())


def _phase_schema(name: str) -> Obj:
    keys = [
        Key("run-as", Str(allow_empty=False), description="Linux user that runs this phase"),
        Key(
            "on-failure",
            Str(
                pattern=ON_FAILURE,
                pattern_hint="ABORT, CONTINUE, RETRY, RETRY-<count>, RETRY-<regex> or RETRY-<count>-<regex>",
            ),
            description="what a failure of this phase does next",
        ),
        Key(
            "commands",
            _COMMANDS,
            default=(),
            description="commands run one at a time, in order, in one shell (0.1: one shell each)",
        ),
        Key("finally", _COMMANDS, default=(), description="commands run even when a command failed"),
    ]
    if name == "install":
        keys.insert(
            2,
            Key(
                "runtime-versions",
                MapOf(Str()),
                description="runtimes to select (recorded; see README)",
            ),
        )
    return Obj(tuple(keys), lenient=True, check=_check_phase)


def _check_phase(value: dict[str, Any], node: MappingNode, path: str, ctx: Context) -> None:
    if value.get("runtime-versions") == {}:
        raise ctx.error(node, f"{path}.runtime-versions", "expected at least one runtime")
    if null_key(node, "commands"):
        # Every entry commented out: CodeBuild runs one empty command and the phase
        # succeeds (`BUILD: 1 commands`, `Running command `; decision 20, observed).
        value["commands"] = ("",)


def _artifact_keys() -> tuple[Key, ...]:
    return (
        Key("files", _STR_LIST, required=True, description="paths or globs to collect"),
        Key("name", Str(), description="artifact name (shell syntax is evaluated)"),
        Key("discard-paths", Bool(), default=False, description="flatten the collected paths"),
        Key("base-directory", Str(), description="directory (or pattern) files are relative to"),
        Key("exclude-paths", _STR_LIST, default=(), description="globs to leave out"),
        Key("enable-symlinks", Bool(), default=False, description="keep symlinks in the zip"),
        Key("s3-prefix", Str(), description="kept for compatibility; unused locally"),
    )


def _check_paths(value: dict[str, Any], node: MappingNode, path: str, ctx: Context) -> None:
    """`paths:` with every entry commented out is an empty cache (CodeBuild accepts it)."""
    if not has_key(node, "paths"):
        raise ctx.error(node, f"{path}.paths", "required key is missing")


_BATCH_ENV = Obj(
    (
        Key("compute-type", Str()),
        Key("fleet", Str()),
        Key("image", Str()),
        Key("privileged-mode", Bool()),
        Key("type", Str()),
        Key("variables", MapOf(Str(), key_pattern=ENV_NAME, key_hint="a variable name")),
    ),
    lenient=True,
)
_BATCH_TASK = Obj(
    (
        Key(
            "identifier",
            Str(pattern=r"[A-Za-z0-9_]+", pattern_hint="letters, digits and _"),
            required=True,
        ),
        Key("buildspec", Str()),
        Key("env", _BATCH_ENV),
        Key("ignore-failure", Bool(), default=False),
        Key("debug-session", Bool(), default=False),
        Key("depend-on", ListOf(Str()), default=()),
    ),
    lenient=True,
)

SCHEMA = Obj(
    (
        Key(
            "version",
            Str(pattern=r"0\.[12]", pattern_hint="0.2 (or 0.1)"),
            required=True,
            description="buildspec version; 0.2",
        ),
        Key("run-as", Str(allow_empty=False), description="Linux user that runs all commands"),
        Key(
            "env",
            Obj(
                (
                    Key("shell", Shell(), default="sh"),
                    Key(
                        "variables",
                        MapOf(Str(), key_pattern=ENV_NAME, key_hint="a variable name"),
                        default={},
                    ),
                    Key(
                        "parameter-store",
                        MapOf(Str(), key_pattern=ENV_NAME, key_hint="a variable name"),
                        default={},
                    ),
                    Key(
                        "secrets-manager",
                        MapOf(Str(), key_pattern=ENV_NAME, key_hint="a variable name"),
                        default={},
                    ),
                    Key(
                        "exported-variables",
                        ListOf(Str(pattern=ENV_NAME, pattern_hint="a variable name")),
                        default=(),
                    ),
                    Key("git-credential-helper", Bool(), default=False),
                ),
                lenient=True,
            ),
        ),
        Key(
            "proxy",
            Obj(
                (Key("upload-artifacts", Bool(), default=False), Key("logs", Bool(), default=False)),
                lenient=True,
            ),
        ),
        Key(
            "batch",
            Obj(
                (
                    Key("fast-fail", Bool(), default=False),
                    Key("build-list", ListOf(_BATCH_TASK)),
                    Key("build-graph", ListOf(_BATCH_TASK)),
                    Key(
                        "build-matrix",
                        Obj(
                            (
                                Key(
                                    "static",
                                    Obj((Key("ignore-failure", Bool()), Key("env", _BATCH_ENV))),
                                ),
                                Key(
                                    "dynamic",
                                    Obj(
                                        (
                                            Key("buildspec", ListOf(Str())),
                                            Key(
                                                "env",
                                                Obj(
                                                    (
                                                        Key("compute-type", ListOf(Str())),
                                                        Key("image", ListOf(Str())),
                                                        Key(
                                                            "variables",
                                                            MapOf(ListOf(Str()), key_pattern=ENV_NAME),
                                                        ),
                                                    ),
                                                    lenient=True,
                                                ),
                                            ),
                                        )
                                    ),
                                ),
                            )
                        ),
                    ),
                    Key(
                        "build-fanout",
                        Obj(
                            (
                                Key("parallelism", Int(minimum=1, maximum=100), required=True),
                                Key("ignore-failure", Bool(), default=False),
                            )
                        ),
                    ),
                ),
                # combine-artifacts, timeout, report mode, restrictions are project settings
                # in CodeBuild (flags of `runner build --batch` here): warned about, not fatal.
                lenient=True,
            ),
        ),
        Key(
            "phases",
            Obj(tuple(Key(name, _phase_schema(name)) for name in PHASE_NAMES)),
            description="install, pre_build, build, post_build (a batch file may leave them out)",
        ),
        Key(
            "reports",
            MapOf(
                Obj(
                    (
                        Key("files", _STR_LIST, required=True),
                        Key(
                            "file-format",
                            Enum(REPORT_FORMATS, case_insensitive=True),
                            default=DEFAULT_REPORT_FORMAT,
                        ),
                        Key("base-directory", Str()),
                        Key("discard-paths", Bool(), default=False),
                    ),
                    lenient=True,
                ),
                max_items=5,
            ),
        ),
        Key(
            "artifacts",
            Obj(
                (
                    *_artifact_keys(),
                    Key(
                        "secondary-artifacts",
                        MapOf(
                            Obj(_artifact_keys(), lenient=True),
                            key_pattern=r"[A-Za-z0-9_]+",
                            key_hint="an identifier of letters, digits and _",
                        ),
                    ),
                ),
                lenient=True,
            ),
        ),
        Key(
            "cache",
            Obj(
                (
                    Key("paths", _STR_LIST, default=()),
                    Key("key", Str(allow_empty=False)),
                    Key("fallback-keys", ListOf(Str(allow_empty=False), max_items=5), default=()),
                    Key("action", Enum(("restore", "save"))),
                ),
                lenient=True,
                check=_check_paths,
            ),
        ),
    ),
    lenient=True,  # CodeBuild ignores unknown keys with a warning (decision 18)
    description="AWS CodeBuild buildspec, version 0.2",
)


# ---------------------------------------------------------------- loading


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


_PLAINTEXT = Obj(
    (Key("plaintext", MapOf(Str(), key_pattern=ENV_NAME, key_hint="a variable name"), default={}),),
    lenient=True,
)


def _plaintext(doc: Document, unknown: UnknownKeys) -> dict[str, str]:
    """Version 0.1's `environment_variables.plaintext` (0.2 renamed it env.variables)."""
    node = find_node(doc, "environment_variables")
    if node is doc.root or is_null(node):
        return {}
    data = _PLAINTEXT.read(node, "environment_variables", Context(doc, on_unknown=unknown))
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


def parse_on_failure(text: str) -> OnFailure:
    """ABORT | CONTINUE | RETRY | RETRY-<count> | RETRY-<regex> | RETRY-<count>-<regex>."""
    if text in ("ABORT", "CONTINUE"):
        return OnFailure(text)
    match = re.fullmatch(r"RETRY(?:-(\d+))?(?:-(.+))?", text)
    if match is None:  # the schema already checked the shape
        raise ValueError(text)
    count, pattern = match.groups()
    if count is None and pattern is not None and pattern.isdigit():
        count, pattern = pattern, None
    return OnFailure("RETRY", int(count) if count else DEFAULT_RETRIES, pattern or ".*")


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
