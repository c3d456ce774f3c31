"""Where a project and its runner state live on disk."""

from __future__ import annotations

import os
from pathlib import Path

from runner.errors import StoreError

PIPELINE_FILE = "pipeline.yml"


def project_root(start: Path | None = None) -> Path:
    """The nearest directory holding pipeline.yml or .git, else the start directory."""
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / PIPELINE_FILE).is_file() or (candidate / ".git").exists():
            return candidate
    return here


def runner_home(start: Path | None = None) -> Path:
    """The state directory: $RUNNER_HOME, else .runner/ in the project root."""
    configured = os.environ.get("RUNNER_HOME")
    if configured is None:
        return project_root(start) / ".runner"
    if not configured.strip() or "\x00" in configured:
        raise StoreError(f"RUNNER_HOME={configured!r} is not a usable directory path")
    home = Path(configured).expanduser()
    if home.exists() and not home.is_dir():
        raise StoreError(f"RUNNER_HOME={configured} exists and is not a directory")
    return home.resolve()
