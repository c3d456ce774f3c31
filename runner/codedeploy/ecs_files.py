"""Reading ECS deploy files (taskdef.json, appspec.yaml/.json) as documents that keep positions.

JSON is read by the JSON decoder first (its errors name line and column), then composed as
YAML for the node positions. A file that is a template of the build (`"cpu": ${CPU}`,
Terraform's `%{ if }`, an unquoted `<CONTAINER_PORT>`) is not valid until rendered: it gets
one line saying so, instead of a parser's complaint about a `$`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from runner.core.yamlnodes import MAX_FILE_BYTES, Document, load_bytes, load_text
from runner.errors import ConfigError, Position

# What a build's renderer (envsubst, sed, Terraform templatefile, Jinja) leaves in a file.
_TEMPLATE = re.compile(
    r"\$\{[A-Za-z_][A-Za-z0-9_.]*\}|\$[A-Za-z_][A-Za-z0-9_]*|%\{[^}]*\}|\{\{[^}]*\}\}|<[A-Z0-9_]+>"
)


def load_document(path: Path, display: str | None = None) -> Document:
    name = display or str(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ConfigError(Position(name, 1, 1), "", f"cannot read file: {e.strerror}") from e
    if path.suffix.lower() != ".json":
        return _yaml(data, name)
    return load_json_text(_text(data, name), name)


def load_json_text(text: str, name: str) -> Document:
    try:
        json.loads(text)
    except json.JSONDecodeError as e:
        raise _json_error(text, name, e) from e
    # A tab is JSON whitespace but no YAML token; one space keeps every line and column.
    return load_text(text.replace("\t", " "), name)


def _text(data: bytes, name: str) -> str:
    if len(data) > MAX_FILE_BYTES:
        raise ConfigError(
            Position(name, 1, 1), "", f"file is {len(data)} bytes; the limit is {MAX_FILE_BYTES}"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ConfigError(Position(name, 1, 1), "", "file is not UTF-8 text") from e


def _yaml(data: bytes, name: str) -> Document:
    try:
        return load_bytes(data, name)
    except ConfigError as e:
        text = data.decode("utf-8", errors="replace")
        found = template_marker(text, e.position.line)
        if found:
            raise template_error(e.position, found, "YAML") from e
        raise


def _json_error(text: str, name: str, e: json.JSONDecodeError) -> ConfigError:
    where = Position(name, e.lineno, e.colno)
    found = template_marker(text, e.lineno)
    if found:
        return template_error(where, found, "JSON")
    return ConfigError(where, "", f"invalid JSON: {e.msg}")


def template_marker(text: str, line: int) -> str:
    """The template expression on the line a parser stopped at (or the line before), if any."""
    lines = text.splitlines()
    for number in (line, line - 1):
        match = _TEMPLATE.search(lines[number - 1]) if 0 < number <= len(lines) else None
        if match:
            return match.group(0)
    return ""


def template_error(where: Position, marker: str, kind: str) -> ConfigError:
    return ConfigError(
        where,
        "",
        f"a template, not valid {kind} until rendered (unquoted {marker}): render it in the build "
        "(envsubst, sed, jq) and list the result in the build's artifacts",
    )
