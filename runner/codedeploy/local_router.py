"""The router's directory on this machine, bind-mounted into its container: config, state, log.

The state file is read by njs on every request, so a weight change is one atomic file
write (microseconds, no Docker API call, no reload). The access log is a file in a
mounted directory too: the alarm watcher reads new bytes from an offset. Only a platform
whose engine shares our filesystem can use this (compose on the local engine does).
"""

from __future__ import annotations

import os
import secrets
import tempfile
import time
from pathlib import Path

from runner.adapters.docker import client as docker_client
from runner.adapters.docker import containers as docker_containers
from runner.adapters.docker import runs as docker_runs
from runner.codedeploy import router
from runner.codedeploy.environment import CONFIG_DIR, LOG_DIR, Layout
from runner.codedeploy.nginx_config import IDENTITY, ROUTER_JS
from runner.codedeploy.platform import ConfigChange
from runner.core.config import Environment
from runner.errors import RunnerError

MAX_ACCESS_LOG = 64 * 1024 * 1024


def write_atomic(path: Path, text: str) -> bool:
    """Write via a temp file + os.replace (mode 0644: nginx workers read it); False if unchanged."""
    if path.is_file() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def state_file(directory: Path) -> Path:
    """Where the router reads its state; `directory` is the environment's (RUNNER_HOME/envs/<env>)."""
    return directory / "router" / "state.json"


def prepare(layout: Layout) -> None:
    layout.router_dir.mkdir(parents=True, exist_ok=True)
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(layout.router_dir, 0o755)
    write_atomic(layout.router_dir / "router.js", ROUTER_JS)
    if not (layout.router_dir / "id").is_file():
        write_atomic(layout.router_dir / "id", secrets.token_hex(16))
    if layout.access_log.exists() and layout.access_log.stat().st_size > MAX_ACCESS_LOG:
        layout.access_log.write_bytes(b"")  # nginx appends (O_APPEND): truncation is safe


def sees_our_files(layout: Layout, env: Environment) -> bool:
    """Does the running router read this directory? (Not when it was deleted and made again
    under it: a bind mount keeps the old directory, and state changes would go unseen.)"""
    status, body = router.get(env, env.test_port, IDENTITY, timeout_s=2.0)
    return status == 200 and body.strip() == (layout.router_dir / "id").read_text().strip()


def apply_config(layout: Layout, container: str, text: str, image: str, running: bool) -> ConfigChange:
    """Validate and install nginx.conf; reload the running router gracefully when it changed."""
    target = layout.router_dir / "nginx.conf"
    if target.is_file() and target.read_text() == text:
        return ConfigChange(False, False)
    candidate = layout.router_dir / "nginx.conf.new"
    write_atomic(candidate, text)
    if running:
        code, output = docker_containers.exec_in(
            container, ["nginx", "-t", "-q", "-c", f"{CONFIG_DIR}/nginx.conf.new"]
        )
    else:
        code, output = _check_offline(layout, image)
    if code != 0:
        raise RunnerError(f"router config for {layout.project} rejected by nginx -t: {output.strip()[-800:]}")
    os.replace(candidate, target)
    if not running:
        return ConfigChange(True, False)
    started = time.monotonic()
    code, output = docker_containers.exec_in(
        container, ["nginx", "-c", f"{CONFIG_DIR}/nginx.conf", "-s", "reload"]
    )
    if code != 0:
        raise RunnerError(f"router of {layout.project}: nginx -s reload failed: {output.strip()[-400:]}")
    return ConfigChange(True, True, round((time.monotonic() - started) * 1000, 1))


def _check_offline(layout: Layout, image: str) -> tuple[int, str]:
    """`nginx -t` in a one-shot container of the router image (the router is not running yet)."""
    code, output = docker_runs.run_once(
        image,
        ["nginx", "-t", "-q", "-c", f"{CONFIG_DIR}/nginx.conf.new"],
        mounts=((str(layout.router_dir), CONFIG_DIR, True), (str(layout.log_dir), LOG_DIR, False)),
        labels=docker_client.labels("router-check"),
    )
    return int(code), str(output)


class LogTail:
    """New complete lines of a growing file (it may be truncated: then read from its start)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0
        self.pending = b""

    def read(self) -> list[str]:
        try:
            with self.path.open("rb") as handle:
                handle.seek(0, 2)
                size = handle.tell()
                if size < self.offset:
                    self.offset, self.pending = 0, b""
                handle.seek(self.offset)
                data = handle.read(size - self.offset)
        except FileNotFoundError:
            return []
        self.offset += len(data)
        *lines, self.pending = (self.pending + data).split(b"\n")
        return [line.decode(errors="replace") for line in lines if line]
