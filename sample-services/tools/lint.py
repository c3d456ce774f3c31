#!/usr/bin/env python3
"""Stdlib-only checks of service directories before their tests run (the build image has no linters).

    python3 tools/lint.py catalog lib

- every .py file compiles (syntax errors, with file:line), without writing .pyc files;
- no module imports a name it never uses (the commonest slip a linter catches);
- settings.json is a JSON object with valid fault settings (a typo there would ship);
- every file in hooks/ is executable (the deploy runs them as programs).
Prints one line per problem, `file:line: message`, and exits 1 when there is any.
Each directory named is checked (default: the current one).
"""

from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path

SKIP_DIRS = {"__pycache__", ".git", "reports", "bundle"}
SETTINGS_TYPES = {
    "version": (str,),
    "error_rate": (int, float),
    "healthy": (bool,),
    "latency_ms": (int,),
    "fault_environments": (list,),
}


def python_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for directory, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS)
        found.extend(Path(directory) / f for f in sorted(files) if f.endswith(".py"))
    hooks = root / "hooks"
    if hooks.is_dir():  # hooks without an extension are Python too when their shebang says so
        found.extend(p for p in sorted(hooks.iterdir()) if p.is_file() and _python_shebang(p))
    return found


def _python_shebang(path: Path) -> bool:
    if path.suffix:
        return False
    with path.open("rb") as f:
        first = f.readline()
    return first.startswith(b"#!") and b"python" in first


def check_python(path: Path) -> list[str]:
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except SyntaxError as e:
        return [f"{path}:{e.lineno}: syntax error: {e.msg}"]
    return unused_imports(path, tree)


def unused_imports(path: Path, tree: ast.Module) -> list[str]:
    imported: dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imported[(alias.asname or alias.name).split(".")[0]] = node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            for alias in node.names:
                imported[alias.asname or alias.name] = node.lineno
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    used |= {_root_name(n) for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    used |= _names_in_strings(tree)  # string annotations and __all__
    return [
        f"{path}:{line}: {name!r} imported but unused" for name, line in imported.items() if name not in used
    ]


def _root_name(node: ast.expr) -> str:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def _names_in_strings(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.isidentifier():
            names.add(node.value)
    return names


def check_settings(path: Path) -> list[str]:
    if not path.is_file():
        return []
    try:
        data = json.loads(path.read_text())
    except ValueError as e:
        return [f"{path}:{getattr(e, 'lineno', 1)}: not valid JSON: {e}"]
    if not isinstance(data, dict):
        return [f"{path}:1: expected a JSON object"]
    problems = [f"{path}:1: unknown key {key!r}" for key in data if key not in SETTINGS_TYPES]
    for key, types in SETTINGS_TYPES.items():
        value = data.get(key)
        if key in data and (not isinstance(value, types) or (bool in types) != isinstance(value, bool)):
            problems.append(
                f"{path}:1: {key}: expected {' or '.join(t.__name__ for t in types)}, got {value!r}"
            )
    rate = data.get("error_rate", 0)
    if isinstance(rate, (int, float)) and not 0 <= rate <= 1:
        problems.append(f"{path}:1: error_rate: expected a share between 0 and 1, got {rate!r}")
    if isinstance(data.get("latency_ms", 0), int) and data.get("latency_ms", 0) < 0:
        problems.append(f"{path}:1: latency_ms: expected >= 0")
    return problems


def check_hooks(root: Path) -> list[str]:
    hooks = root / "hooks"
    if not hooks.is_dir():
        return []
    return [
        f"{p}:1: hook is not executable (chmod +x)"
        for p in sorted(hooks.iterdir())
        if p.is_file() and not os.access(p, os.X_OK)
    ]


def main(argv: list[str]) -> int:
    roots = [Path(arg) for arg in argv] or [Path(".")]
    files = [f for root in roots for f in python_files(root)]
    problems = [p for f in files for p in check_python(f)]
    for root in roots:
        problems += check_settings(root / "settings.json") + check_hooks(root)
    for problem in problems:
        print(problem)
    where = " and ".join(str(root) for root in roots)
    print(f"lint: {len(files)} Python file(s) in {where}, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
