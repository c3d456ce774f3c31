"""Artifact selection (CodeBuild's files/base-directory/discard-paths/exclude-paths) and output.

With `-a DIR`, the primary artifact is written as DIR/artifacts.zip (what AWS's local
agent writes) and unpacked in DIR/artifacts/; a secondary artifact ID as DIR/ID.zip
and DIR/ID/. Nothing outside the source directory is ever read: `..`, absolute paths
and symlinks that point outside are refused. An absolute base-directory is a path in
the build container: runner/codebuild/build_paths.py copies it out and `locate` says where.
"""

from __future__ import annotations

import os
import shutil
import stat
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runner.codebuild.buildspec import Artifacts, ArtifactSpec
from runner.codebuild.globs import (
    Entry,
    Locate,
    PathEscape,
    base_directories,
    check_relative,
    inside,
    locate_base,
    select,
    walk,
)
from runner.errors import RunnerError

PRIMARY = "artifacts"
ARTIFACTS_EVENT = "build.artifacts"  # recorded before writing; data: {"dir": the output directory}


class ArtifactError(RunnerError):
    """UPLOAD_ARTIFACTS failed: the message is the phase context (CLIENT_ERROR)."""


@dataclass(frozen=True, slots=True)
class Selected:
    source: Path
    dest: str  # the path inside the artifact
    link_target: str | None = None  # kept as a symlink (enable-symlinks)


def collect(
    src_root: Path, spec: ArtifactSpec, locate: Locate | None = None, withheld: tuple[Path, ...] = ()
) -> list[Selected]:
    """The files an artifact block selects, refusing anything that leaves its root.
    `withheld` (the build's secrets file, inside a -m mounted source) is never selected."""
    never = {os.path.realpath(p) for p in withheld}
    try:
        root, base_directory = locate_base(src_root, spec.base_directory, locate)
        patterns = [check_relative(p) for p in spec.files]
        excludes = [check_relative(p) for p in spec.exclude_paths]
        bases = base_directories(root, base_directory)
    except PathEscape as e:
        raise ArtifactError(str(e)) from e
    if spec.base_directory and not bases:
        # CodeBuild's words (aws/aws-cdk#28519), CODEBUILD.md decision 23.
        raise ArtifactError(f"no matching base directory path found for {spec.base_directory}")
    chosen: dict[str, Selected] = {}
    for base in bases:
        entries, dirs = walk(base)
        for entry in select(entries, dirs, patterns, excludes):
            item = _selected(root, entry, spec)
            if item is not None and os.path.realpath(item.source) not in never:
                chosen.setdefault(item.dest, item)
    if not chosen:
        raise ArtifactError("no matching artifact paths found")
    return sorted(chosen.values(), key=lambda s: s.dest)


def _selected(src_root: Path, entry: Entry, spec: ArtifactSpec) -> Selected | None:
    dest = entry.rel.rsplit("/", 1)[-1] if spec.discard_paths else entry.rel
    if not entry.is_link:
        return Selected(entry.path, dest)
    target = os.readlink(entry.path)
    if not inside(src_root, entry.path):
        raise ArtifactError(f"{entry.rel} is a symlink to {target}, outside the source directory; refused")
    if spec.enable_symlinks:
        return Selected(entry.path, dest, link_target=target)
    if entry.path.resolve().is_dir():
        return None  # a link to a directory inside the workspace: its files are listed anyway
    return Selected(entry.path.resolve(), dest)


def write(selected: list[Selected], out_dir: Path, name: str) -> Path:
    """Write name.zip and the unpacked tree name/ under out_dir; returns the zip path.

    name.zip.partial exists for exactly as long as name/ is incomplete: a crash leaves it
    behind as the sign that both are to be discarded (`discard_partial`, run by recovery).
    """
    tree, zip_path = out_dir / name, out_dir / f"{name}.zip"
    partial = out_dir / f"{name}.zip.partial"
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            zip_path.unlink(missing_ok=True)  # the previous result goes as a whole
            if tree.exists():
                shutil.rmtree(tree)
            tree.mkdir(parents=True)
            for item in selected:
                _add(archive, tree, item)
        os.replace(partial, zip_path)  # never a half-written zip under its real name
    except BaseException:
        discard_partial(out_dir)
        raise
    return zip_path


def _add(archive: zipfile.ZipFile, tree: Path, item: Selected) -> None:
    target = tree / item.dest
    target.parent.mkdir(parents=True, exist_ok=True)
    if item.link_target is not None:
        os.symlink(item.link_target, target)
        info = zipfile.ZipInfo(item.dest)
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        archive.writestr(info, item.link_target)
    else:
        shutil.copy2(item.source, target)
        archive.write(item.source, item.dest)


def discard_partial(out_dir: Path) -> list[str]:
    """Remove what an interrupted `write` left in out_dir; returns the names removed."""
    removed = []
    for partial in sorted(out_dir.glob("*.zip.partial")):
        name = partial.name.removesuffix(".zip.partial")
        shutil.rmtree(out_dir / name, ignore_errors=True)
        partial.unlink(missing_ok=True)
        removed.append(name)
    return removed


def upload(
    src_root: Path,
    artifacts: Artifacts,
    out_dir: Path,
    locate: Locate | None = None,
    withheld: tuple[Path, ...] = (),
) -> dict[str, list[str]]:
    """Collect and write every artifact; returns the relative paths per identifier."""
    blocks: Mapping[str, ArtifactSpec] = {PRIMARY: artifacts.primary, **artifacts.secondary}
    collected = {ident: collect(src_root, spec, locate, withheld) for ident, spec in blocks.items()}
    out_dir.mkdir(parents=True, exist_ok=True)
    for ident, selected in collected.items():
        write(selected, out_dir, ident)
    return {ident: [s.dest for s in selected] for ident, selected in collected.items()}
