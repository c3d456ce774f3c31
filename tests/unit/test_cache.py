"""The build cache: keys, fallback keys, actions, and save/restore of workspace paths
(runner/cache.py). Absolute paths need containers: tests/integration/test_build_outputs.py."""

from __future__ import annotations

import io
import os
import tarfile
import time
from pathlib import Path

import pytest

from runner.codebuild import workspace
from runner.codebuild.buildspec import CacheSpec
from runner.codebuild.cache import evaluate_key, hash_files, restore, save
from runner.codebuild.phase_runner import PhaseSetup
from tests.unit.process_executor import ProcessExecutor


def _space(tmp: Path, files: dict[str, str]) -> workspace.Workspace:
    source = tmp / "source"
    source.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text)
    space = workspace.create(tmp / "work", f"b{time.monotonic_ns()}", source, mount_source=False)
    workspace.copy_source(source, space)
    return space


def _setup(space: workspace.Workspace, env: dict[str, str] | None = None) -> PhaseSetup:
    return PhaseSetup(
        executor=ProcessExecutor(),
        image="unused",
        env=env or {},
        mounts=space.mounts(),
        workdir=space.container_src,
        user=None,
        privileged=False,
        labels={},
        shell="sh",
        tmp_host=space.tmp,
        tmp_container=space.container_tmp,
        nonce="n",
        snapshot_ref="runner-snapshot/test:1",
        snapshot_labels={},
    )


def test_evaluate_key(tmp_path: Path) -> None:
    (tmp_path / "package-lock.json").write_text("v1")
    digest = hash_files(tmp_path, ["package-lock.json"])
    assert evaluate_key(None, tmp_path, {}) == "default"
    assert evaluate_key("npm-$(codebuild-hash-files package-lock.json)", tmp_path, {}) == f"npm-{digest}"
    assert evaluate_key("k-$OS-${ARCH}-$MISSING", tmp_path, {"OS": "linux", "ARCH": "x64"}) == "k-linux-x64-"
    # Nothing in a key can name a path outside the cache directory.
    assert evaluate_key("../../etc/x y", tmp_path, {}) == ".._.._etc_x_y"


def test_hash_files_follows_content_and_never_reads_outside(tmp_path: Path) -> None:
    (tmp_path / "a.lock").write_text("one")
    before = hash_files(tmp_path, ["*.lock"])
    (tmp_path / "a.lock").write_text("two")
    assert hash_files(tmp_path, ["*.lock"]) != before
    os.symlink("/dev/zero", tmp_path / "z.lock")  # reading it would never end
    os.symlink("/etc/passwd", tmp_path / "p.lock")
    assert hash_files(tmp_path, ["*.lock"]) == hash_files(tmp_path, ["a.lock"])


def test_save_then_restore_by_exact_key(tmp_path: Path) -> None:
    said: list[str] = []
    cache_dir = tmp_path / "cache"
    spec = CacheSpec(paths=("deps/**/*",), key="deps-$(codebuild-hash-files lock)")
    first = _space(tmp_path, {"lock": "1", "deps/a/lib.txt": "lib", "other.txt": "not cached"})
    save(spec, cache_dir, first, "unused", _setup(first), said.append)
    key = evaluate_key(spec.key, first.src, {})
    assert said == [f"Cache saved: key {key}"]
    second = _space(tmp_path / "2", {"lock": "1"})
    assert restore(spec, cache_dir, second, said.append) == cache_dir / f"{key}.tar"
    assert said[-1] == f"Cache hit: key {key}"
    assert (second.src / "deps" / "a" / "lib.txt").read_text() == "lib"
    assert not (second.src / "other.txt").exists()


def test_fallback_keys_match_by_prefix_newest_first(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    for name, age in (("npm-old", 100), ("npm-new", 10), ("pip-x", 0)):
        path = cache_dir / f"{name}.tar"
        _space(tmp_path / name, {"deps/f": name})
        with tarfile.open(path, "w") as tar:
            tar.add(tmp_path / name / "source" / "deps" / "f", arcname="src/deps/f")
        os.utime(path, (time.time() - age, time.time() - age))
    said: list[str] = []
    space = _space(tmp_path / "b", {})
    spec = CacheSpec(paths=("deps/**/*",), key="npm-missing", fallback_keys=("yarn-", "npm-"))
    restore(spec, cache_dir, space, said.append)
    assert said == ["Cache miss: key npm-missing", "Cache hit: key npm-new (fallback key npm-)"]
    assert (space.src / "deps" / "f").read_text() == "npm-new"
    # Without `key`, fallback keys are ignored (AWS) and the key is "default".
    said.clear()
    restore(CacheSpec(paths=("deps/**/*",), fallback_keys=("npm-",)), cache_dir, space, said.append)
    assert said == ["Cache miss: key default"]


def test_actions_restore_only_and_save_only(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    said: list[str] = []
    space = _space(tmp_path, {"deps/f": "x"})
    save(CacheSpec(paths=("deps/**/*",), action="restore"), cache_dir, space, "i", _setup(space), said.append)
    assert said == [] and not cache_dir.exists()
    save(CacheSpec(paths=("deps/**/*",), action="save"), cache_dir, space, "i", _setup(space), said.append)
    assert said == ["Cache saved: key default"]
    assert restore(CacheSpec(paths=("deps/**/*",), action="save"), cache_dir, space, said.append) is None
    assert said == ["Cache saved: key default"]


@pytest.mark.parametrize("path", ["../outside/**/*", "deps/../../x"])
def test_paths_leaving_the_workspace_are_refused(tmp_path: Path, path: str) -> None:
    said: list[str] = []
    space = _space(tmp_path, {"deps/f": "x"})
    spec = CacheSpec(paths=(path,))
    save(spec, tmp_path / "cache", space, "i", _setup(space), said.append)
    restore(spec, tmp_path / "cache", space, said.append)
    assert said == [
        f"Cache not saved: {path!r} contains '..'; paths cannot leave the source directory",
        f"Cache not restored: {path!r} contains '..'; paths cannot leave the source directory",
    ]
    assert not (tmp_path / "cache").exists()


def test_cache_archive_cannot_write_outside_the_workspace(tmp_path: Path) -> None:
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    with tarfile.open(cache_dir / "default.tar", "w") as tar:
        data = b"pwned"
        info = tarfile.TarInfo("src/../../escaped.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    space = _space(tmp_path, {})
    said: list[str] = []
    assert restore(CacheSpec(paths=("deps/**/*",)), cache_dir, space, said.append) is None
    assert said[-1].startswith("Cache not restored: default.tar: ") and "outside the destination" in said[-1]
    assert not (space.output / "escaped.txt").exists()
