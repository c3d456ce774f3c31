"""What a build is asked to do (the request, its validated inputs) and what it gives back
(the `--json` shape), as plain records."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from runner.codebuild import buildspec_loader
from runner.codebuild.batch import BatchMember
from runner.codebuild.buildspec import Buildspec
from runner.codebuild.reports import Report
from runner.codebuild.runtimes import SKIP_WARNING
from runner.codebuild.secondary_sources import SecondarySource
from runner.core.secrets import load_secrets, resolve

RUNTIME_WARNING = SKIP_WARNING


@dataclass(frozen=True, slots=True)
class BuildRequest:
    source: Path
    buildspec: Path
    image: str
    project: str
    work_dir: Path
    service: str | None = None
    artifacts_dir: Path | None = None
    reports_dir: Path | None = None
    overrides: Mapping[str, str] = field(default_factory=dict)
    project_env: Mapping[str, str] = field(default_factory=dict)
    mount_source: bool = False
    privileged: bool = False
    secrets_file: Path | None = None
    timeout_min: float = 60.0
    initiator: str = field(default_factory=getpass.getuser)
    region: str = "us-east-1"
    memory: str | None = None
    source_version: str | None = None
    resolved_source_version: str | None = None
    cache_dir: Path | None = None
    network: str | None = None  # a docker network to join (the test stage joins staging's)
    secondary_sources: tuple[SecondarySource, ...] = ()  # -s IDENTIFIER:DIR, in order
    batch: BatchMember | None = None  # a task of `runner build --batch`
    # When the build was asked for (None: when run_build is called). CodeBuild's startTime
    # is the StartBuild call; what happens until the build runs is its SUBMITTED phase.
    submitted: float | None = None
    aws_account: str | None = None  # --aws local: the local AWS's account (None: --aws none)

    def as_json(self) -> dict[str, Any]:
        """The request as the store keeps it with the build (the secrets file's path, no secret value)."""
        data: dict[str, Any] = {f.name: getattr(self, f.name) for f in fields(self)}
        data |= {name: str(data[name]) for name in _PATH_FIELDS if data[name] is not None}
        data["overrides"], data["project_env"] = dict(self.overrides), dict(self.project_env)
        data["secondary_sources"] = [[s.identifier, str(s.path)] for s in self.secondary_sources]
        # A re-run is a new, single build: asked for now, outside any batch.
        del data["submitted"], data["batch"]
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> BuildRequest:
        values = {f.name: data[f.name] for f in fields(cls) if f.name in data}
        values |= {name: Path(values[name]) for name in _PATH_FIELDS if values.get(name) is not None}
        values["secondary_sources"] = tuple(
            SecondarySource(ident, Path(path)) for ident, path in values.get("secondary_sources", ())
        )
        return cls(**values)


_PATH_FIELDS = (
    "source",
    "buildspec",
    "work_dir",
    "artifacts_dir",
    "reports_dir",
    "secrets_file",
    "cache_dir",
)


@dataclass(frozen=True, slots=True)
class PhaseRecord:
    name: str
    status: str
    started: float
    ended: float
    context: list[dict[str, str]]
    snapshot: str | None = None  # the image this phase started from (for `runner debug`)
    retried: bool = False  # a failed attempt that on-failure RETRY ran again

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "duration_s": round(self.ended - self.started, 3),
            "context": self.context[0]["message"] if self.context else "",
            "status_code": self.context[0]["status_code"] if self.context else "",
        }


@dataclass(frozen=True, slots=True)
class BuildResult:
    id: str
    number: int
    status: str
    phases: tuple[PhaseRecord, ...]
    exported_variables: Mapping[str, str]
    artifacts: Mapping[str, list[str]]
    reports: tuple[Report, ...]
    workspace: str
    secondary_sources: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # by identifier

    def as_json(self) -> dict[str, Any]:
        secondary = {k: v for k, v in self.artifacts.items() if k != "artifacts"}
        return {
            "id": self.id,
            "number": self.number,
            "status": self.status,
            "phases": [p.as_json() for p in self.phases],
            "exported_variables": dict(self.exported_variables),
            "artifacts": {"primary": self.artifacts.get("artifacts", []), "secondary": secondary},
            "reports": [r.as_json() for r in self.reports],
            "secondary_sources": {k: dict(v) for k, v in self.secondary_sources.items()},
        }


def local_notes(spec: Buildspec, in_batch: bool = False) -> list[str]:
    """Keys CodeBuild acts on that have no effect here: said once, so nobody is surprised."""
    notes = []
    if spec.batch is not None and not in_batch:
        notes.append(
            "batch: a plain build runs the buildspec's phases once and ignores batch, as CodeBuild's "
            "start-build does; `runner build --batch` runs the batch"
        )
    if spec.env.git_credential_helper:
        notes.append(
            "env.git-credential-helper: yes is recorded; git in the build uses the credentials "
            "of the build image"
        )
    if spec.artifacts is not None:
        for ident, block in {"artifacts": spec.artifacts.primary, **spec.artifacts.secondary}.items():
            if block.name or block.s3_prefix:
                notes.append(
                    f"{ident}: name and s3-prefix only apply to S3 uploads; written locally as {ident}.zip"
                )
    return notes


def load_inputs(request: BuildRequest) -> tuple[Buildspec, dict[str, str]]:
    """The buildspec and its secret values; ConfigError (exit 2) on any problem. Pure
    reads: a caller may check a request before it opens (creates) the store."""
    spec = buildspec_loader.load(request.buildspec, _display_name(request))
    return spec, resolve(spec, load_secrets(request.secrets_file), spec.positions)


def _display_name(request: BuildRequest) -> str:
    try:
        return str(request.buildspec.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(request.buildspec)
