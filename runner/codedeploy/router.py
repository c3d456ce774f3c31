"""The router (one nginx per environment): its files and talking to it.

What it serves is rendered by pure functions (nginx_config.py); here it is written
atomically into the bind-mounted directory, checked with `nginx -t` and applied with a
graceful reload, and the running router is asked for its health over its listeners.
"""

from __future__ import annotations

import http.client
import os
import secrets
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from runner.adapters import docker_engine
from runner.codedeploy.environment import CONFIG_DIR, LOG_DIR, ROUTER, Layout
from runner.codedeploy.nginx_config import HEALTH_PREFIX, IDENTITY, PING, ROUTER_JS, render_state
from runner.errors import RunnerError
from runner.spec.config import Environment, Service
from runner.store.deployments import EnvState

# ---------------------------------------------------------------- files


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


def write_state(
    layout: Layout, states: Mapping[str, EnvState], retry: Mapping[str, str] | None = None
) -> None:
    write_atomic(layout.router_dir / "state.json", render_state(states, retry))


def prepare_dirs(layout: Layout) -> None:
    layout.router_dir.mkdir(parents=True, exist_ok=True)
    layout.log_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(layout.router_dir, 0o755)
    write_atomic(layout.router_dir / "router.js", ROUTER_JS)
    if not (layout.router_dir / "id").is_file():
        write_atomic(layout.router_dir / "id", secrets.token_hex(16))


def sees_our_files(layout: Layout, env: Environment) -> bool:
    """Does the running router read this directory? (Not when it was deleted and made again
    under it: a bind mount keeps the old directory, and state changes would go unseen.)"""
    status, body = get(env, env.test_port, IDENTITY, timeout_s=2.0)
    return status == 200 and body.strip() == (layout.router_dir / "id").read_text().strip()


# ---------------------------------------------------------------- talking to nginx


@dataclass(frozen=True, slots=True)
class ConfigChange:
    changed: bool
    reloaded: bool
    reload_ms: float = 0.0


def apply_config(layout: Layout, text: str, image: str, running: bool) -> ConfigChange:
    """Validate and install nginx.conf; reload the running router gracefully when it changed."""
    target = layout.router_dir / "nginx.conf"
    if target.is_file() and target.read_text() == text:
        return ConfigChange(False, False)
    candidate = layout.router_dir / "nginx.conf.new"
    write_atomic(candidate, text)
    container = layout.container(ROUTER)
    if running:
        code, output = docker_engine.exec_in(
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
    code, output = docker_engine.exec_in(
        container, ["nginx", "-c", f"{CONFIG_DIR}/nginx.conf", "-s", "reload"]
    )
    if code != 0:
        raise RunnerError(f"router of {layout.project}: nginx -s reload failed: {output.strip()[-400:]}")
    return ConfigChange(True, True, round((time.monotonic() - started) * 1000, 1))


def _check_offline(layout: Layout, image: str) -> tuple[int, str]:
    """`nginx -t` in a one-shot container of the router image (the router is not running yet)."""
    code, output = docker_engine.run_once(
        image,
        ["nginx", "-t", "-q", "-c", f"{CONFIG_DIR}/nginx.conf.new"],
        mounts=((str(layout.router_dir), CONFIG_DIR, True), (str(layout.log_dir), LOG_DIR, False)),
        labels=docker_engine.labels("router-check"),
    )
    return int(code), str(output)


def probe_host(env: Environment) -> str:
    return "127.0.0.1" if env.host in ("0.0.0.0", "", "::") else env.host


def get(
    env: Environment, port: int, path: str, timeout_s: float = 2.0, host: str | None = None
) -> tuple[int, str]:
    """One GET to a router listener on the host: (status, body); status 0 on a connection error."""
    connection = http.client.HTTPConnection(probe_host(env), port, timeout=timeout_s)
    try:
        connection.request("GET", path, headers={"Host": host} if host else {})
        response = connection.getresponse()
        return response.status, response.read(2000).decode(errors="replace")
    except (OSError, http.client.HTTPException) as e:
        return 0, f"{type(e).__name__}: {e}"
    finally:
        connection.close()


def wait_ready(env: Environment, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    status, body = 0, ""
    while time.monotonic() < deadline:
        status, body = get(env, env.test_port, PING, timeout_s=1.0)
        if status == 200:
            return
        time.sleep(0.1)
    raise RunnerError(
        f"the router of {env.name} did not answer on {env.host}:{env.test_port} ({body.strip()})"
    )


def slot_health(env: Environment, service: Service, slot: str) -> tuple[int, str]:
    """GET the slot's health path through the router's test listener (works without host routes)."""
    return get(env, env.test_port, f"{HEALTH_PREFIX}/{service.name}/{slot}", timeout_s=6.0)
