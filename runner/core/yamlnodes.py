"""Safe YAML loading that keeps positions: every node knows its file, line and column.

We compose YAML into nodes (never construct arbitrary objects), refuse duplicate keys,
resolve merge keys (`<<`), and bound the size of what aliases can expand to, so a
"billion laughs" file is an error instead of an out-of-memory crash.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner.errors import ConfigError, Position

MAX_FILE_BYTES = 2 * 1024 * 1024
MAX_EXPANDED_NODES = 100_000
MAX_DEPTH = 64
MERGE_TAG = "tag:yaml.org,2002:merge"
NULL_TAG = "tag:yaml.org,2002:null"
SHOWN_CHARS = 60  # values echoed in messages are cut here, so an error stays one readable line
# "\ud800" escapes decode to lone surrogates, which no file, log or database can hold as UTF-8.
_SURROGATE = re.compile(r"[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed file: its root node and the name used in error messages."""

    name: str
    root: Node


def position(name: str, node: Node) -> Position:
    return Position(name, node.start_mark.line + 1, node.start_mark.column + 1)


def load_file(path: Path, display_name: str | None = None) -> Document:
    name = display_name or str(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(Position(name, 1, 1), "", f"cannot read file: {e.strerror}") from e
    return load_bytes(data, name)


def load_bytes(data: bytes, name: str) -> Document:
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(
            Position(name, 1, 1), "", f"file is {len(data)} bytes; the limit is {MAX_FILE_BYTES}"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise ConfigError(Position(name, line, column), "", "file is not UTF-8 text") from e
    return load_text(text, name)


def load_text(text: str, name: str) -> Document:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = Position(name, mark.line + 1, mark.column + 1) if mark else Position(name, 1, 1)
        problem = e.problem or e.context or "invalid YAML"
        raise ConfigError(where, "", f"invalid YAML: {problem}") from e
    except yaml.YAMLError as e:  # ReaderError: control characters, binary garbage
        where = _reader_position(text, e, name)
        raise ConfigError(where, "", f"invalid YAML: {_reader_problem(e)}") from e
    except RecursionError as e:
        raise ConfigError(Position(name, 1, 1), "", "nesting is too deep") from e
    if root is None:
        raise ConfigError(Position(name, 1, 1), "", "file is empty; expected a mapping")
    _check(root, name)
    return Document(name, root)


def _reader_position(text: str, e: yaml.YAMLError, name: str) -> Position:
    """A ReaderError knows the offset of the bad character: turn it into line:column."""
    offset = e.position if isinstance(e, yaml.reader.ReaderError) else 0
    line_start = text.rfind("\n", 0, offset) + 1
    return Position(name, text.count("\n", 0, offset) + 1, offset - line_start + 1)


def _reader_problem(e: yaml.YAMLError) -> str:
    if isinstance(e, yaml.reader.ReaderError):
        return f"unacceptable character #x{e.character:04x}"
    return str(e).splitlines()[0]


def _check(root: Node, name: str) -> None:
    """Refuse duplicate keys, excessive nesting and alias expansion bombs."""
    budget = [MAX_EXPANDED_NODES]
    stack: list[tuple[Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        budget[0] -= 1
        if budget[0] < 0:
            raise ConfigError(position(name, node), "", "aliases expand to too many nodes (a YAML bomb?)")
        if depth > MAX_DEPTH:
            raise ConfigError(position(name, node), "", f"nesting deeper than {MAX_DEPTH} levels")
        if isinstance(node, ScalarNode) and _SURROGATE.search(node.value):
            raise ConfigError(position(name, node), "", "an unpaired surrogate (\\ud800-\\udfff) is not text")
        if isinstance(node, MappingNode):
            _check_duplicate_keys(node, name)
            stack.extend((child, depth + 1) for pair in node.value for child in pair)
        elif isinstance(node, SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)


def _check_duplicate_keys(node: MappingNode, name: str) -> None:
    seen: dict[str, Node] = {}
    for key, _ in node.value:
        if not isinstance(key, ScalarNode) or key.tag == MERGE_TAG:
            continue
        if key.value in seen:
            first = seen[key.value].start_mark.line + 1
            raise ConfigError(
                position(name, key),
                "",
                f"duplicate key {key.value!r} (first defined on line {first})",
            )
        seen[key.value] = key


def mapping_items(node: MappingNode) -> list[tuple[ScalarNode, Node]]:
    """Key/value pairs with merge keys (`<<: *defaults`) resolved; explicit keys win."""
    own: list[tuple[ScalarNode, Node]] = []
    merged: list[tuple[ScalarNode, Node]] = []
    for key, value in node.value:
        if key.tag == MERGE_TAG:
            sources = value.value if isinstance(value, SequenceNode) else [value]
            for source in sources:
                if isinstance(source, MappingNode):
                    merged.extend(mapping_items(source))
        elif isinstance(key, ScalarNode):
            own.append((key, value))
    names = {key.value for key, _ in own}
    result = list(own)
    for key, value in merged:
        if key.value not in names:
            names.add(key.value)
            result.append((key, value))
    return result


def is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag == NULL_TAG


def kind_name(node: Node) -> str:
    """How a node reads to a user: 'a mapping', 'a list', 'a number', 'null' …"""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    if is_null(node):
        return "null"
    if node.tag.endswith((":int", ":float")):
        return f"a number ({shown(node.value, quote=False)})"
    if node.tag.endswith(":bool"):
        return f"a boolean ({node.value})"
    return f"a string ({shown(node.value)})"


def shown(value: str, quote: bool = True) -> str:
    """A value for a message, cut at SHOWN_CHARS (a 4,000-digit number stays readable)."""
    text = value[:SHOWN_CHARS]
    text = repr(text) if quote else text
    return text if len(value) <= SHOWN_CHARS else f"{text}… ({len(value)} characters)"
