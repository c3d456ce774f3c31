"""The build cache (`cache.paths`, `key`, `fallback-keys`, `action`), kept in a local directory.

Paths relative to the source directory are saved from and restored into the
workspace on the host. Absolute paths (e.g. /root/.m2/**/*) live in the build
container's filesystem: they are collected by a short helper container from the
build's last snapshot, and restored into a new snapshot before INSTALL.
`key` may use `$(codebuild-hash-files GLOB…)` and `$VAR`; a key is matched exactly,
fallback keys by prefix (newest first). Reference: CODEBUILD.md section 1.6.
"""

from __future__ import annotations

import hashlib
import os
import re
import tarfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from runner.adapters.executor import RunRequest
from runner.codebuild.buildspec import CacheSpec
from runner.codebuild.globs import PathEscape, check_relative, inside, select, walk
from runner.codebuild.workspace import Workspace

if TYPE_CHECKING:
    from runner.codebuild.phase_runner import PhaseSetup

DEFAULT_KEY = "default"
_HASH_FILES = re.compile(r"\$\(codebuild-hash-files\s+([^)]*)\)")
_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")


def evaluate_key(template: str | None, src: Path, env: dict[str, str]) -> str:
    if not template:
        return DEFAULT_KEY
    key = _HASH_FILES.sub(lambda m: hash_files(src, m.group(1).split()), template)
    key = _VAR.sub(lambda m: env.get(m.group(1), ""), key)
    return re.sub(r"[^A-Za-z0-9._-]+", "_", key)


def hash_files(src: Path, patterns: list[str]) -> str:
    entries, dirs = walk(src)
    digest = hashlib.sha256()
    for entry in select(entries, dirs, [check_relative(p) for p in patterns]):
        if entry.is_link and (not inside(src, entry.path) or not entry.path.resolve().is_file()):
            continue  # never read through a link to outside the workspace
        digest.update(entry.rel.encode() + b"\0" + entry.path.read_bytes())
    return digest.hexdigest()


def _split(spec: CacheSpec) -> tuple[list[str], list[str]]:
    relative = [check_relative(p) for p in spec.paths if not p.startswith("/")]
    absolute = [p for p in spec.paths if p.startswith("/")]
    return relative, absolute


def restore(
    spec: CacheSpec,
    cache_dir: Path,
    space: Workspace,
    say: Callable[[str], None],
    env: dict[str, str] | None = None,
) -> Path | None:
    """Unpack the best matching cache into the workspace; returns the archive used."""
    if spec.action == "save":
        return None
    try:
        key = evaluate_key(spec.key, space.src, env or {})
        fallbacks = tuple(evaluate_key(k, space.src, env or {}) for k in spec.fallback_keys)
        _split(spec)
    except PathEscape as e:
        say(f"Cache not restored: {e}")
        return None
    found = _find(cache_dir, key, fallbacks if spec.key else ())
    if found is None or found.stem != key:
        say(f"Cache miss: key {key}")
    if found is None:
        return None
    matched = next((k for k in fallbacks if found.stem.startswith(k)), None) if found.stem != key else None
    say(f"Cache hit: key {found.stem}" + (f" (fallback key {matched})" if matched else ""))
    try:
        _unpack(found, space)
    except (tarfile.TarError, OSError) as e:  # a damaged (or doctored) archive: build without it
        say(f"Cache not restored: {found.name}: {e}")
        return None
    return found


def _unpack(archive: Path, space: Workspace) -> None:
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.name.startswith("src/"):
                member.name = member.name[len("src/") :]
                tar.extract(member, space.src, filter="data")
            elif member.name.startswith("abs/"):
                tar.extract(member, space.tmp / "cache-restore", filter="data")


def _find(cache_dir: Path, key: str, fallbacks: tuple[str, ...]) -> Path | None:
    exact = cache_dir / f"{key}.tar"
    if exact.is_file():
        return exact
    for prefix in fallbacks:
        candidates = sorted(cache_dir.glob(f"{_safe(prefix)}*.tar"), key=os.path.getmtime, reverse=True)
        if candidates:
            return candidates[0]
    return None


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text)


def restore_absolute_paths(space: Workspace, setup: PhaseSetup) -> str | None:
    """Copy restored absolute-path files into a new snapshot image; None if there are none."""
    staged = space.tmp / "cache-restore" / "abs"
    if not staged.is_dir():
        return None
    command = ["/bin/sh", "-c", f"cp -a {space.container_tmp}/cache-restore/abs/. /"]
    container = setup.executor.start(replace(_request(setup), command=command))
    try:
        container.wait(timeout_s=600)
        return container.commit(f"{setup.snapshot_ref}-cache", setup.labels, setup.saving.secrets)
    finally:
        container.remove()


def save(
    spec: CacheSpec,
    cache_dir: Path,
    space: Workspace,
    image: str,
    setup: PhaseSetup,
    say: Callable[[str], None],
) -> None:
    if spec.action == "restore":
        return
    try:
        key = evaluate_key(spec.key, space.src, setup.env)
        relative, absolute = _split(spec)
    except PathEscape as e:
        say(f"Cache not saved: {e}")
        return
    cache_dir.mkdir(parents=True, exist_ok=True)
    partial = cache_dir / f"{key}.tar.partial"
    with tarfile.open(partial, "w") as tar:
        entries, dirs = walk(space.src)
        for entry in select(entries, dirs, relative):
            if not entry.is_link or inside(space.src, entry.path):
                tar.add(str(entry.path), arcname=f"src/{entry.rel}", recursive=False)
        if absolute:
            _add_absolute(tar, absolute, space, image, setup)
    os.replace(partial, cache_dir / f"{key}.tar")
    say(f"Cache saved: key {key}")


def _add_absolute(
    tar: tarfile.TarFile, patterns: list[str], space: Workspace, image: str, setup: PhaseSetup
) -> None:
    # Globs on absolute paths: take the directory part before the first wildcard.
    roots = sorted({re.split(r"[*?\[]", p, maxsplit=1)[0].rstrip("/") or "/" for p in patterns})
    out = f"{space.container_tmp}/cache-abs.tar"
    quoted = " ".join(f"'{r.lstrip('/')}'" for r in roots)
    command = [
        "/bin/sh",
        "-c",
        f"cd / && tar -cf {out} --ignore-failed-read {quoted} 2>/dev/null; exit 0",
    ]
    container = setup.executor.start(replace(_request(setup), image=image, command=command))
    try:
        container.wait(timeout_s=600)
    finally:
        container.remove()
    host_tar = space.tmp / "cache-abs.tar"
    if host_tar.is_file():
        with tarfile.open(host_tar) as source:
            for member in source.getmembers():
                extracted = source.extractfile(member) if member.isfile() else None
                member.name = f"abs/{member.name}"
                tar.addfile(member, extracted)
        host_tar.unlink()


def _request(setup: PhaseSetup) -> RunRequest:
    return RunRequest(
        image=setup.image,
        command=[],
        env=setup.env,
        labels=setup.labels,
        workdir=setup.workdir,
        mounts=setup.mounts,
        user=None,
    )
