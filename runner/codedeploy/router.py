"""The running router, through its listeners on the host: ready, slot health, one GET.

These calls reach the router the way users do (its published ports), so they hold on every
platform. What it serves is rendered in nginx_config.py; how its config and state reach it
is the platform's (local_router.py for a router whose directory is on this machine).
"""

from __future__ import annotations

import http.client
import time

from runner.codedeploy.nginx_config import HEALTH_PREFIX, PING
from runner.core.config import Environment, Service
from runner.errors import RunnerError


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


def slot_health(env: Environment, service: Service, slot: str, timeout_s: float = 6.0) -> tuple[int, str]:
    """GET the slot's health path through the router's test listener (works without host routes)."""
    return get(env, env.test_port, f"{HEALTH_PREFIX}/{service.name}/{slot}", timeout_s=timeout_s)
