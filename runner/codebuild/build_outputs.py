"""What a build leaves: its artifacts (uploaded where -a says, else under the runner home)
and its test and coverage reports (masked, copied where -r says), read from paths whose
variables the build's final shell state decides (CODEBUILD.md decision 23)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from runner.codebuild.artifacts import upload
from runner.codebuild.build_paths import BuildPaths, expand_report
from runner.codebuild.build_result import BuildRequest
from runner.codebuild.buildspec import Artifacts, ReportSpec
from runner.codebuild.globs import PathEscape
from runner.codebuild.reports import Report, build_report, copy_reports, log_line, mask_report
from runner.codebuild.workspace import Workspace
from runner.core.secrets import Masker


def upload_artifacts(
    space: Workspace,
    artifacts: Artifacts,
    paths: BuildPaths,
    out: Path,
    withheld: tuple[Path, ...],
    say: Callable[[str], None],
) -> dict[str, list[str]]:
    """Every artifact block written to `out`; `withheld` (the secrets file) is never selected."""
    uploaded = upload(space.src, paths.artifacts(artifacts), out, paths.locate, withheld)
    say(f"Expanding {len(uploaded.get('artifacts', []))} file(s) into {out}")
    return uploaded


def make_reports(
    space: Workspace,
    specs: tuple[ReportSpec, ...],
    paths: BuildPaths,
    request: BuildRequest,
    masker: Masker,
    say: Callable[[str], None],
) -> list[Report]:
    reports = [mask_report(_report(space, spec, paths, request.project), masker) for spec in specs]
    for report in reports:
        say(log_line(report))
    if request.reports_dir:
        copy_reports(space.src, reports, request.reports_dir)
    return reports


def _report(space: Workspace, spec: ReportSpec, paths: BuildPaths, project: str) -> Report:
    group = f"{project}-{spec.name}"
    try:
        expanded = expand_report(spec, paths.values.variables)
    except PathEscape as e:
        return Report(group, spec.file_format, "INCOMPLETE", problem=str(e))
    return build_report(space.src, expanded, group, paths.locate)
