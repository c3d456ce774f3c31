"""Scale curves of one environment, and the router's cost per request.

- services_scale: three environments of 1, 5 and 20 services (time_scale 6000, AllAtOnce,
  every service the deploy tests' app image, bench/traffic.py's way) come up one after the
  other, each service getting its first version (deploy_all_s_by_services). Then, with all
  three up and alternating between them so that load from elsewhere hits them alike: one
  service is redeployed a few times with two images in turn (deploy_s_by_services: the
  median, runner.deploy.deploy in process); wrk through the router on that service's route,
  after a warm-up run (router_p99_ms_by_services); `runner status` as a fresh process
  (status_ms_by_services; status_20_services_ms). All go down at the end.
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
from pathlib import Path
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
    """One environment of `services` services, up, and how long bringing it up took."""

    services: int
    config: Any  # PipelineConfig
    store: Any  # Store
    root: Path
    home: Path
    port: int
    up_s: float  # environment up + the first deploy of every service

    def deploy(self, session: Session, image: str) -> float:
        """Deploy `image` (v1/v2) to the first service, AllAtOnce; how long it took."""
        from runner.codedeploy import deploy

        began = time.perf_counter()
        result = deploy(self.config, self.store, "prod", service_name(0), images(session)[image],
                        strategy="AllAtOnce", say=lambda _: None)  # fmt: skip
        if result.status != "Succeeded":
            raise RuntimeError(f"deploying {image} with {self.services} services: {result.reason}")
        return time.perf_counter() - began

    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{service_name(0)}/version"


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


def bring_up(session: Session, count: int, cleanups: list[Callable[[], None]]) -> Sized:
    """An environment of `count` services, every one running v1; its down() joins `cleanups`."""
    from runner.codedeploy import deploy, down, ensure_up
    from runner.store import open_store
    from tests.integration.deploy.helpers import free_ports, write_project

    port, test_port = free_ports(2)
    services = "".join(f"  {service_name(i)}: {{path: {service_name(i)}}}\n" for i in range(count))
    app = f"bench{session.run_id[:6]}-n{count}"
    root = session.tmp / f"services-{count}" / "repo"
    config = write_project(root, PIPELINE.format(app=app, services=services, port=port, test_port=test_port))
    home = session.home(f"services-{count}")
    store = open_store(home)
    cleanups.append(store.close)
    cleanups.append(lambda: down(config, store, "prod", say=lambda _: None))
    v1 = images(session)["v1"]
    began = time.perf_counter()
    ensure_up(config, store, "prod", say=lambda _: None)
    for i in range(count):
        result = deploy(config, store, "prod", service_name(i), v1, strategy="AllAtOnce", say=lambda _: None)
        if result.status != "Succeeded":
            raise RuntimeError(f"deploying {service_name(i)} ({count} services): {result.reason}")
    return Sized(count, config, store, root, home, port, time.perf_counter() - began)


def run_services(session: Session, say: Callable[[str], None]) -> Outcome:
    from bench.scale import time_cli
    from bench.traffic import wrk_command, wrk_numbers

    sizes = SMOKE_SIZES if session.smoke else SIZES
    cleanups: list[Callable[[], None]] = []
    try:
        envs = [bring_up(session, count, cleanups) for count in sizes]  # all up: rounds alternate
        ups = ", ".join(f"{e.services} services {e.up_s:.1f}s" for e in envs)
        say(f"  environment up + first deploy of every service: {ups}")
        deploys: dict[int, list[float]] = {e.services: [] for e in envs}
        for n in range(session.size(REDEPLOYS)):
            for env in envs:
                deploys[env.services].append(env.deploy(session, ("v2", "v1")[n % 2]))
        p99: dict[int, float] = {}
        for env in envs:
            # A fresh slot's first seconds under load are slow (bench/traffic.py): warm it up first.
            warm_up = wrk_command(session, env.port, session.seconds(WARM_UP_S), url=env.url())
            subprocess.run(warm_up, capture_output=True)
            command = wrk_command(session, env.port, session.seconds(WRK_S), url=env.url())
            p99[env.services] = wrk_numbers(subprocess.run(command, capture_output=True, text=True).stdout)[
                "p99_us"
            ] / 1000
        status, _ = time_cli(
            session, {str(e.services): (e.home, ["status"]) for e in envs}, session.size(STATUS_RUNS),
            cwd={str(e.services): e.root for e in envs},
        )  # fmt: skip
    finally:
        for action in reversed(cleanups):
            action()
    for env in envs:
        n = env.services
        each = " ".join(f"{t:.2f}" for t in deploys[n])
        say(f"  {n:2d} services: one redeploy {median(deploys[n]):.2f}s ({each}), "
            f"router p99 {p99[n]:.1f} ms, runner status {status[str(n)] * 1000:.0f} ms")  # fmt: skip
    metrics: dict[str, Any] = {
        "deploy_s_by_services": {str(n): median(values) for n, values in deploys.items()},
        "deploy_all_s_by_services": {str(e.services): e.up_s for e in envs},
        "router_p99_ms_by_services": {str(n): ms for n, ms in p99.items()},
        "status_ms_by_services": {n: seconds * 1000 for n, seconds in status.items()},
    }
    if 20 in sizes:
        metrics["status_20_services_ms"] = status["20"] * 1000
    low, rows = str(sizes[0]), []
    for n in (str(size) for size in sizes[1:]):
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
    return Outcome(rows, metrics, {"sizes": list(sizes), "deploys_s": deploys})


# ---------------------------------------------------------------- router overhead


def slot_address(session: Session, tiny: Any) -> str:
    """host:port of the tiny environment's live `web` slot, on its compose network."""
    from runner.adapters.docker import containers
    from runner.codedeploy import status

    env = status(tiny.config, tiny.store, "prod")["environments"][0]
    live = next(s["live_slot"] for s in env["services"] if s["service"] == "web")
    wanted = {"runner.app": tiny.config.app, "runner.service": "web", "runner.slot": live}
    container = next(c for c in containers.managed_containers(wanted) if c["status"] == "running")
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
