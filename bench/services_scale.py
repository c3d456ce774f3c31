"""Scale curves of one environment, and the router's cost per request.

- services_scale: for 1, 5 and 20 services in one environment (time_scale 6000, AllAtOnce,
  every service the deploy tests' app image, bench/traffic.py's way), in turn:
  the environment comes up and every service gets its first version (deploy_all_s_by_services);
  then one service is redeployed a few times, alternating two images
  (deploy_s_by_services: the median of those, runner.deploy.deploy in process); wrk through
  the router on that service's route, after a warm-up run (router_p99_ms_by_services);
  `runner status` as a fresh process (status_ms_by_services; status_20_services_ms). The
  environment goes down before the next size.
- router_overhead: on bench/traffic.py's tiny environment, one keep-alive connection
  (wrk -t1 -c1) asks /version through the router and straight at the live slot's container
  address, alternating; the difference of the two medians is the router's cost per request.
"""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bench.report import Outcome, Row, median
from bench.session import Session

SIZES = (1, 5, 20)
SMOKE_SIZES = (1, 2)
REDEPLOYS = 3
WRK_S = 5.0
WARM_UP_S = 3.0
STATUS_RUNS = 5
OVERHEAD_ROUNDS = 3
OVERHEAD_S = 3.0
ONE_CONNECTION = ["wrk", "-t1", "-c1", "--timeout", "5s", "--latency"]
PIPELINE = """\
app: {app}
time_scale: 6000
services:
{services}environments:
  - {{name: prod, port: {port}, test_port: {test_port}, strategy: AllAtOnce, termination_wait: 1s}}
"""


@dataclass(frozen=True, slots=True)
class Sized:
    """What one environment size measured."""

    services: int
    deploy_all_s: float
    deploy_s: float
    router_p99_ms: float
    status_ms: float


def service_name(i: int) -> str:
    return f"s{i:02d}"


def images(session: Session) -> dict[str, Any]:
    """Two versions of the deploy tests' app (ImageRef), built once per run."""
    found = session.cache.get("scale-images")
    if isinstance(found, dict):
        return found
    from tests.integration.deploy.helpers import build_app

    repo = f"bench{session.run_id[:6]}-scale"
    made = {"v1": build_app(f"{repo}:1c1c1c1c1c1c", "1"), "v2": build_app(f"{repo}:2d2d2d2d2d2d", "2")}
    session.cache["scale-images"] = made
    return made


def measure(session: Session, count: int, say: Callable[[str], None]) -> Sized:
    from bench.scale import time_cli
    from bench.traffic import wrk_command, wrk_numbers
    from runner.deploy import deploy, down, ensure_up
    from runner.store import open_store
    from tests.integration.deploy.helpers import free_ports, write_project

    refs = images(session)
    port, test_port = free_ports(2)
    services = "".join(f"  {service_name(i)}: {{path: {service_name(i)}}}\n" for i in range(count))
    app = f"bench{session.run_id[:6]}-n{count}"
    root = session.tmp / f"services-{count}" / "repo"
    config = write_project(root, PIPELINE.format(app=app, services=services, port=port, test_port=test_port))
    home = session.home(f"services-{count}")
    store = open_store(home)
    lines: list[str] = []

    def one(service: str, image: str) -> float:
        began = time.perf_counter()
        result = deploy(config, store, "prod", service, refs[image], strategy="AllAtOnce", say=lines.append)
        if result.status != "Succeeded":
            raise RuntimeError(f"deploying {image} to {service} ended {result.status}: {result.reason}")
        return time.perf_counter() - began

    try:
        began = time.perf_counter()
        ensure_up(config, store, "prod", say=lines.append)
        for i in range(count):
            one(service_name(i), "v1")
        deploy_all = time.perf_counter() - began
        redeploys = [one(service_name(0), ("v2", "v1")[n % 2]) for n in range(session.size(REDEPLOYS))]
        url = f"http://127.0.0.1:{port}/{service_name(0)}/version"
        # A fresh slot's first seconds under load are slow (bench/traffic.py): warm it up first.
        subprocess.run(wrk_command(session, port, session.seconds(WARM_UP_S), url=url), capture_output=True)
        output = subprocess.run(
            wrk_command(session, port, session.seconds(WRK_S), url=url), capture_output=True, text=True
        ).stdout
        p99_ms = wrk_numbers(output)["p99_us"] / 1000
        runs = session.size(STATUS_RUNS)
        status, _ = time_cli(session, {"status": (home, ["status"])}, runs, cwd={"status": root})
    finally:
        down(config, store, "prod", say=lines.append)
        store.close()
    sized = Sized(count, deploy_all, median(redeploys), p99_ms, status["status"] * 1000)
    say(f"  {count:2d} services: up + first deploys {deploy_all:.1f}s, one redeploy {sized.deploy_s:.2f}s "
        f"(median of {len(redeploys)}), router p99 {p99_ms:.1f} ms, runner status {sized.status_ms:.0f} ms")
    return sized


