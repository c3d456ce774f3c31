"""What CodeBuild accepts, warns about and rejects in a buildspec, beyond value types (pure).

CodeBuild rejects little (CODEBUILD.md decisions 17-21): an unknown key anywhere is a
warning, worded as its log words it, and the build goes on; an unknown phase name, GitHub
Actions `steps`, a Windows shell and a version other than 0.1/0.2 are errors.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Any

from yaml.nodes import MappingNode, Node, ScalarNode

from runner.core.schema import Context, Kind, Obj
from runner.core.yamlnodes import Document, is_null, kind_name, mapping_items, position, shown
from runner.errors import ConfigError, Position

PHASE_NAMES = ("install", "pre_build", "build", "post_build")
LINUX_SHELLS = ("bash", "/bin/bash", "sh", "/bin/sh")
WINDOWS_SHELLS = ("powershell.exe", "cmd.exe", "pwsh.exe")
TOP_LEVEL = "(top level)"  # the section CodeBuild names for a top-level key is unverified
# Keys version 0.1 knows and 0.2 does not (0.2 warns about them, decision 17).
V01_ONLY = ("environment_variables", "artifacts.type")


@dataclass(frozen=True, slots=True)
class UnknownKey:
    """A key CodeBuild cannot identify: reported as a warning, never a failure."""

    position: Position
    path: str  # dotted, as in our messages: phases.build.env
    section: str  # as CodeBuild names it: BUILD, artifacts, env
    key: str
    known: tuple[str, ...]

    def warning(self) -> str:
        hint = _did_you_mean(self.key, self.known)
        text = (
            f"{self.position}: {self.path}: In the section {self.section}, "
            f"the following keys cannot be identified: {self.key}"
        )
        return text + (f" (did you mean {hint}?)" if hint else "")


class UnknownKeys:
    """The `on_unknown` of a buildspec's validation: raises for what CodeBuild rejects,
    records the rest."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.found: list[UnknownKey] = []

    def __call__(self, key: ScalarNode, parent: str, path: str, owner: Obj) -> None:
        name = str(key.value)
        where = position(self.doc.name, key)
        if parent == "phases":
            raise ConfigError(
                where,
                path,
                f"Invalid buildspec phase name: {name if name.isprintable() else shown(name)}. "
                f"Expecting: {','.join(sorted(PHASE_NAMES))}",
            )
        if parent.startswith("phases.") and parent.count(".") == 1 and name == "steps":
            raise ConfigError(
                where,
                path,
                "GitHub Actions steps in a buildspec run only on CodeBuild with a GitHub connection "
                "and are not supported here; write the phase as commands",
            )
        known = tuple(k.name for k in owner.keys)
        self.found.append(UnknownKey(where, path, _section(parent), name, known))

    def warnings(self, version: str) -> list[UnknownKey]:
        if version == "0.1":
            return [u for u in self.found if u.path not in V01_ONLY]
        return list(self.found)


def _section(parent: str) -> str:
    """CodeBuild's name for where a key sits: phases are upper case (`BUILD`)."""
    if not parent:
        return TOP_LEVEL
    parts = parent.split(".")
    if parts[0] == "phases" and len(parts) >= 2:
        return ".".join([parts[1].upper(), *parts[2:]])
    return parent


def _did_you_mean(key: str, known: tuple[str, ...]) -> str | None:
    """`Commands` for commands, `basedir` for base-directory: the usual slips."""

    def squash(text: str) -> str:
        return text.lower().replace("-", "").replace("_", "")

    by_squashed = {squash(name): name for name in known}
    close = difflib.get_close_matches(squash(key), list(by_squashed), n=1, cutoff=0.7)
    return by_squashed[close[0]] if close else None


def syntax_report(unknown: list[UnknownKey] | tuple[UnknownKey, ...]) -> list[str]:
    """CodeBuild's own block for unknown keys, as its log prints it after `YAML location is`."""
    if not unknown:
        return []
    lines = ["Found possible syntax errors in buildspec: "]
    sections: dict[str, list[str]] = {}
    for item in unknown:
        sections.setdefault(item.section, []).append(item.key)
    for section, keys in sections.items():
        lines += [f"In the section {section}", "    The following keys cannot be identified:"]
        lines += [f"        {key}" for key in keys]
    return lines


class Shell(Kind):
    """`env.shell`: the Linux shells; a Windows shell gets one line saying what to do."""

    def read(self, node: Node, path: str, ctx: Context) -> str:
        if not isinstance(node, ScalarNode) or is_null(node):
            raise ctx.error(node, path, f"expected one of {', '.join(LINUX_SHELLS)}, got {kind_name(node)}")
        value = str(node.value)
        if value.lower() in WINDOWS_SHELLS:
            raise ctx.error(
                node,
                path,
                f"{value} is the shell of CodeBuild's Windows images; runner runs Linux containers only: "
                "use bash or /bin/sh, or run this buildspec on CodeBuild",
            )
        if value not in LINUX_SHELLS:
            raise ctx.error(node, path, f"expected one of {', '.join(LINUX_SHELLS)}, got {shown(value)}")
        return value

    def json_schema(self) -> dict[str, Any]:
        return {"type": "string", "enum": list(LINUX_SHELLS)}


class Command(Kind):
    """One command: a string; a bare `-` (or `- # a comment`) is an empty command, as
    CodeBuild runs it (decision 20); a mapping is CodeBuild's error, with the usual cause."""

    def read(self, node: Node, path: str, ctx: Context) -> str:
        if is_null(node):
            return ""
        if isinstance(node, ScalarNode):
            return str(node.value)
        hint = " (a command with ': ' in it must be quoted)" if isinstance(node, MappingNode) else ""
        raise ctx.error(node, path, f"expected a string, got {kind_name(node)}{hint}")

    def json_schema(self) -> dict[str, Any]:
        return {"type": ["string", "number", "boolean", "null"]}


def has_key(node: MappingNode, name: str) -> bool:
    return any(key.value == name for key, _ in mapping_items(node))


def null_key(node: MappingNode, name: str) -> bool:
    """`commands:` present with no items (every entry commented out)."""
    return any(key.value == name and is_null(value) for key, value in mapping_items(node))


def reserved_names(env: dict[str, Any], where: dict[str, Position]) -> list[str]:
    """CODEBUILD_* in env: CodeBuild documents them as reserved; a warning, not an error."""
    found = []
    for section in ("variables", "parameter-store", "secrets-manager"):
        for name in env.get(section) or {}:
            if name.startswith("CODEBUILD_"):
                path = f"env.{section}.{name}"
                found.append(
                    f"{where[path]}: {path}: names starting with CODEBUILD_ are reserved by CodeBuild; "
                    "a variable CodeBuild sets keeps CodeBuild's value"
                )
    return found
