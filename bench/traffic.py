"""Figures 5 and 6, and canary_fault, on one tiny environment: the deploy tests' service behind a real router.

The images are tests/integration/deploy/app.py (FROM runner/python:bookworm, /version
answers its version and RUNNER_SLOT) built by the deploy tests' helper; one `prod`
environment (time_scale 6000, termination_wait ~0, an error-rate alarm).

- flip: plain `wrk` (Debian) with a small Lua `done` hook printing its numbers as JSON.
  First a steady run, then a run during 10 real blue-green deployments (`runner.deploy.deploy`,
  AllAtOnce, alternating two images: each starts the other slot, flips the router's state
  and retires the old slot); wrk is stopped with SIGINT once the tenth flip is done.
- rollback: keep-alive clients record (time, status, slot) of every answer while a failing
  image is deployed as a 50 % canary with the router's retry off (with it, no answer would come
  from the bad slot); the alarm's time comes from the store's deploy.alarm event, and "100 %
  old slot" from the last answer the bad slot gave.
- canary_fault: the same faulty canary under the same GET clients, once with the router's
  retry off (the reference: what clients met before it) and once on; failed GETs counted by the
  clients, the faulty slot's last failure taken from the router's access log (the clients
  never see it with the retry on).
"""

from __future__ import annotations

import dataclasses
import http.client
import json
import re
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.report import Outcome, Row, percentile
from bench.session import Session

FLIPS = 10
STEADY_S = 6
WARM_UP_S = 8
WRK = ["wrk", "-t2", "-c16", "--timeout", "5s", "--latency"]
WRK_LUA = """\
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, '
    .. '"write": %d, "status": %d, "timeout": %d, "p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""
PIPELINE = """\
app: {app}
time_scale: 6000
services:
  web:
    path: web
environments:
  - name: prod
    port: {port}
    test_port: {test_port}
    termination_wait: 1s
    alarms:
      - {{name: errors, metric: error_rate, threshold: "0.05", window: 2s, min_requests: 10}}
