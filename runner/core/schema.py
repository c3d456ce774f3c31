"""A small declarative schema for our YAML files: validation with positions, and JSON Schema.

Each key carries its kind, whether it is required, its default and a description
(as tox 4 does), so the same declaration validates a file, explains an error as
`file:line:col: key.path: expected …`, and generates the published JSON Schema.

Scalars are read from their source text, the way CodeBuild reads them: `1.10` in a
string field stays "1.10", and `yes`/`no` are booleans only where a boolean is expected.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner.core.yamlnodes import SHOWN_CHARS, Document, is_null, kind_name, mapping_items, position, shown
from runner.errors import ConfigError

TRUE_WORDS = {"yes", "true", "on", "y"}
FALSE_WORDS = {"no", "false", "off", "n"}
MAX_INT_DIGITS = 18


@dataclass
class Context:
    """Where we are while validating: the document, and the warnings found so far."""

    doc: Document
    warnings: list[str] = field(default_factory=list)
    # Decides about every key an Obj does not know (warn or raise); the file's own rules
    # (a buildspec words its warnings as CodeBuild does) instead of the generic ones.
    on_unknown: Callable[[ScalarNode, str, str, Obj], None] | None = None  # key, parent, path

    def error(self, node: Node, path: str, message: str) -> ConfigError:
        return ConfigError(position(self.doc.name, node), path, message)

    def warn(self, node: Node, path: str, message: str) -> None:
        self.warnings.append(f"{position(self.doc.name, node)}: {path}: {message}")


class Kind:
    """What a value must look like."""

    def read(self, node: Node, path: str, ctx: Context) -> Any:
        raise NotImplementedError

    def json_schema(self) -> dict[str, Any]:
        raise NotImplementedError


def _scalar(node: Node, path: str, ctx: Context, expected: str) -> str:
    if not isinstance(node, ScalarNode) or is_null(node):
        raise ctx.error(node, path, f"expected {expected}, got {kind_name(node)}")
    return str(node.value)


@dataclass(frozen=True)
class Str(Kind):
    pattern: str | None = None
    pattern_hint: str = ""
    allow_empty: bool = True

    def read(self, node: Node, path: str, ctx: Context) -> str:
        value = _scalar(node, path, ctx, "a string")
        if not self.allow_empty and not value.strip():
            raise ctx.error(node, path, "expected a non-empty string")
        if self.pattern and not re.fullmatch(self.pattern, value):
            raise ctx.error(node, path, f"expected {self.pattern_hint or self.pattern}, got {shown(value)}")
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": ["string", "number", "boolean"]}
        if self.pattern:
            schema = {"type": "string", "pattern": f"^(?:{self.pattern})$"}
        return schema


@dataclass(frozen=True)
class Bool(Kind):
    def read(self, node: Node, path: str, ctx: Context) -> bool:
        word = _scalar(node, path, ctx, "yes or no").lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise ctx.error(node, path, f"expected yes or no, got {shown(word)}")

    def json_schema(self) -> dict[str, Any]:
        return {"type": ["boolean", "string"], "enum": [True, False, "yes", "no"]}


@dataclass(frozen=True)
class Int(Kind):
    minimum: int | None = None
    maximum: int | None = None

    def read(self, node: Node, path: str, ctx: Context) -> int:
        text = _scalar(node, path, ctx, "a whole number")
        if not re.fullmatch(r"[+-]?\d+", text):
            raise ctx.error(node, path, f"expected a whole number, got {shown(text)}")
        if len(text) > MAX_INT_DIGITS:  # int() refuses > 4,300 digits; nothing we count needs 19
            raise ctx.error(node, path, f"expected a whole number of at most {MAX_INT_DIGITS} digits")
        value = int(text)
        if self.minimum is not None and value < self.minimum:
            raise ctx.error(node, path, f"expected a number >= {self.minimum}, got {value}")
        if self.maximum is not None and value > self.maximum:
            raise ctx.error(node, path, f"expected a number <= {self.maximum}, got {value}")
        return value

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {"type": "integer"}
        if self.minimum is not None:
            schema["minimum"] = self.minimum
        if self.maximum is not None:
            schema["maximum"] = self.maximum
        return schema


@dataclass(frozen=True)
class Enum(Kind):
    values: tuple[str, ...]
    case_insensitive: bool = False

    def read(self, node: Node, path: str, ctx: Context) -> str:
        text = _scalar(node, path, ctx, f"one of {', '.join(self.values)}")
        for value in self.values:
            if text == value or (self.case_insensitive and text.lower() == value.lower()):
                return value
        raise ctx.error(node, path, f"expected one of {', '.join(self.values)}, got {shown(text)}")

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.values)}


@dataclass(frozen=True)
class ListOf(Kind):
    """A list; with `scalar_ok`, a single value stands for a list of one (CodeBuild allows it)."""

    item: Kind
    scalar_ok: bool = False
    min_items: int = 0
    max_items: int | None = None

    def read(self, node: Node, path: str, ctx: Context) -> tuple[Any, ...]:
        if self.scalar_ok and isinstance(node, ScalarNode) and not is_null(node):
            items: Sequence[Node] = [node]
        elif isinstance(node, SequenceNode):
            items = node.value
        else:
            raise ctx.error(node, path, f"expected a list, got {kind_name(node)}")
        if len(items) < self.min_items:
            raise ctx.error(node, path, f"expected at least {self.min_items} item(s)")
        if self.max_items is not None and len(items) > self.max_items:
            raise ctx.error(node, path, f"expected at most {self.max_items} item(s), got {len(items)}")
        return tuple(self.item.read(child, f"{path}[{i}]", ctx) for i, child in enumerate(items))

    def json_schema(self) -> dict[str, Any]:
        array: dict[str, Any] = {"type": "array", "items": self.item.json_schema()}
        if self.min_items:
            array["minItems"] = self.min_items
        if self.max_items is not None:
            array["maxItems"] = self.max_items
        return {"anyOf": [array, self.item.json_schema()]} if self.scalar_ok else array


@dataclass(frozen=True)
class MapOf(Kind):
    """A mapping with free keys (variable names, phase names of reports …)."""

    value: Kind
    key_pattern: str | None = None
    key_hint: str = ""
    max_items: int | None = None

    def read(self, node: Node, path: str, ctx: Context) -> dict[str, Any]:
        if not isinstance(node, MappingNode):
            raise ctx.error(node, path, f"expected a mapping, got {kind_name(node)}")
        items = mapping_items(node)
        if self.max_items is not None and len(items) > self.max_items:
            raise ctx.error(node, path, f"expected at most {self.max_items} entries, got {len(items)}")
        result: dict[str, Any] = {}
        for key, value in items:
            name = str(key.value)
            if self.key_pattern and not re.fullmatch(self.key_pattern, name):
                raise ctx.error(key, _join(path, name), f"expected {self.key_hint or 'a valid name'}")
            result[name] = self.value.read(value, _join(path, name), ctx)
        return result

    def json_schema(self) -> dict[str, Any]:
        schema: dict[str, Any] = {
            "type": "object",
            "additionalProperties": self.value.json_schema(),
        }
        if self.key_pattern:
            schema["propertyNames"] = {"pattern": f"^(?:{self.key_pattern})$"}
        return schema


@dataclass(frozen=True)
class Key:
    name: str
    kind: Kind
    required: bool = False
    default: Any = None
    description: str = ""


@dataclass(frozen=True)
class Obj(Kind):
    """A mapping with known keys. Unknown keys are an error, or a warning when `lenient`."""

    keys: tuple[Key, ...]
    lenient: bool = False
    description: str = ""
    check: Callable[[dict[str, Any], MappingNode, str, Context], None] | None = None

    def read(self, node: Node, path: str, ctx: Context) -> dict[str, Any]:
        if not isinstance(node, MappingNode):
            raise ctx.error(node, path or "(top level)", f"expected a mapping, got {kind_name(node)}")
        known = {key.name: key for key in self.keys}
        result: dict[str, Any] = {}
        for key_node, value_node in mapping_items(node):
            name = str(key_node.value)
            spec = known.get(name)
            if spec is None:
                self._unknown(key_node, path, _join(path, name), ctx)
            elif is_null(value_node) and not spec.required:
                result[name] = spec.default
            else:
                result[name] = spec.kind.read(value_node, _join(path, name), ctx)
        for spec in self.keys:
            if spec.name not in result:
                if spec.required:
                    raise ctx.error(node, _join(path, spec.name), "required key is missing")
                result[spec.name] = spec.default
        if self.check:
            self.check(result, node, path, ctx)
        return result

    def _unknown(self, key: ScalarNode, parent: str, path: str, ctx: Context) -> None:
        if ctx.on_unknown is not None:
            ctx.on_unknown(key, parent, path, self)
            return
        expected = ", ".join(k.name for k in self.keys)
        if not self.lenient:
            raise ctx.error(key, path, f"unknown key; expected one of: {expected}")
        ctx.warn(key, path, f"unknown key ignored; known keys: {expected}")

    def json_schema(self) -> dict[str, Any]:
        props: dict[str, Any] = {}
        for key in self.keys:
            prop = key.kind.json_schema()
            if key.description:
                prop = {**prop, "description": key.description}
            if key.default is not None and not isinstance(key.default, tuple | dict):
                prop = {**prop, "default": key.default}
            props[key.name] = prop
        schema: dict[str, Any] = {
            "type": "object",
            "properties": props,
            "additionalProperties": self.lenient,
        }
        required = [key.name for key in self.keys if key.required]
        if required:
            schema["required"] = required
        if self.description:
            schema["description"] = self.description
        return schema


@dataclass(frozen=True)
class OneOf(Kind):
    """A scalar or a mapping form of the same setting (e.g. `strategy: AllAtOnce` or a mapping)."""

    scalar: Kind
    mapping: Kind

    def read(self, node: Node, path: str, ctx: Context) -> Any:
        if isinstance(node, MappingNode):
            return self.mapping.read(node, path, ctx)
        return self.scalar.read(node, path, ctx)

    def json_schema(self) -> dict[str, Any]:
        return {"anyOf": [self.scalar.json_schema(), self.mapping.json_schema()]}


def _join(path: str, name: str) -> str:
    """`a.b` for a key path; a key with a newline or other unprintable text is quoted (one line)."""
    part = name if name.isprintable() and len(name) <= SHOWN_CHARS else shown(name)
    return f"{path}.{part}" if path else part


def validate(doc: Document, kind: Kind, ctx: Context | None = None) -> tuple[Any, list[str]]:
    """Validate a document; returns plain values (dicts, tuples, str…) and warnings."""
    ctx = ctx or Context(doc)
    value = kind.read(doc.root, "", ctx)
    return value, ctx.warnings


def find_node(doc: Document, dotted: str, key: bool = False) -> Node:
    """The value (or, with key=True, the key) at a path such as `phases.build.commands`,
    or the closest parent that exists."""
    node = doc.root
    for part in dotted.split(".") if dotted else []:
        if not isinstance(node, MappingNode):
            break
        match = next(((k, v) for k, v in mapping_items(node) if k.value == part), None)
        if match is None:
            break
        node = match[0] if key and part == dotted.split(".")[-1] else match[1]
    return node
