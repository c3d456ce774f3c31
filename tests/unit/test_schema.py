"""The declarative schema (runner/schema.py): reading with exact messages, and JSON Schema."""

from __future__ import annotations

from typing import Any

import pytest

from runner.codebuild import buildspec_schema
from runner.core.schema import Bool, Enum, Int, Key, Kind, ListOf, MapOf, Obj, OneOf, Str, find_node, validate
from runner.core.yamlnodes import load_text
from runner.errors import ConfigError

SCHEMA = Obj(
    (
        Key("name", Str(allow_empty=False), required=True, description="the name"),
        Key("version", Str(pattern=r"\d+\.\d+", pattern_hint="MAJOR.MINOR")),
        Key("enabled", Bool(), default=False),
        Key("count", Int(minimum=1, maximum=5), default=1),
        Key("mode", Enum(("fast", "safe"), case_insensitive=True)),
        Key("files", ListOf(Str(), scalar_ok=True, max_items=2), default=()),
        Key("strict", ListOf(Int(), min_items=1)),
        Key("vars", MapOf(Str(), key_pattern=r"[A-Z_]+", key_hint="an upper-case name"), default={}),
        Key("strategy", OneOf(Str(), Obj((Key("type", Str(), required=True),)))),
    )
)


def read(text: str, kind: Kind = SCHEMA) -> tuple[Any, list[str]]:
    result: tuple[Any, list[str]] = validate(load_text(text, "f.yml"), kind)
    return result


def error_of(text: str, kind: Kind = SCHEMA) -> str:
    with pytest.raises(ConfigError) as info:
        read(text, kind)
    return str(info.value)


def test_values_and_defaults() -> None:
    value, warnings = read(
        "name: app\nversion: 1.10\nenabled: yes\ncount: 3\nmode: FAST\nfiles: one\nvars: {A_B: 007}\n"
    )
    assert value == {
        "name": "app",
        "version": "1.10",  # the source text, not the float 1.1
        "enabled": True,
        "count": 3,
        "mode": "fast",
        "files": ("one",),  # a scalar stands for a list of one
        "strict": None,
        "vars": {"A_B": "007"},
        "strategy": None,
    }
    assert warnings == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("version: 1.0\n", "f.yml:1:1: name: required key is missing"),
        ("name: ''\n", "f.yml:1:7: name: expected a non-empty string"),
        ("name: [a]\n", "f.yml:1:7: name: expected a string, got a list"),
        ("name: {a: 1}\n", "f.yml:1:7: name: expected a string, got a mapping"),
        ("name: a\nversion: v1\n", "f.yml:2:10: version: expected MAJOR.MINOR, got 'v1'"),
        ("name: a\nenabled: maybe\n", "f.yml:2:10: enabled: expected yes or no, got 'maybe'"),
        ("name: a\ncount: 1.5\n", "f.yml:2:8: count: expected a whole number, got '1.5'"),
        ("name: a\ncount: 0\n", "f.yml:2:8: count: expected a number >= 1, got 0"),
        ("name: a\ncount: 9\n", "f.yml:2:8: count: expected a number <= 5, got 9"),
        ("name: a\nmode: slow\n", "f.yml:2:7: mode: expected one of fast, safe, got 'slow'"),
        ("name: a\nfiles: [a, b, c]\n", "f.yml:2:8: files: expected at most 2 item(s), got 3"),
        ("name: a\nfiles: {a: 1}\n", "f.yml:2:8: files: expected a list, got a mapping"),
        ("name: a\nstrict: []\n", "f.yml:2:9: strict: expected at least 1 item(s)"),
        ("name: a\nstrict: 1\n", "f.yml:2:9: strict: expected a list, got a number (1)"),
        ("name: a\nstrict: [1, x]\n", "f.yml:2:13: strict[1]: expected a whole number, got 'x'"),
        ("name: a\nvars: {lower: x}\n", "f.yml:2:8: vars.lower: expected an upper-case name"),
        ("name: a\nvars: [x]\n", "f.yml:2:7: vars: expected a mapping, got a list"),
        ("name: a\nstrategy: {kind: x}\n", "f.yml:2:12: strategy.kind: unknown key; expected one of: type"),
        (
            "name: a\nbogus: 1\n",
            "f.yml:2:1: bogus: unknown key; expected one of: name, version, enabled, "
            "count, mode, files, strict, vars, strategy",
        ),
        ("- a\n", "f.yml:1:1: (top level): expected a mapping, got a list"),
    ],
)
def test_errors_name_position_path_and_expectation(text: str, message: str) -> None:
    assert error_of(text) == message