def run_services(session: Session, say: Callable[[str], None]) -> Outcome:
    sizes = SMOKE_SIZES if session.smoke else SIZES
    found = [measure(session, count, say) for count in sizes]
    metrics: dict[str, Any] = {
        "deploy_s_by_services": {str(s.services): s.deploy_s for s in found},
        "deploy_all_s_by_services": {str(s.services): s.deploy_all_s for s in found},
        "router_p99_ms_by_services": {str(s.services): s.router_p99_ms for s in found},
        "status_ms_by_services": {str(s.services): s.status_ms for s in found},
    }
    if 20 in sizes:
        metrics["status_20_services_ms"] = found[sizes.index(20)].status_ms
    low, rows = str(sizes[0]), []
    for s in found[1:]:
        n = str(s.services)
        rows += [
            Row("services_scale", f"one service's AllAtOnce deploy, {n} services in the environment",
                f"deploy_s_by_services.{n}", "s", f"deploy_s_by_services.{low}", f"{low} service"),
            Row("services_scale", f"  environment up + first deploy of all {n}",
                f"deploy_all_s_by_services.{n}", "s", f"deploy_all_s_by_services.{low}", f"{low} service"),
            Row("services_scale", f"  router p99 (wrk -t2 -c16), {n} services",
                f"router_p99_ms_by_services.{n}", "ms", f"router_p99_ms_by_services.{low}", f"{low} service"),
            Row("services_scale", f"  `runner status`, {n} services", f"status_ms_by_services.{n}", "ms",
                f"status_ms_by_services.{low}", f"{low} service"),
        ]  # fmt: skip
    return Outcome(rows, metrics, {"sizes": list(sizes)})


# ---------------------------------------------------------------- router overhead


def slot_address(session: Session, tiny: Any) -> str:
    """host:port of the tiny environment's live `web` slot, on its compose network."""
    from runner import docker_engine
    from runner.deploy import status

    env = status(tiny.config, tiny.store, "prod")["environments"][0]
    live = next(s["live_slot"] for s in env["services"] if s["service"] == "web")
    wanted = {"runner.app": tiny.config.app, "runner.service": "web", "runner.slot": live}
    container = next(c for c in docker_engine.managed_containers(wanted) if c["status"] == "running")
    inspected = subprocess.run(
        ["docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", container["id"]],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    address = next(n["IPAddress"] for n in json.loads(inspected).values() if n.get("IPAddress"))
    return f"{address}:8000"


def run_router_overhead(session: Session, say: Callable[[str], None]) -> Outcome:
    from bench.traffic import tiny, wrk_command, wrk_numbers

    env = tiny(session, say)
    urls = {
        "router": f"http://127.0.0.1:{env.port}/web/version",
        "direct": f"http://{slot_address(session, env)}/version",
    }
    seconds = session.seconds(OVERHEAD_S)
    p50: dict[str, list[float]] = {name: [] for name in urls}
    for _ in range(session.size(OVERHEAD_ROUNDS)):
        for name, url in urls.items():
            command = wrk_command(session, env.port, seconds, url=url, options=ONE_CONNECTION)
            numbers = wrk_numbers(subprocess.run(command, capture_output=True, text=True).stdout)
            if numbers["failed"]:
                raise RuntimeError(f"{name}: {numbers['failed']:.0f} failed requests")
            p50[name].append(numbers["p50_us"] / 1000)
    routed, direct = median(p50["router"]), median(p50["direct"])
    say(f"  one keep-alive connection, p50 per request: through the router {routed:.3f} ms, "
        f"straight at the slot {direct:.3f} ms (rounds: {p50})")
    metrics = {
        "router_overhead_ms": routed - direct,
        "router_request_p50_ms": routed,
        "slot_request_p50_ms": direct,
    }
    rows = [
        Row("router_overhead", "router's cost per request (p50 routed − p50 direct)", "router_overhead_ms",
            "ms", "slot_request_p50_ms", "p50 straight at the slot", ratio=False),
        Row("router_overhead", "  p50 per request through the router (wrk -t1 -c1)", "router_request_p50_ms",
            "ms", "slot_request_p50_ms", "p50 straight at the slot"),
    ]  # fmt: skip
    return Outcome(rows, metrics, {"p50_ms": p50, "urls": urls})
