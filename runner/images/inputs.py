"""A service's build inputs and their digest: what decides that a build can be skipped.

The inputs of a service are
- its files: everything git tracks under `path` (plus untracked, not ignored, files for a
  working-tree build), the `inputs:` paths of pipeline.yml, its buildspec, the Dockerfile,
  and the shared files the buildspec names (a word of the buildspec that is a path in the
  repository, taken from the repository root or from the service directory, also after
  `$CODEBUILD_SRC_DIR/`; a directory needs a `/` or that prefix to count);
- its settings: the build image id, the ids of the Dockerfile's FROM images, the image
  recipe with its build args, the service's variables, `privileged`, --env overrides.

Files are identified by git blob ids (`git ls-tree -r` for a commit; the same hash of the
content for the working tree), so a clean working tree and its commit have equal digests.
Over-inclusion only costs a rebuild; a missed input could reuse a stale image, which is
why the scan errs towards including.
"""

from __future__ import annotations

import functools
import hashlib
import json
import posixpath
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from runner.adapters import git as source
from runner.core.config import PipelineConfig, Service

SCHEME = "1"  # bump when the digest's definition changes: every service rebuilds once
_SPLIT = re.compile(r"[\s'\"=;|&()<>`,:\[\]]+")
_SRC_DIR = re.compile(r"^\$\{?CODEBUILD_SRC_DIR\}?/")
_FROM = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(\S+)(?:\s+AS\s+(\S+))?", re.IGNORECASE | re.MULTILINE)
_ARG = re.compile(r"^\s*ARG\s+([A-Za-z_][A-Za-z0-9_]*)(?:=(\S*))?", re.IGNORECASE | re.MULTILINE)
_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")
_SETTING_NAMES = {
    "build_image": "build image",
    "base_images": "Dockerfile base image",
    "recipe": "image recipe (pipeline.yml image:)",
    "variables": "variables (pipeline.yml)",
    "privileged": "privileged",
    "overrides": "--env overrides",
    "scheme": "input digest scheme",
}