def test_null_values_take_the_default_unless_required() -> None:
    value, _ = read("name: a\nenabled:\nfiles:\n")
    assert value["enabled"] is False and value["files"] == ()
    assert error_of("name:\n") == "f.yml:1:6: name: expected a string, got null"


def test_one_of_scalar_or_mapping() -> None:
    assert read("name: a\nstrategy: AllAtOnce\n")[0]["strategy"] == "AllAtOnce"
    assert read("name: a\nstrategy: {type: Canary}\n")[0]["strategy"] == {"type": "Canary"}


def test_lenient_objects_warn_with_position() -> None:
    lenient = Obj((Key("a", Str()),), lenient=True)
    value, warnings = read("a: x\nb: y\n", lenient)
    assert value == {"a": "x"}
    assert warnings == ["f.yml:2:1: b: unknown key ignored; known keys: a"]


def test_check_hook_runs_after_reading() -> None:
    def need_one(value: dict[str, Any], node: Any, path: str, ctx: Any) -> None:
        if not value["a"] and not value["b"]:
            raise ctx.error(node, path or "(top level)", "expected a or b")

    both = Obj((Key("a", Str()), Key("b", Str())), check=need_one)
    assert read("b: x\n", both)[0] == {"a": None, "b": "x"}
    assert error_of("{}\n", both) == "f.yml:1:1: (top level): expected a or b"


def test_find_node() -> None:
    doc = load_text("env:\n  variables:\n    A: 1\n", "f.yml")
    assert find_node(doc, "env.variables.A").start_mark.line == 2
    assert find_node(doc, "env.variables.A", key=True).start_mark.column == 4
    assert find_node(doc, "env.missing.x").start_mark.line == 1  # the closest parent that exists


def test_json_schema_shapes() -> None:
    schema = SCHEMA.json_schema()
    assert schema["type"] == "object" and schema["required"] == ["name"]
    assert schema["additionalProperties"] is False
    props = schema["properties"]
    assert props["name"]["description"] == "the name"
    assert props["version"] == {"type": "string", "pattern": r"^(?:\d+\.\d+)$"}
    assert props["enabled"]["default"] is False
    assert props["count"] == {"type": "integer", "minimum": 1, "maximum": 5, "default": 1}
    assert props["mode"] == {"type": "string", "enum": ["fast", "safe"]}
    array, scalar = props["files"]["anyOf"]  # a list, or one value standing for a list of one
    assert array["type"] == "array" and array["maxItems"] == 2 and scalar == array["items"]
    assert props["strict"] == {"type": "array", "items": {"type": "integer"}, "minItems": 1}
    assert props["vars"]["propertyNames"] == {"pattern": "^(?:[A-Z_]+)$"}
    assert len(props["strategy"]["anyOf"]) == 2


def test_buildspec_json_schema_lists_every_top_level_key() -> None:
    schema = buildspec_schema.SCHEMA.json_schema()
    assert list(schema["properties"]) == [
        "version",
        "run-as",
        "env",
        "proxy",
        "batch",
        "phases",
        "reports",
        "artifacts",
        "cache",
    ]
    assert schema["additionalProperties"] is True  # unknown keys are warnings (decision 9)
    phases = schema["properties"]["phases"]["properties"]
    assert list(phases) == ["install", "pre_build", "build", "post_build"]
    assert "runtime-versions" in phases["install"]["properties"]
    assert "runtime-versions" not in phases["build"]["properties"]
