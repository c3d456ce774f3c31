"""`runner debug`: a shell in the exact state a phase started from.

Before each command phase the build writes what that phase saw (its starting snapshot
image, the shell state it restored, its environment, mounts and user) to
tmp/debug/<PHASE>.json in the build's workspace (mode 0600). Secret variables are
recorded by their source, never by value: `runner debug` reads them again from the
secrets file when it starts a fresh interactive container from it.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from runner.adapters.executor import Executor, File, Mount, RunRequest
from runner.codebuild.phase_runner import PhaseSetup
from runner.codebuild.shell import restore_lines, shell_binary
from runner.codebuild.workspace import Workspace
from runner.core.secrets import SecretSources
from runner.errors import UsageError


def record_phase_start(
    space: Workspace,
    phase: str,
    setup: PhaseSetup,
    state_in: str | None,
    refreshed: dict[str, str],
    secrets: SecretSources,
) -> None:
    directory = space.tmp / "debug"
    directory.mkdir(exist_ok=True)
    info = {
        "image": setup.image,
        "state_in": state_in,
        "user": setup.user,
        "shell": setup.shell,
        "workdir": setup.workdir,
        "env": {k: v for k, v in (setup.env | refreshed).items() if k not in setup.saving.secrets},
        "secrets": secrets.as_json(),
        "mounts": [asdict(m) for m in setup.mounts],
        "privileged": setup.privileged,
    }
    path = directory / f"{phase}.json"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(info, out)


_NONE = SecretSources(None, {}, {}).as_json()


def phase_info(workspace_root: Path, phase: str) -> dict[str, Any]:
    path = workspace_root / "output" / "tmp" / "debug" / f"{phase}.json"
    if not path.is_file():
        raise UsageError(
            f"no debug state for phase {phase} (the workspace {workspace_root} was "
            "removed, or the phase did not run)"
        )
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def open_shell(workspace_root: Path, phase: str, labels: dict[str, str], executor: Executor) -> int:
    """Run an interactive shell from the phase's starting snapshot; returns its exit status."""
    info = phase_info(workspace_root, phase)
    if not executor.has_image(info["image"]):
        raise UsageError(f"the snapshot image of {phase} was removed (runner gc); rebuild to debug")
    rc = f"/codebuild/output/tmp/debug/{phase}.rc.sh"
    rc_text = "\n".join(restore_lines(info["shell"], info["state_in"], info["workdir"])) + "\n"
    binary = shell_binary(info["shell"])
    command = [binary, "--rcfile", rc, "-i"] if info["shell"] == "bash" else [binary, "-i"]
    env = dict(info["env"]) | SecretSources.from_json(info.get("secrets") or _NONE).values()
    if info["shell"] != "bash":
        env["ENV"] = rc  # POSIX sh reads $ENV when interactive
    request = RunRequest(
        image=info["image"],
        command=command,
        env=env,
        labels=labels,
        workdir=info["workdir"],
        mounts=tuple(Mount(**m) for m in info["mounts"]),
        user=info["user"],
        privileged=info["privileged"],
        files=(File(rc, rc_text.encode()),),
    )
    return executor.interactive(request)