@dataclass(frozen=True, slots=True)
class Inputs:
    files: Mapping[str, str]  # repo-relative path → "mode blob-id"
    settings: Mapping[str, str]

    @property
    def digest(self) -> str:
        text = json.dumps({"files": self.files, "settings": self.settings}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    def as_json(self) -> dict[str, Any]:
        return {"files": dict(self.files), "settings": dict(self.settings)}


def from_json(data: Mapping[str, Any]) -> Inputs:
    return Inputs(dict(data.get("files") or {}), dict(data.get("settings") or {}))


# ---------------------------------------------------------------- trees


@dataclass
class Tree:
    """The files of a commit, or of the working tree, with a way to read and identify each."""

    root: Path
    paths: list[str]
    entry: Callable[[str], str]
    read: Callable[[str], bytes | None]
    commit: str | None = None  # None: the working tree
    _entries: dict[str, str] = field(default_factory=dict)

    @cached_property
    def files(self) -> frozenset[str]:
        return frozenset(self.paths)

    @cached_property
    def dirs(self) -> frozenset[str]:
        found: set[str] = set()
        for path in self.paths:
            parent = posixpath.dirname(path)
            while parent and parent not in found:
                found.add(parent)
                parent = posixpath.dirname(parent)
        return frozenset(found)

    def under(self, prefix: str) -> list[str]:
        prefix = prefix.strip("/")
        if prefix in ("", "."):
            return list(self.paths)
        return [p for p in self.paths if p == prefix or p.startswith(prefix + "/")]

    def identify(self, path: str) -> str:
        if path not in self._entries:
            self._entries[path] = self.entry(path)
        return self._entries[path]


@functools.lru_cache(maxsize=16)  # a commit never changes: services and decisions share its listing
def commit_tree(repo: Path, commit: str) -> Tree:
    listing = source.tree_listing(repo, commit)

    def read(path: str) -> bytes | None:
        entry = listing.get(path)  # a file of the commit: "mode blob-id"
        return source.read_blob(repo, entry.split()[1]) if entry else None

    return Tree(root=repo, paths=sorted(listing), entry=listing.__getitem__, read=read, commit=commit)


def work_tree(repo: Path) -> Tree:
    def read(path: str) -> bytes | None:
        target = repo / path
        return target.read_bytes() if target.is_file() else None

    return Tree(
        root=repo,
        paths=source.worktree_paths(repo),
        entry=lambda path: source.worktree_entry(repo / path),
        read=read,
    )


# ---------------------------------------------------------------- collecting


def collect(
    config: PipelineConfig,
    service: Service,
    tree: Tree,
    image_id: Callable[[str], str | None],
    overrides: Mapping[str, str] | None = None,
) -> Inputs:
    """The inputs of one service in one tree; image_id(ref) answers from the engine."""
    selected = set(tree.under(service.path))
    for extra in service.inputs:
        selected.update(tree.under(_normal(extra)))
    buildspec = _normal(service.buildspec)
    dockerfile = _normal(posixpath.join(service.path, service.image.dockerfile))
    for path in (buildspec, dockerfile):
        if path in tree.files:
            selected.add(path)
    text = (tree.read(buildspec) or b"").decode("utf-8", "replace")
    for found in referenced_paths(text, service.path, tree):
        selected.update(tree.under(found))
    dockerfile_text = (tree.read(dockerfile) or b"").decode("utf-8", "replace")
    files = {path: tree.identify(path) for path in sorted(selected)}
    return Inputs(files, _settings(config, service, dockerfile_text, image_id, overrides or {}))


def _settings(
    config: PipelineConfig,
    service: Service,
    dockerfile_text: str,
    image_id: Callable[[str], str | None],
    overrides: Mapping[str, str],
) -> dict[str, str]:
    recipe = service.image
    refs = from_images(dockerfile_text, recipe.build_args)
    bases = [f"{ref} {('$' not in ref and image_id(ref)) or 'missing'}" for ref in refs]
    return {
        "scheme": SCHEME,
        "build_image": f"{config.build_image} {image_id(config.build_image) or 'missing'}",
        "base_images": "\n".join(bases),
        "recipe": json.dumps(
            {
                "dockerfile": recipe.dockerfile,
                "context": recipe.context,
                "from_artifacts": recipe.from_artifacts,
                "build_args": dict(recipe.build_args),
            },
            sort_keys=True,
        ),
        "variables": json.dumps(dict(service.variables), sort_keys=True),
        "privileged": str(service.privileged).lower(),
        "overrides": json.dumps(dict(overrides), sort_keys=True),
    }


def _normal(path: str) -> str:
    return posixpath.normpath(path.strip())


def referenced_paths(text: str, service_path: str, tree: Tree) -> set[str]:
    """Paths of the repository a buildspec names (shared scripts, buildspec fragments …)."""
    found: set[str] = set()
    service_path = _normal(service_path)
    for word in _SPLIT.split(text):
        stripped = _SRC_DIR.sub("", word)
        from_src = stripped != word
        if not stripped or "$" in stripped or stripped.startswith("-"):
            continue
        candidates = [stripped] if from_src else [stripped, posixpath.join(service_path, stripped)]
        for candidate in candidates:
            path = posixpath.normpath(candidate)
            if path.startswith(("..", "/")) or path == ".":
                continue
            # A bare word names a directory only from the service directory (`cp -r lib …`).
            named_dir = path in tree.dirs and ("/" in stripped or from_src or candidate != stripped)
            if path in tree.files or named_dir:
                found.add(path)
    # A parent of the service directory (e.g. `cd ..`) would make every file an input.
    return {p for p in found if not (service_path + "/").startswith(p + "/")}


def from_images(dockerfile_text: str, build_args: Mapping[str, str] | None = None) -> list[str]:
    """The images a Dockerfile starts from (stage names and scratch left out).

    `ARG NAME=default` lines before the first FROM, overridden by the build args, are
    substituted into `FROM $NAME` / `FROM ${NAME}`.
    """
    first = _FROM.search(dockerfile_text)
    head = dockerfile_text[: first.start()] if first else ""
    defaults = {m.group(1): m.group(2) for m in _ARG.finditer(head) if m.group(2) is not None}
    values = defaults | dict(build_args or {})
    stages: set[str] = set()
    refs: list[str] = []
    for match in _FROM.finditer(dockerfile_text):
        ref = _VARIABLE.sub(lambda v: values.get(v.group(1) or v.group(2), v.group(0)), match.group(1))
        alias = match.group(2)
        if ref.lower() != "scratch" and ref not in stages and ref not in refs:
            refs.append(ref)
        if alias:
            stages.add(alias)
    return refs


# ---------------------------------------------------------------- explaining


def changes(old: Inputs, new: Inputs, limit: int = 5) -> list[str]:
    """What differs between two input sets, in words ("2 files changed: a, b"; "build image changed")."""
    changed = sorted(
        path for path in set(old.files) | set(new.files) if old.files.get(path) != new.files.get(path)
    )
    said = []
    if changed:
        more = f" and {len(changed) - limit} more" if len(changed) > limit else ""
        shown = ", ".join(changed[:limit]) + more
        said.append(f"{len(changed)} file{'s' if len(changed) != 1 else ''} changed: {shown}")
    for key in sorted(set(old.settings) | set(new.settings)):
        if old.settings.get(key) != new.settings.get(key):
            said.append(f"{_SETTING_NAMES.get(key, key)} changed")
    return said
