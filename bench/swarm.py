"""swarm: a swarm environment on a 2-node swarm (scripts/second-engine.sh swarm-up: the main engine
its manager, the second engine a worker), `web` with 2 replicas, one on each node.

- deploy: wrk keep-alive GETs through the live port (published in host mode on the manager)
  during one blue/green deployment (AllAtOnce); the reference is the same wrk with no deployment.
- node loss: wrk again while the worker's dockerd stops (`node-down`): failed requests, and
  the seconds from the stop until the manager reports running == desired again (Swarm has
  rescheduled the lost task on the manager), as `runner status` sees it.
The swarm is taken down at the end, the worker's engine started again, and the second engine
stopped if this run started it. Needs root (a network namespace and a second dockerd).
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable

from bench.report import Outcome, Row
from bench.session import ROOT, Session
from bench.traffic import wrk_command, wrk_numbers

SCRIPT = ROOT / "scripts" / "second-engine.sh"
WRK = ["wrk", "-t2", "-c8", "--timeout", "5s", "--latency"]
PIPELINE = """\
app: {app}
time_scale: 6000
engines:
  node2: tcp://10.231.0.2:2375
services:
  web:
    path: web
    replicas: 2
environments:
  - name: prod
    platform: swarm
    port: {port}
    test_port: {test_port}
    termination_wait: 1s
"""


def script(verb: str) -> None:
    done = subprocess.run([str(SCRIPT), verb], capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"second-engine.sh {verb} failed: {done.stderr.strip()[-500:]}")


def worker_answers() -> bool:
    return subprocess.run([str(SCRIPT), "status"], capture_output=True).returncode == 0


def worker_up() -> None:
    """node-up, or nothing when someone else started the worker's engine meanwhile (it is shared)."""
    if worker_answers():
        return
    try:
        script("node-up")
    except RuntimeError:
        if not worker_answers():
            raise


