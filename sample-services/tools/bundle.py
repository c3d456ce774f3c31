#!/usr/bin/env python3
"""Assemble a service's deployable bundle: its files without its tests, plus the shared lib/ modules.

    python3 tools/bundle.py catalog /tmp/catalog-bundle        # from the project root

The bundle is the build's primary artifact and the image's build context (pipeline.yml
`image: {from_artifacts: true}`): the service's Dockerfile, app.py, settings.json, hooks …
with lib's modules (kit.py) beside app.py, where the image runs them. Left out: the
service's test directory (--exclude, default tests), __pycache__ and *.pyc. OUT must not
exist or be empty. Exits 0; 1 when a service file has a lib module's name (one would
silently replace the other); 2 on bad usage.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

LIB = Path(__file__).resolve().parent.parent / "lib"  # tools/ and lib/ sit side by side
SKIP_NAMES = {"__pycache__"}


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("service", help="the service directory")
    parser.add_argument("out", help="the bundle directory to write")
    parser.add_argument("--lib", default=str(LIB), help="directory of the shared modules (default: lib/)")
    parser.add_argument(
        "--exclude",
        action="append",
        help="a path inside the service to leave out (repeatable; default: tests)",
    )
    return parser.parse_args(argv)


def shared_modules(lib: Path) -> list[Path]:
    return sorted(p for p in lib.glob("*.py") if p.is_file())


def clashes(service: Path, modules: list[Path]) -> list[str]:
    named = [m for m in modules if (service / m.name).exists()]
    return [f"{service / m.name}: a service file named like {m} (rename it)" for m in named]


def bundle(service: Path, out: Path, modules: list[Path], exclude: list[str]) -> int:
    """Copy the service (keeping modes and links) and the modules into out; how many files."""
    left_out = {os.path.abspath(service / e) for e in exclude} | {os.path.abspath(out)}

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in SKIP_NAMES or n.endswith(".pyc")}
        return skipped | {n for n in names if os.path.abspath(os.path.join(directory, n)) in left_out}

    shutil.copytree(service, out, symlinks=True, ignore=ignore, dirs_exist_ok=True)
    for module in modules:
        shutil.copy2(module, out / module.name)
    return sum(len(files) for _dir, _dirs, files in os.walk(out))


def main(argv: list[str]) -> int:
    args = parse(argv)
    service, out, lib = Path(args.service), Path(args.out), Path(args.lib)
    problem = ""
    if not service.is_dir():
        problem = f"no service directory {service}"
    elif not lib.is_dir():
        problem = f"no lib directory {lib}"
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        problem = f"{out} exists and is not an empty directory"
    if problem:
        print(f"bundle: {problem}", file=sys.stderr)
        return 2
    modules = shared_modules(lib)
    found = clashes(service, modules)
    for line in found:
        print(f"bundle: {line}", file=sys.stderr)
    if found:
        return 1
    count = bundle(service, out, modules, args.exclude or ["tests"])
    names = ", ".join(m.name for m in modules) or "nothing"
    print(f"bundle: {service} + {lib} ({names}) -> {out}: {count} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
