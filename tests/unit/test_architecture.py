"""The layout ARCHITECTURE.md describes, held against the code: import direction, no loops,
one owner for the docker SDK, no importlib indirection."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

RUNNER = Path(__file__).resolve().parents[2] / "runner"

# package → the packages of ours it may import (lazily or not); the top-level helpers
# (errors, paths, output, terminal, __init__) are open to all.
ALLOWED: dict[str, set[str]] = {
    "adapters": set(),
    "core": {"events", "localaws"},  # the pure rule and mode grammars pipeline.yml carries
    "store": {"core", "adapters", "events"},  # events.shapes: an event in its state's transaction
    "events": {"store", "core", "adapters"},
    "localaws": {"store", "core", "adapters"},
    "images": {"store", "core", "adapters"},
    "codedeploy": {"images", "store", "core", "adapters"},
    "codebuild": {"images", "localaws", "store", "core", "adapters"},
    "codepipeline": {"codebuild", "codedeploy", "images", "localaws", "store", "core", "adapters"},
}
HELPERS = {"errors", "paths", "output", "terminal", "__init__"}


def modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(RUNNER.rglob("*.py")):
        parts = path.relative_to(RUNNER.parent).with_suffix("").parts
        yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def imports(path: Path, module_level_only: bool) -> Iterator[str]:
    """What a module imports when it runs (imports for type checkers only are left out)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    nodes = tree.body if module_level_only else list(runtime_nodes(tree))
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield from (f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)


def runtime_nodes(node: ast.AST) -> Iterator[ast.AST]:
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.unparse(child.test):
            yield from (n for other in child.orelse for n in [other, *runtime_nodes(other)])
            continue
        yield child
        yield from runtime_nodes(child)


def package(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_packages_import_only_downwards() -> None:
    wrong = []
    for module, path in modules():
        own = package(module)
        if own not in ALLOWED:
            continue
        for name in imports(path, module_level_only=False):
            other = package(name)
            if name.startswith("runner.") and other not in HELPERS | {own} | ALLOWED[own]:
                wrong.append(f"{module} imports {name}")
    assert wrong == []


def test_no_import_loop() -> None:
    """Not even through imports inside functions: a loop there is a knot all the same."""
    known = dict(modules())
    graph: dict[str, set[str]] = {}
    for module, path in known.items():
        targets = set()
        for name in imports(path, module_level_only=False):
            target = name if name in known else name.rpartition(".")[0]
            if target in known and target != module:
                targets.add(target)
        graph[module] = targets
    assert [cycle for cycle in strongly_connected(graph) if len(cycle) > 1] == []


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for other in graph[node]:
            if other not in index:
                visit(other)
                low[node] = min(low[node], low[other])
            elif other in stack:
                low[node] = min(low[node], index[other])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            found.append(component)

    for node in graph:
        if node not in index:
            visit(node)
    return found


def test_only_the_docker_adapter_imports_the_docker_sdk() -> None:
    owners = {
        module
        for module, path in modules()
        for name in imports(path, module_level_only=False)
        if name == "docker" or name.startswith("docker.")
    }
    assert owners and all(m.startswith("runner.adapters.docker") for m in owners), owners


def test_importlib_loads_only_the_cli_s_commands() -> None:
    users = {
        module
        for module, path in modules()
        if "import_module(" in path.read_text(encoding="utf-8")
    }
    assert users == {"runner.cli"}
