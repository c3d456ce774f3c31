"""The only module running the Compose CLI: `docker compose` (plugin) or a v2 `docker-compose`.

RUNNER_COMPOSE may name the command (e.g. `docker-compose`). Some `docker-compose`
wrappers exit 0 even on failure (ENVIRONMENT.md), so a standalone binary is only used
when `version --short` reports 2.x.
"""

from __future__ import annotations

import functools
import os
import shlex
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from runner.errors import EngineError

TIMEOUT_S = 180.0


@dataclass(frozen=True, slots=True)
class Project:
    """A compose project: its name, its files (user's first, ours last) and its directory."""

    name: str
    files: tuple[Path, ...]
    directory: Path
    # Values the files refer to as ${VAR} (task secrets): never written into a compose file.
    environment: Mapping[str, str] = field(default_factory=dict)


@functools.cache
def command() -> tuple[str, ...]:
    """The compose command line prefix that works here."""
    configured = os.environ.get("RUNNER_COMPOSE")
    candidates = (
        [tuple(shlex.split(configured))] if configured else [("docker", "compose"), ("docker-compose",)]
    )
    for candidate in candidates:
        try:
            result = subprocess.run(
                [*candidate, "version", "--short"], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired):
            continue
        version = result.stdout.strip().lstrip("v")
        if result.returncode == 0 and version.split(".")[0] == "2":
            return candidate
    raise EngineError(
        "Docker Compose v2 is not available (tried `docker compose` and `docker-compose`): run `make setup`"
    )


def run(project: Project, args: Sequence[str], timeout_s: float = TIMEOUT_S) -> str:
    """Run one compose command for the project; its output, or EngineError with its last lines."""
    argv = [*command(), "-p", project.name, "--project-directory", str(project.directory)]
    for file in project.files:
        argv += ["-f", str(file)]
    argv += list(args)
    try:
        env = {**os.environ, **project.environment} if project.environment else None
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s, env=env)
    except subprocess.TimeoutExpired as e:
        raise EngineError(
            f"compose {' '.join(args)} ({project.name}) did not finish in {timeout_s:g}s"
        ) from e
    except OSError as e:
        raise EngineError(f"cannot run {argv[0]}: {e}") from e
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        tail = "\n".join(output.splitlines()[-12:])
        raise EngineError(f"compose {' '.join(args)} ({project.name}) failed:\n{tail}")
    return output


def up(
    project: Project, services: Sequence[str], *, recreate: str = "auto", remove_orphans: bool = False
) -> str:
    """Start services (without their dependencies); recreate: auto | force | never."""
    args = ["up", "-d", "--no-deps", "--quiet-pull"]
    if recreate == "force":
        args.append("--force-recreate")
    elif recreate == "never":
        args.append("--no-recreate")
    if remove_orphans:
        args.append("--remove-orphans")
    return run(project, [*args, *services])


def up_all(project: Project, services: Sequence[str]) -> str:
    """Start services with their dependencies (the user's backing services), never recreating."""
    return run(project, ["up", "-d", "--no-recreate", "--remove-orphans", *services])


def remove(project: Project, services: Sequence[str], stop_timeout_s: int = 10) -> str:
    """Stop (SIGTERM, then SIGKILL after the timeout) and remove the services' containers."""
    if not services:
        return ""
    run(project, ["stop", "-t", str(stop_timeout_s), *services])
    return run(project, ["rm", "-f", "-v", *services])


def down(project: Project, volumes: bool = True) -> str:
    args = ["down", "--remove-orphans", "-t", "10"]
    if volumes:
        args.append("-v")
    return run(project, args)


def config_services(project: Project) -> list[str]:
    """The service names the project's files define (validates them too)."""
    return [line for line in run(project, ["config", "--services"]).splitlines() if line.strip()]