def pause(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def remove_copies(image_ids: list[str]) -> None:
    """The images the platform copied to the worker (it keeps what it had)."""
    for image_id in image_ids:
        subprocess.run(["docker", "-H", "tcp://10.231.0.2:2375", "rmi", image_id], capture_output=True)


def under_wrk(session: Session, port: int, action: Callable[[], float]) -> tuple[dict[str, float], float]:
    """wrk through the live port around `action` (which returns a number): wrk's numbers, the number."""
    process = session.spawn(
        wrk_command(session, port, 600, options=WRK), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.append(process.stdout.read() if process.stdout else b""))
    reader.start()
    time.sleep(1.0)
    try:
        value = action()
        time.sleep(1.0)
    finally:
        process.send_signal(signal.SIGINT)  # wrk prints its summary on SIGINT
        process.wait(30)
        reader.join(30)
    return wrk_numbers(b"".join(output).decode(errors="replace")), value


def run(session: Session, say: Callable[[str], None]) -> Outcome:
    if os.geteuid() != 0:
        raise RuntimeError("the swarm figure needs root (a network namespace and a second dockerd)")
    from runner.codedeploy import deploy, down, status
    from runner.store import open_store
    from tests.integration.deploy.helpers import build_app, free_ports, write_project

    was_running = subprocess.run([str(SCRIPT), "status"], capture_output=True).returncode == 0
    script("start")
    if not was_running:
        session.on_cleanup(lambda: script("stop"))
    script("swarm-up")
    session.on_cleanup(lambda: script("swarm-down"))
    session.on_cleanup(worker_up)  # runs first: the worker back before the swarm goes
    repo = f"bench{session.run_id[:6]}-web"
    images = {v: build_app(f"{repo}:{v * 12}", v) for v in ("1", "2")}
    port, test_port = free_ports(2)
    config = write_project(
        session.tmp / "swarm" / "repo",
        PIPELINE.format(app=f"bench{session.run_id[:6]}-sw", port=port, test_port=test_port),
    )
    (session.tmp / "swarm" / "repo" / "web").mkdir(parents=True, exist_ok=True)
    store = open_store(session.home("swarm"))
    lines: list[str] = []
    session.on_cleanup(lambda: remove_copies([i.id for i in images.values()]))  # after the down below
    session.on_cleanup(lambda: down(config, store, "prod", say=lines.append))

    def go(version: str) -> float:
        began = time.monotonic()
        result = deploy(config, store, "prod", "web", images[version], strategy="AllAtOnce", say=lines.append)
        if result.status != "Succeeded":
            raise RuntimeError(f"deploying v{version} ended {result.status}: {result.reason}")
        return time.monotonic() - began

    first_s = go("1")
    say(
        f"  swarm environment up on :{port}, web v1 on 2 replicas "
        f"(first deployment {first_s:.1f}s, images copied)"
    )
    seconds = session.seconds(8, 2)
    steady, _ = under_wrk(session, port, lambda: pause(seconds))
    during, deploy_s = under_wrk(session, port, lambda: go("2"))
    say(
        f"  one blue/green deploy ({deploy_s:.1f}s) under wrk: {during['requests']:.0f} requests, "
        f"failed {during['failed']:.0f}, p99 {during['p99_us'] / 1000:.1f} ms (steady: failed "
        f"{steady['failed']:.0f}, p99 {steady['p99_us'] / 1000:.1f} ms)"
    )

    def web() -> dict[str, object]:
        return dict(status(config, store, "prod")["environments"][0]["services"][0])

    back: list[float] = []  # when the worker's engine answered again (another user of it may start it)

    def lose_node() -> float:
        stopped = time.monotonic()
        script("node-down")
        deadline = stopped + 180
        changed = False
        while time.monotonic() < deadline:
            if not back and worker_answers():
                back.append(time.monotonic() - stopped)
            now = web()
            nodes = now.get("nodes") or []
            changed = changed or now.get("replicas") != "2/2" or "rnode2" not in nodes  # type: ignore[operator]
            if changed and now.get("replicas") == "2/2":
                return time.monotonic() - stopped
            time.sleep(0.2)
        raise RuntimeError(f"running != desired 180 s after the worker's engine stopped: {web()}")

    loss, recovery_s = under_wrk(session, port, lose_node)
    worker_up()
    restarted = f"; its engine answered again after {back[0]:.1f}s" if back else ""
    say(
        f"  worker's engine stopped under wrk: {loss['requests']:.0f} requests, failed {loss['failed']:.0f}, "
        f"max latency {loss['max_us'] / 1e6:.1f} s; running == desired again after {recovery_s:.1f}s"
        f"{restarted}"
    )
    metrics = {
        "swarm_deploy_failed_requests": during["failed"],
        "swarm_steady_failed_requests": steady["failed"],
        "swarm_deploy_rps": during["rps"],
        "swarm_steady_rps": steady["rps"],
        "swarm_deploy_p99_ms": during["p99_us"] / 1000,
        "swarm_steady_p99_ms": steady["p99_us"] / 1000,
        "swarm_deploy_s": deploy_s,
        "swarm_node_loss_failed_requests": loss["failed"],
        "swarm_node_loss_requests": loss["requests"],
        "swarm_node_loss_recovery_s": recovery_s,
        "swarm_node_loss_max_latency_ms": loss["max_us"] / 1000,
    }
    rows = [
        Row("swarm", "failed requests during a blue/green deploy (2 replicas, 2 nodes)",
            "swarm_deploy_failed_requests", "requests", "swarm_steady_failed_requests", "same wrk, no deploy",
            ratio=False, goal="0"),
        Row("swarm", "req/s through the router during the deploy", "swarm_deploy_rps", "req/s",
            "swarm_steady_rps", "no deploy"),
        Row("swarm", "p99 latency during the deploy", "swarm_deploy_p99_ms", "ms",
            "swarm_steady_p99_ms", "no deploy"),
        Row("swarm", "one AllAtOnce deploy to the swarm", "swarm_deploy_s", "s"),
        Row("swarm", "failed requests while a worker's engine stops", "swarm_node_loss_failed_requests",
            "requests", goal="0"),
        Row("swarm", "worker's engine stopped → running == desired again", "swarm_node_loss_recovery_s", "s"),
        Row("swarm", "slowest answer while the worker is lost", "swarm_node_loss_max_latency_ms", "ms"),
    ]  # fmt: skip
    details = {"wrk": WRK, "steady": steady, "during": during, "node_loss": loss, "worker_back_s": back}
    return Outcome(rows, metrics, details)
