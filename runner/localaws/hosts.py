"""Host-name entries in the host's /etc/hosts that send ECR's registry name to the local registry.

The engine (which performs a privileged build's `docker login` and `docker push`)
resolves `<account>.dkr.ecr.<region>.amazonaws.com` through the host's /etc/hosts. It
re-reads that file lazily, so the entry is written before the build's first container
starts. Our lines carry a marker comment; nothing else in the file is touched.
"""

from __future__ import annotations

import os
from pathlib import Path

HOSTS = Path(os.environ.get("RUNNER_HOSTS_FILE", "/etc/hosts"))
MARKER = "# runner aws local"


def ecr_host(account: str, region: str) -> str:
    return f"{account}.dkr.ecr.{region}.amazonaws.com"


def ensure(name: str, address: str, path: Path = HOSTS) -> str:
    """Map `name` to `address`; returns "" or the one-line reason it could not."""
    wanted = f"{address} {name} {MARKER}"
    try:
        lines = path.read_text().splitlines()
        if wanted in lines:
            return ""
        kept = [line for line in lines if not _ours(line, name=name)]
        _write(path, [*kept, wanted])
    except OSError as e:
        return f"cannot map {name} in {path} ({e.strerror}): ECR pushes will not reach the local registry"
    return ""


def remove(address: str, path: Path = HOSTS) -> None:
    """Drop our entries that point at `address` (a registry that stopped)."""
    try:
        lines = path.read_text().splitlines()
        kept = [line for line in lines if not _ours(line, address=address)]
        if kept != lines:
            _write(path, kept)
    except OSError:
        pass  # nothing we may change: the entries stay harmless (nothing listens there)


def _ours(line: str, name: str | None = None, address: str | None = None) -> bool:
    fields = line.split()
    if not line.endswith(MARKER) or len(fields) < 2:
        return False
    return (name is None or fields[1] == name) and (address is None or fields[0] == address)


def _write(path: Path, lines: list[str]) -> None:
    # In place, not a rename: /etc/hosts is often a bind mount (a container's), which a
    # rename over it would fail on.
    with path.open("r+") as handle:
        handle.seek(0)
        handle.write("\n".join(lines) + "\n")
        handle.truncate()
