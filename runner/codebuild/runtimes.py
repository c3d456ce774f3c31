"""runtime-versions as the CodeBuild agent selects them (pure; CODEBUILD.md decisions 11-16).

A standard image describes its runtimes in `/codebuild/image/config/runtimes.yml`:
`runtimes: <name>: versions: <version>: {commands: [...]}`. A buildspec asks for
`phases.install.runtime-versions: {<name>: <value>}`, where the value is a version as
written in that file (`3.10` stays "3.10"), `<prefix>.x` (the newest version under that
prefix), `latest` (the newest), or `$VAR`. Versions compare component by component,
numbers as numbers (3.10 > 3.9, corretto17 > corretto8). A runtime whose file has a
`default:` entry installs any other exact version with it (CodeBuild's custom versions).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from runner.errors import PhaseError

RUNTIMES_FILE = "/codebuild/image/config/runtimes.yml"
SKIP_WARNING = "Skipping install of runtimes. Runtime version selection is not supported by this build image."
DEFAULT = "default"  # the entry that installs a version the image does not list
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")


@dataclass(frozen=True, slots=True)
class Runtime:
    """One runtime of an image: its versions (as written in the file) and their commands."""

    name: str
    versions: Mapping[str, tuple[str, ...]]
    default: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class Selection:
    runtime: str
    version: str  # the image's version it resolved to (3.11 for `3.x`)
    commands: tuple[str, ...]


def selecting_line(runtime: str, value: str) -> str:
    """The agent logs one per requested runtime, with the value asked for, before it checks
    that the image has it (aws-simple-cicd#58: `'15'` of nodejs, then YAML_FILE_ERROR)."""
    return f"Selecting '{runtime}' runtime version '{value}' based on manual selections..."


class SelectionError(PhaseError):
    """A runtime or version the image lacks: CodeBuild's YAML_FILE_ERROR in DOWNLOAD_SOURCE;
    the hint is our one extra line: what this image has, and how to use another image."""

    status_code = "YAML_FILE_ERROR"

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def parse(text: str, image: str) -> dict[str, Runtime]:
    """The runtimes of an image's runtimes.yml; a malformed file is a SelectionError."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        raise _malformed(image, f"not YAML ({str(e).splitlines()[0]})") from e
    runtimes = _child(root, "runtimes")
    if not isinstance(runtimes, MappingNode):
        raise _malformed(image, "no `runtimes:` mapping")
    table: dict[str, Runtime] = {}
    for name_node, body in runtimes.value:
        name = str(name_node.value)
        versions: dict[str, tuple[str, ...]] = {}
        default = None
        entries = _child(body, "versions")
        for version_node, entry in entries.value if isinstance(entries, MappingNode) else []:
            commands = _commands(_child(entry, "commands"), image, name)
            if version_node.value == DEFAULT:
                default = commands
            else:
                versions[str(version_node.value)] = commands
        table[name] = Runtime(name, versions, default)
    return table


def _child(node: Node | None, key: str) -> Node | None:
    if not isinstance(node, MappingNode):
        return None
    return next((value for k, value in node.value if isinstance(k, ScalarNode) and k.value == key), None)


def _commands(node: Node | None, image: str, runtime: str) -> tuple[str, ...]:
    if node is None or (isinstance(node, ScalarNode) and node.tag.endswith(":null")):
        return ()
    if not isinstance(node, SequenceNode) or not all(isinstance(n, ScalarNode) for n in node.value):
        raise _malformed(image, f"runtime {runtime}: `commands` is not a list of commands")
    return tuple(str(n.value) for n in node.value)


def _malformed(image: str, why: str) -> SelectionError:
    return SelectionError(
        f"Invalid runtime configuration {RUNTIMES_FILE} in image {image}: {why}",
        f"{image}: fix its {RUNTIMES_FILE}, or select another build image with -i IMAGE",
    )


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """3.9 < 3.10 < 3.14; corretto8 < corretto17 (numbers as numbers, the rest as text)."""
    return tuple((0, int(t)) if t.isdigit() else (1, t) for t in re.findall(r"\d+|\D+", version))


def sorted_versions(runtime: Runtime) -> list[str]:
    return sorted(runtime.versions, key=version_key)


def expand(value: str, env: Mapping[str, str]) -> str:
    """`$VAR` / `${VAR}` from the build's variables (an unset one is empty, as in the shell)."""
    return _VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), ""), value)


def resolve(runtime: Runtime, value: str) -> str | None:
    """The image's version that `value` names: exact, `<prefix>.x` or `latest`; else None."""
    if value in runtime.versions:
        return value
    if value == "latest":
        candidates = list(runtime.versions)
    elif value.endswith(".x"):
        prefix = value[:-2]
        candidates = [v for v in runtime.versions if v == prefix or v.startswith(prefix + ".")]
    else:
        return None
    return max(candidates, key=version_key) if candidates else None


def select(table: Mapping[str, Runtime], requested: Mapping[str, str], image: str) -> list[Selection]:
    """The runtimes to install, in buildspec order, or the agent's error for the first miss.
    `requested` values have their variables expanded already (see `expand`)."""
    selections = []
    for name, value in requested.items():
        runtime = table.get(name)
        if runtime is None:
            names = ", ".join(sorted(table))
            raise SelectionError(
                f"Unknown runtime named '{name}'. This build image has the following runtimes: {names}",
                f"{image} has the runtimes {names or '(none)'}; {_ELSEWHERE}",
            )
        version = resolve(runtime, value)
        if version is not None:
            selections.append(Selection(name, version, runtime.versions[version]))
        elif runtime.default is not None and value and value != "latest" and not value.endswith(".x"):
            selections.append(Selection(name, value, _custom(runtime, value)))
        else:
            have = ", ".join(sorted_versions(runtime))
            raise SelectionError(
                f"Unknown runtime version named '{value}' of {name}. "
                f"This build image has the following versions: {have}",
                f"{image} has {name} {have or '(no version)'}; {_ELSEWHERE}",
            )
    return selections


_ELSEWHERE = (
    "-i IMAGE (pipeline.yml: build_image) selects another build image, "
    "e.g. a CodeBuild standard image where it can be pulled"
)


def _custom(runtime: Runtime, value: str) -> tuple[str, ...]:
    # CodeBuild's `default:` commands name the version as $VERSION; java's is the number of
    # `corretto<N>` (its commands install java-$VERSION-amazon-corretto-jdk).
    number = value.removeprefix("corretto") if runtime.name == "java" else value
    assert runtime.default is not None
    return tuple(re.sub(r"\$\{VERSION\}|\$VERSION\b", number, c) for c in runtime.default)
