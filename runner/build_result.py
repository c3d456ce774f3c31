"""What a build is asked to do (the request, its validated inputs) and what it gives back
(the `--json` shape), as plain records."""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runner import buildspec as buildspec_mod
from runner.buildspec import Buildspec
from runner.reports import Report
from runner.secondary_sources import SecondarySource
from runner.secrets import load_secrets, resolve

RUNTIME_WARNING = (
    "Skipping install of runtimes. Runtime version selection is not supported by this build image."
)


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
    aws_account: str | None = None  # --aws local: the local AWS's account (None: --aws none)


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


def local_notes(spec: Buildspec) -> list[str]:
    """Keys CodeBuild acts on that have no effect here: said once, so nobody is surprised."""
    notes = []
    if spec.batch is not None:
        notes.append(
            "batch: batch builds are not run locally; this build runs the buildspec's phases once, "
            "as a single build"
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
    spec = buildspec_mod.load(request.buildspec, _display_name(request))
    return spec, resolve(spec, load_secrets(request.secrets_file), spec.positions)


def _display_name(request: BuildRequest) -> str:
    try:
        return str(request.buildspec.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(request.buildspec)
