"""Buildspec 0.2's schema: the keys and types CodeBuild accepts, with their defaults (pure).

`runner schema buildspec` prints it as JSON Schema; buildspec_loader validates with it.
Reference: https://docs.aws.amazon.com/codebuild/latest/userguide/build-spec-ref.html
"""

from __future__ import annotations

from typing import Any

from yaml.nodes import MappingNode

from runner.codebuild.buildspec import DEFAULT_REPORT_FORMAT, ON_FAILURE
from runner.codebuild.buildspec_checks import PHASE_NAMES, Command, Shell, has_key, null_key
from runner.codebuild.coverage_formats import COVERAGE_PARSERS
from runner.codebuild.report_formats import TEST_PARSERS
from runner.core.schema import Bool, Context, Enum, Int, Key, ListOf, MapOf, Obj, Str

REPORT_FORMATS = (*TEST_PARSERS, *COVERAGE_PARSERS)  # a new format: add its parser there, nothing here
ENV_NAME = r"[A-Za-z_][A-Za-z0-9_]*"

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
        # Its form is checked by a batch build only (codebuild/batch.py): a plain build ignores batch.
        Key("identifier", Str(), required=True),
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


# Version 0.1's `environment_variables` (0.2 renamed its plaintext env.variables).
PLAINTEXT = Obj(
    (Key("plaintext", MapOf(Str(), key_pattern=ENV_NAME, key_hint="a variable name"), default={}),),
    lenient=True,
)
