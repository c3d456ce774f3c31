"""Build control in one place: the BuildRequest made from what the CLI, the pipeline or the dashboard
asks (one set of defaults), read back from the store so a re-run is the same build, and the one way
to stop or sweep a build's containers.

The store keeps each build's request (runner/store/builds.py, column `request`) as
BuildRequest.as_json(): paths and flags, the secrets file's path, never a secret's value.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TypedDict

from runner.codebuild.build_result import BuildRequest
from runner.codebuild.secondary_sources import SecondarySource
from runner.errors import RunnerError, UsageError
from runner.store import Store
from runner.store.builds import BuildRecord, request_stop

DEFAULT_REGION = "us-east-1"
DEFAULT_TIMEOUT_MIN = 60.0


def make_request(
    source: Path,
    *,
    home: Path,
    buildspec: Path | None = None,
    image: str | None = None,
    project: str | None = None,
    service: str | None = None,
    artifacts_dir: Path | None = None,
    reports_dir: Path | None = None,
    overrides: Mapping[str, str] | None = None,
    project_env: Mapping[str, str] | None = None,
    mount_source: bool = False,
    privileged: bool = False,
    secrets_file: Path | None = None,
    timeout_min: float | None = None,
    initiator: str | None = None,
    region: str | None = None,
    memory: str | None = None,
    source_version: str | None = None,
    resolved_source_version: str | None = None,
    network: str | None = None,
    secondary_sources: tuple[SecondarySource, ...] = (),
    aws_account: str | None = None,
) -> BuildRequest:
    """The one place a build's defaults are decided: buildspec SOURCE/buildspec.yml, image
    $RUNNER_BUILD_IMAGE or the standard build image, project the source directory's name,
    work and cache under RUNNER_HOME, region $AWS_REGION or us-east-1, timeout 60 minutes."""
    chosen = buildspec or source / "buildspec.yml"
    if not chosen.is_absolute() and not chosen.exists():
        chosen = source / chosen
    if not chosen.is_file():
        raise UsageError(f"buildspec {chosen} not found (use -b FILE)")
    name = project or source.name
    if image is None:
        from runner.images.base import STANDARD  # CodeBuild too builds in its standard image by default

        image = os.environ.get("RUNNER_BUILD_IMAGE") or STANDARD
    return BuildRequest(
        source=source,
        buildspec=chosen,
        image=image,
        project=name,
        work_dir=home / "work",
        service=service,
        artifacts_dir=artifacts_dir,
        reports_dir=reports_dir,
        overrides=dict(overrides or {}),
        project_env=dict(project_env or {}),
        mount_source=mount_source,
        privileged=privileged,
        secrets_file=secrets_file,
        timeout_min=timeout_min if timeout_min is not None else DEFAULT_TIMEOUT_MIN,
        initiator=initiator or getpass.getuser(),
        region=region or os.environ.get("AWS_REGION") or DEFAULT_REGION,
        memory=memory,
        source_version=source_version,
        resolved_source_version=resolved_source_version,
        cache_dir=home / "cache" / name,
        network=network,
        secondary_sources=secondary_sources,
        aws_account=aws_account,
    )


# ---------------------------------------------------------------- re-runs


def stored_request(build: BuildRecord) -> BuildRequest | None:
    """The request a build ran with (None for builds recorded before requests were kept)."""
    return BuildRequest.from_json(build.request) if build.request else None


def rerun_request(build: BuildRecord, home: Path, initiator: str = "ui") -> BuildRequest:
    """A plain build's request again, exactly as it ran (flags, overrides, limits, secondary
    sources); refused (RunnerError) when its source, buildspec or a secondary source is gone."""
    asked = stored_request(build) or _from_record(build, home)
    if asked is None or not asked.source.is_dir() or not asked.buildspec.is_file():
        raise RunnerError(
            f"cannot re-run: the source {build.source_dir} or its buildspec {build.buildspec} is gone"
        )
    for extra in asked.secondary_sources:
        if not extra.path.is_dir():
            gone = f"the secondary source {extra.identifier} ({extra.path})"
            raise RunnerError(f"cannot re-run: {gone} is gone")
    return replace(asked, initiator=initiator)


def _from_record(build: BuildRecord, home: Path) -> BuildRequest | None:
    """A build recorded before requests were kept: what its record says, the rest defaults."""
    source = Path(build.source_dir)
    candidates = [Path(build.buildspec), source / build.buildspec, source / "buildspec.yml"]
    found = next((c for c in candidates if c.is_file()), None)
    if not source.is_dir() or found is None:
        return None
    asked = make_request(source, home=home, buildspec=found, image=build.build_image, project=build.project)
    return replace(asked, secondary_sources=_recorded_secondary(build))


def _recorded_secondary(build: BuildRecord) -> tuple[SecondarySource, ...]:
    """Older builds: the secondary sources (`-s ID:DIR`) their result recorded."""
    entries = (build.result or {}).get("secondary_sources") or {}
    return tuple(SecondarySource(ident, Path(entry["path"])) for ident, entry in entries.items())


class ServiceOptions(TypedDict, total=False):
    """What `runner build SERVICE` may set beyond pipeline.yml (service_build.build_service's keywords)."""

    overrides: Mapping[str, str]
    timeout_min: float
    memory: str | None


def service_options(build: BuildRecord) -> ServiceOptions:
    """A service build's re-run: its --env overrides, timeout and memory limit again."""
    asked = stored_request(build)
    if asked is None:
        return {}
    return {"overrides": dict(asked.overrides), "timeout_min": asked.timeout_min, "memory": asked.memory}


# ---------------------------------------------------------------- stopping


def end_containers(build_id: str, *, remove: bool, say: Callable[[str], None] | None = None) -> int:
    """The one way to end a build's containers (found by label): kill them (a stop: the build's
    own runner notices, records STOPPED and removes them) or remove them (its runner is gone)."""
    from runner.adapters.docker import containers  # the engine only when there is a build to end

    found = containers.managed_containers({"runner.build": build_id})
    for container in found:
        if remove:
            containers.remove_container(container["id"])
            if say:
                say(f"removed orphan container {container['name']} of build {build_id}")
        else:
            containers.kill_container(container["id"])
    if remove:  # the volumes that held its workspace on an engine that does not see our files
        from runner.adapters.docker.remote_mounts import remove_build_volumes

        remove_build_volumes(build_id)
    return len(found)


def stop_build(store: Store, build_id: str) -> None:
    """`runner stop`: recorded first (the runner reads it when its container dies), then killed."""
    request_stop(store, build_id)
    end_containers(build_id, remove=False)
