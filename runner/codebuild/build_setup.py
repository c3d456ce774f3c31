"""A build's phase setup: the environment every phase container gets (CodeBuild's variables,
the buildspec's, secrets, overrides), its mounts and labels, and how the shell state is saved.

Decided once per build, after DOWNLOAD_SOURCE, from what the build was asked and where its
workspace is; codebuild/build.py runs the phases with it.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from runner.adapters.docker import client as docker_client
from runner.adapters.executor import Executor, Mount
from runner.codebuild import batch, phases, secondary_sources
from runner.codebuild.build_result import BuildRequest
from runner.codebuild.buildenv import BuildIdentity, codebuild_variables, compose
from runner.codebuild.buildspec import Buildspec
from runner.codebuild.phase_runner import PhaseSetup
from runner.codebuild.secondary_sources import SecondaryInfo
from runner.codebuild.shell import StateSaving
from runner.codebuild.workspace import Workspace
from runner.core.secrets import SecretSources
from runner.store.builds import BuildRecord

if TYPE_CHECKING:
    from runner.localaws.provision import BuildAws


@dataclass(frozen=True, slots=True)
class SetupInputs:
    request: BuildRequest
    spec: Buildspec
    space: Workspace
    who: BuildIdentity
    build_id: str
    secret_values: Mapping[str, str]
    secrets_file: Path | None
    secondary: tuple[SecondaryInfo, ...]
    aws: BuildAws | None
    executor: Executor


@dataclass(frozen=True, slots=True)
class Setup:
    setup: PhaseSetup
    secret_sources: SecretSources  # where each injected secret came from (runner debug reads them again)


def new_record(
    request: BuildRequest,
    buildspec: str,
    build_id: str,
    started: float,
    version: str | None,
    resolved: str | None,
) -> BuildRecord:
    """The store's record of a build about to run (its number is given by the store)."""
    return BuildRecord(
        id=build_id,
        project=request.project,
        number=0,
        service=request.service,
        status=phases.IN_PROGRESS,
        initiator=request.initiator,
        source_dir=str(request.source),
        source_version=version,
        resolved_source_version=resolved,
        build_image=request.image,
        buildspec=buildspec,
        started=started,
        ended=None,
        pid=os.getpid(),
        result=None,
        request=request.as_json(),
    )


def phase_setup(given: SetupInputs) -> Setup:
    request, spec, space, aws = given.request, given.spec, given.space, given.aws
    env = compose(
        spec.env.variables,
        given.secret_values,
        request.project_env,
        request.overrides,
        codebuild_variables(given.who)
        | batch.variables(request.batch.identifier if request.batch else None)
        | secondary_sources.variables(given.secondary, space.container_secondary)
        | (aws.env if aws else {}),
    )
    secret_names = {name for name, value in given.secret_values.items() if env.get(name) == value}
    mounts = space.mounts() + (aws.mounts if aws else ())
    if request.privileged:
        mounts += (Mount("/var/run/docker.sock", "/var/run/docker.sock"),)
    labels = docker_client.labels("build", build=given.build_id, project=request.project)
    setup = PhaseSetup(
        executor=given.executor,
        image=request.image,
        env=env,
        mounts=mounts,
        workdir=space.container_src,
        user=None,
        privileged=request.privileged,
        labels=labels,
        shell=spec.env.shell,
        tmp_host=space.tmp,
        tmp_container=space.container_tmp,
        nonce=uuid.uuid4().hex[:12],
        snapshot_ref=snapshot_ref(request.project, given.who.number),
        snapshot_labels=labels | {docker_client.KIND: "snapshot"},
        memory=request.memory,
        network=request.network,
        exported=spec.env.exported_variables,
        shell_per_command=spec.version == "0.1",
        saving=StateSaving(tuple(sorted(secret_names)), host_uid=os.getuid()),
    )
    return Setup(setup, SecretSources.of(spec, given.secrets_file, secret_names))


def state_reader(spec: Buildspec, current: str, user: str | None) -> str | None:
    """Who must read the state this phase saves: the first later phase's run-as user
    when another unprivileged one (root reads any file)."""
    for name in phases.COMMAND_PHASES[phases.COMMAND_PHASES.index(current) + 1 :]:
        later = spec.phase(name.lower())
        if later is not None and (later.commands or later.finally_commands):
            reader = later.run_as or spec.run_as
            if reader not in (None, user, "root", "0"):
                return reader
    return None


def snapshot_ref(project: str, number: int) -> str:
    name = re.sub(r"[^a-z0-9._-]+", "-", project.lower()).strip("-.") or "build"
    return f"runner-snapshot/{name}:{number}"
