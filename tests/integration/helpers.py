"""Helpers for integration tests: run a buildspec for real and read its result."""

from __future__ import annotations

import textwrap
from pathlib import Path

from runner.codebuild.build import BuildRequest, BuildResult, run_build
from runner.images.base import BUILD
from runner.store import open_store


def write_project(root: Path, buildspec: str, files: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "buildspec.yml").write_text(textwrap.dedent(buildspec))
    for name, content in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def build(root: Path, home: Path, lines: list[str] | None = None, **options: object) -> BuildResult:
    request = BuildRequest(
        source=root,
        buildspec=root / "buildspec.yml",
        image=str(options.pop("image", BUILD)),
        project=str(options.pop("project", "test")),
        work_dir=home / "work",
        cache_dir=home / "cache",
        **options,  # type: ignore[arg-type]
    )
    shown = lines if lines is not None else []
    return run_build(request, open_store(home), show=shown.append)


def phase_statuses(result: BuildResult) -> dict[str, str]:
    return {p.name: p.status for p in result.phases}


def run(tmp_path: Path, home: Path, spec: str, **options: object) -> tuple[BuildResult, list[str]]:
    """A build of `spec` in tmp_path/src, with the lines it printed."""
    root = write_project(tmp_path / "src", spec, options.pop("files", None))  # type: ignore[arg-type]
    lines: list[str] = []
    return build(root, home, lines, **options), lines


def output(lines: list[str]) -> list[str]:
    """What the commands printed (without the runner's own `[Container]` lines)."""
    return [line for line in lines if not line.startswith("[Container] ")]


def container(lines: list[str]) -> list[str]:
    """The runner's `[Container]` lines without their timestamp."""
    return [line.split(" ", 3)[3] for line in lines if line.startswith("[Container] ")]