"""


@dataclass
class Tiny:
    config: Any  # PipelineConfig
    store: Any  # Store
    port: int
    home: Path
    images: dict[str, Any]  # v1, v2, failing → ImageRef
    lines: list[str] = field(default_factory=list)

    def deploy(self, image: str, strategy: str, retry: bool = True) -> Any:
        from runner.codedeploy import deploy

        env = dataclasses.replace(self.config.environments[0], retry_on_canary_failure=retry)
        config = dataclasses.replace(self.config, environments=(env,))
        return deploy(config, self.store, "prod", "web", self.images[image], strategy=strategy,
                      say=self.lines.append)

    @property
    def access_log(self) -> Path:
        return self.home / "envs" / "prod" / "logs" / "access.log"


def tiny(session: Session, say: Callable[[str], None]) -> Tiny:
    """Made once per run: three images, the environment up, v1 live; down at the end."""
    found = session.cache.get("tiny")
    if isinstance(found, Tiny):
        return found
    from runner.codedeploy import down, ensure_up
    from runner.store import open_store
    from tests.integration.deploy.helpers import build_app, free_ports, write_project

    repo = f"bench{session.run_id[:6]}-web"
    images = {
        "v1": build_app(f"{repo}:1a1a1a1a1a1a", "1"),
        "v2": build_app(f"{repo}:2b2b2b2b2b2b", "2"),
        "failing": build_app(f"{repo}:5e5e5e5e5e5e", "5xx", fail=True),
    }
    port, test_port = free_ports(2)
    text = PIPELINE.format(app=f"bench{session.run_id[:6]}-tiny", port=port, test_port=test_port)
    config = write_project(session.tmp / "tiny" / "repo", text)
    home = session.home("tiny")
    made = Tiny(config, open_store(home), port, home, images)
    session.on_cleanup(lambda: down(config, made.store, "prod", say=made.lines.append))
    session.cache["tiny"] = made
    ensure_up(config, made.store, "prod", say=made.lines.append)
    result = made.deploy("v1", "AllAtOnce")
    if result.status != "Succeeded":
        raise RuntimeError(f"deploying v1 failed: {result.reason}")
    say(f"  tiny environment up on 127.0.0.1:{port} (router → web), v1 live")
    return made


# ---------------------------------------------------------------- wrk


def wrk_command(
    session: Session, port: int, duration_s: float, *, url: str = "", options: list[str] = WRK
) -> list[str]:
    """wrk with our summary hook, on /web/version through the router at `port` (or `url`)."""
    script = session.tmp / "wrk-json.lua"
    script.write_text(WRK_LUA)
    target = url or f"http://127.0.0.1:{port}/web/version"
    return [*options, "-d", f"{duration_s:.0f}s", "-s", str(script), target]


def wrk_numbers(output: str) -> dict[str, float]:
    """The JSON line our Lua hook prints, plus wrk's own `Non-2xx` count (both are failures)."""
    line = next((x for x in output.splitlines() if x.startswith("WRKJSON ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no summary:\n{output[-2000:]}")
    data = {k: float(v) for k, v in json.loads(line[len("WRKJSON ") :]).items()}
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    data["non2xx"] = float(non2xx.group(1)) if non2xx else 0.0
    data["socket_errors"] = data["connect"] + data["read"] + data["write"] + data["timeout"]
    data["failed"] = data["socket_errors"] + max(data["status"], data["non2xx"])
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    return data


def slow_upstream_answers(env: Tiny, offset: int, seconds: float = 0.5) -> tuple[int, int]:
    """Router access-log records from `offset` on that took ≥ `seconds` (and the new offset)."""
    path = env.access_log
    if not path.is_file():
        return 0, offset
    with path.open("rb") as handle:
        handle.seek(offset)
        data = handle.read()
    slow = 0
    for line in data.splitlines():
        try:
            slow += float(json.loads(line)["rt"]) >= seconds
        except (ValueError, KeyError):
            continue
    return slow, offset + len(data)


def listen_overflows(app: str) -> dict[str, int]:
    """The kernel's TcpExt ListenOverflows of each running slot (its own network namespace):
    connections dropped because the service's accept queue was full (the client retries the
    SYN after 1 s)."""
    from runner.adapters.docker import containers

    found = {}
    for container in containers.managed_containers({"runner.app": app, "runner.kind": "slot"}):
        if container["status"] != "running":
            continue
        code, text = containers.exec_in(container["name"], ["cat", "/proc/net/netstat"])
        rows = [line.split() for line in text.splitlines() if line.startswith("TcpExt:")]
        if code == 0 and len(rows) == 2:
            found[container["name"]] = int(dict(zip(rows[0], rows[1], strict=True)).get("ListenOverflows", 0))
    return found


def run_flip(session: Session, say: Callable[[str], None]) -> Outcome:
    env = tiny(session, say)
    app = env.config.app
    flips_n = session.size(FLIPS, 2)
    steady_s, warm_up_s = session.seconds(STEADY_S), session.seconds(WARM_UP_S)
    cold = listen_overflows(app)
    # A fresh slot's first seconds under load stall (see the module doc): warm it up first.
    subprocess.run(wrk_command(session, env.port, warm_up_s), capture_output=True, check=True)
    _, offset = slow_upstream_answers(env, 0)
    warm = listen_overflows(app)
    steady_out = subprocess.run(wrk_command(session, env.port, steady_s), capture_output=True, text=True)
    steady = wrk_numbers(steady_out.stdout)
    steady["router_slow_answers"], offset = slow_upstream_answers(env, offset)
    after = listen_overflows(app)
    overflows = {
        "new slot": cold,
        f"after {warm_up_s:.0f}s warm-up": warm,
        f"after the {steady_s:.0f}s steady run": after,
    }
    say(f"  live slot's listen-queue overflows: {overflows}")
    say(f"  steady {steady_s:.0f}s: {steady['rps']:.0f} req/s, p99 {steady['p99_us'] / 1000:.1f} ms, "
        f"failed {steady['failed']:.0f}")
    process = session.spawn(
        wrk_command(session, env.port, 300), stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    output: list[bytes] = []
    reader = threading.Thread(target=lambda: output.append(process.stdout.read() if process.stdout else b""))
    reader.start()
    time.sleep(1.0)
    flips, started = [], time.monotonic()
    try:
        for n in range(flips_n):
            image = "v2" if n % 2 == 0 else "v1"
            began = time.monotonic()
            result = env.deploy(image, "AllAtOnce")
            if result.status != "Succeeded":
                raise RuntimeError(f"flip {n + 1} ({image}) ended {result.status}: {result.reason}")
            flips.append({"image": image, "to_slot": result.to_slot, "s": round(time.monotonic() - began, 3)})
        flipping = time.monotonic() - started
        time.sleep(0.5)
    finally:
        process.send_signal(signal.SIGINT)  # wrk prints its summary on SIGINT
        process.wait(30)
        reader.join(30)
    during = wrk_numbers(b"".join(output).decode(errors="replace"))
    during["router_slow_answers"], offset = slow_upstream_answers(env, offset)
    non2xx = max(during["status"], during["non2xx"])
    say(f"  {flips_n} blue-green deployments in {flipping:.1f}s under wrk: {during['rps']:.0f} req/s, "
        f"{during['requests']:.0f} requests, p99 {during['p99_us'] / 1000:.1f} ms, "
        f"failed {during['failed']:.0f} (socket {during['socket_errors']:.0f}, non-2xx {non2xx:.0f})")
    say(f"  router answers that took ≥ 0.5 s: steady {steady['router_slow_answers']:.0f}, "
        f"during the flips {during['router_slow_answers']:.0f}")
    metrics = {
        "flip_rps": during["rps"],
        "steady_rps": steady["rps"],
        "flip_requests": during["requests"],
        "flip_failed_requests": during["failed"],
        "steady_failed_requests": steady["failed"],
        "flip_p99_ms": during["p99_us"] / 1000,
        "steady_p99_ms": steady["p99_us"] / 1000,
        "flip_p50_ms": during["p50_us"] / 1000,
        "steady_p50_ms": steady["p50_us"] / 1000,
        "flips": float(len(flips)),
        "flip_router_slow_answers": during["router_slow_answers"],
        "steady_router_slow_answers": steady["router_slow_answers"],
        "flip_deploy_median_s": percentile([f["s"] for f in flips], 50),
    }
    rows = [
        Row("flip", f"req/s through the router during {flips_n} blue-green deploys", "flip_rps", "req/s",
            "steady_rps", "same wrk, no deploys", goal="≥ 1000"),
        Row("flip", "failed requests (socket errors + non-2xx)", "flip_failed_requests", "requests",
            "steady_failed_requests", "steady state", ratio=False, goal="0"),
        Row("flip", "p99 latency during the flips", "flip_p99_ms", "ms", "steady_p99_ms", "steady state"),
        Row("flip", "p50 latency during the flips", "flip_p50_ms", "ms", "steady_p50_ms", "steady state"),
        Row("flip", "router answers that took ≥ 0.5 s", "flip_router_slow_answers", "requests",
            "steady_router_slow_answers", "steady state", ratio=False),
        Row("flip", "one AllAtOnce deploy (median)", "flip_deploy_median_s", "s"),
    ]  # fmt: skip
    details = {"wrk": WRK, "steady": steady, "during": during, "flips": flips, "listen_overflows": overflows}
    return Outcome(rows, metrics, details)


# ---------------------------------------------------------------- rollback


@dataclass
class SlotClients:
    """Keep-alive clients without retries at a bounded rate: (time answered, status, slot) each."""

    port: int
    rate: float = 400.0
    connections: int = 4
    answers: list[tuple[float, int, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def __enter__(self) -> SlotClients:
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(self.connections)]
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(10)

    def _run(self) -> None:
        interval = self.connections / self.rate
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        while not self._stop.wait(interval):
            try:
                connection.request("GET", "/web/version")
                response = connection.getresponse()
                body = response.read()
                status, slot = response.status, str(json.loads(body).get("slot"))
            except (OSError, ValueError, http.client.HTTPException) as e:
                status, slot = 0, type(e).__name__
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
            self.answers.append((time.time(), status, slot))  # list.append is atomic
        connection.close()


def run_rollback(session: Session, say: Callable[[str], None]) -> Outcome:
    env = tiny(session, say)
    with SlotClients(env.port) as clients:
        time.sleep(1.0)
        # 50 % for 6 s (time_scale 6000) unless an alarm fires
        result = env.deploy("failing", "canary:50:600m", retry=False)
        time.sleep(1.0)
    if not result.rolled_back:
        raise RuntimeError(f"the failing canary was not rolled back: {result.status} {result.reason}")
    found = env.store.query(
        "SELECT ts, data FROM events WHERE subject=? AND kind='deploy.alarm'", (result.id,)
    )
    alarm = json.loads(found[0]["data"])
    alarm_at = float(alarm["at"])
    bad, old = result.to_slot, result.from_slot
    answers = sorted(clients.answers)
    last_bad = max(n for n, (_, _, slot) in enumerate(answers) if slot == bad)
    after = answers[last_bad + 1 :]
    if not after or any((status, slot) != (200, old) for _, status, slot in after):
        raise RuntimeError(f"after the last answer of slot {bad}, not everything came from {old}")
    restored_at = after[0][0]  # from this answer on, every answer came from the old slot
    first_error = min(t for t, status, _ in answers if status >= 500)
    resolution = 1 / clients.rate
    say(f"  canary {result.id} {result.status}: {result.reason}")
    from_bad = sum(1 for a in answers if a[2] == bad)
    say(f"  relative to the alarm: first 5xx {first_error - alarm_at:+.3f}s, last answer of slot {bad} "
        f"{answers[last_bad][0] - alarm_at:+.3f}s, first of the all-{old} answers "
        f"{restored_at - alarm_at:+.3f}s "
        f"(an answer every ~{resolution * 1000:.1f} ms); {len(answers)} answers, {from_bad} from {bad}, "
        f"{len(after)} after its last all from {old}")
    metrics = {
        "rollback_s": max(0.0, restored_at - alarm_at),
        "rollback_flip_s": float(result.timings.get("rollback_flip_ms", float("nan"))) / 1000,
        "alarm_detect_s": alarm_at - first_error,
        "time_to_restore_s": restored_at - first_error,
        "rollback_answers": float(len(answers)),
    }
    rows = [
        Row("rollback", "alarm → 100 % answered by the old slot", "rollback_s", "s",
            "rollback_flip_s", "router state written back", ratio=False),
        Row("rollback", "first 5xx answered → alarm fired", "alarm_detect_s", "s"),
        Row("rollback", "first 5xx answered → 100 % old slot", "time_to_restore_s", "s"),
    ]  # fmt: skip
    details = {"deployment": result.id, "alarm": alarm, "bad_slot": bad, "old_slot": old}
    return Outcome(rows, metrics, details)


# ---------------------------------------------------------------- canary_fault


def run_canary_fault(session: Session, say: Callable[[str], None]) -> Outcome:
    env = tiny(session, say)
    off, on = (_faulty_canary(env, retry, say) for retry in (False, True))
    metrics = {f"canary_fault_{key}": value for key, value in on.items()}
    metrics |= {f"canary_fault_{key}_off": value for key, value in off.items()}
    rows = [
        Row("canary_fault", "failed GETs during a faulty 50 % canary (router retry on)",
            "canary_fault_failed_requests", "requests", "canary_fault_failed_requests_off", "retry off",
            ratio=False, goal="0"),
        Row("canary_fault", "first failure → alarm fired", "canary_fault_detect_s", "s",
            "canary_fault_detect_s_off", "retry off", ratio=False),
        Row("canary_fault", "alarm → 100 % old slot in the router's state",
            "canary_fault_alarm_to_rollback_ms", "ms", "canary_fault_alarm_to_rollback_ms_off", "retry off",
            ratio=False),
        Row("canary_fault", "faulty slot's last failure, relative to the alarm",
            "canary_fault_last_failure_s", "s", "canary_fault_last_failure_s_off", "retry off", ratio=False),
    ]  # fmt: skip
    return Outcome(rows, metrics, {"retry_on": on, "retry_off": off})


def _faulty_canary(env: Tiny, retry: bool, say: Callable[[str], None]) -> dict[str, float]:
    offset = env.access_log.stat().st_size
    with SlotClients(env.port) as clients:
        time.sleep(1.0)
        result = env.deploy("failing", "canary:50:600m", retry=retry)
        time.sleep(1.0)
    if not result.rolled_back or result.alarm is None:
        raise RuntimeError(f"the failing canary was not rolled back: {result.status} {result.reason}")
    alarm_at = float(result.alarm["at"])
    failures, retried = _slot_failures(env.access_log, offset)
    failed = sum(1 for _, status, _ in clients.answers if status != 200)
    measured = {
        "failed_requests": float(failed),
        "requests": float(len(clients.answers)),
        "retried_requests": float(retried),
        "detect_s": alarm_at - min(failures),
        "alarm_to_rollback_ms": float(result.timings.get("alarm_to_old_slot_ms", float("nan"))),
        "last_failure_s": max(failures) - alarm_at,
    }
    say(f"  retry {'on ' if retry else 'off'}: {failed} of {len(clients.answers)} GETs failed, "
        f"{retried} retried on the original slot, {len(failures)} failures in the router's log; "
        f"alarm {measured['detect_s']:.3f}s after the first, "
        f"last {measured['last_failure_s']:+.3f}s after it")
    return measured


def _slot_failures(path: Path, offset: int) -> tuple[list[float], int]:
    """When the router logged each 5xx first answer from `offset` on (what the alarm counts), and
    how many requests were retried on the original slot."""
    from runner.codedeploy.alarms import RETRIED, parse_line

    with path.open("rb") as handle:
        handle.seek(offset)
        lines = handle.read().decode(errors="replace").splitlines()
    records = [(parse_line(line, {}), line) for line in lines]
    failures = [r.ts for r, _ in records if r is not None and r.status >= 500]
    return failures, sum(1 for r, line in records if r is not None and RETRIED in json.loads(line)["ua"])
