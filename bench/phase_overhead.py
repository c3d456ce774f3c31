"""Figure 1: a 4-phase no-op build against its floors, measured in the same rounds.

- whole process (the headline): `runner build` of a 4-phase no-op buildspec as a fresh
  process, against the same-instrument floor: a minimal Python process (started the same
  way) doing 4 × create/start/wait/remove of `IMAGE true` through the Docker API (docker
  SDK), one after another (API_FLOOR).
- in process (bench/build_overhead.py): run_build against 4 × `docker run --rm IMAGE true`
  (CLI processes), and against one container running the 4 commands.

Rounds alternate all five, so load from elsewhere hits them alike. Then a few builds run
with timers around the Docker, log and store calls (bench/timers.py), and one under
cProfile, to show where the time goes.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.report import Outcome, Row, median
from bench.session import RUNNER, Session
from bench.timers import Timers

ROUNDS = 5
TIMED_BUILDS = 3
FIGURE = "phase_overhead"


def one_container(label: str, image: str) -> float:
    """The lower bound for the same work: every command in one container."""
    started = time.perf_counter()
    command = ["docker", "run", "--rm", "--label", label, image, "bash", "-c", "true; true; true; true"]
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - started


API_FLOOR = """\
import sys
import docker

image, label = sys.argv[1], sys.argv[2]
key, _, value = label.partition("=")
client = docker.from_env()
for _ in range(4):
    container = client.containers.create(image, ["true"], labels={key: value})
    container.start()
    if container.wait()["StatusCode"] != 0:
        sys.exit("true failed")
    container.remove()
"""


def api_floor(session: Session, image: str) -> float:
    """A minimal Python process: 4 × create/start/wait/remove through the Docker API."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", API_FLOOR, image, session.label], check=True, env=session.env())
    return time.perf_counter() - started


def cli_build(session: Session, work: Path) -> float:
    """`runner build` of the no-op buildspec, a fresh process (plain build, its own home)."""
    from bench import build_overhead

    source = work / "cli-src"
    source.mkdir(exist_ok=True)
    (source / "buildspec.yml").write_text(build_overhead.BUILDSPEC)
    started = time.perf_counter()
    done = subprocess.run(
        [RUNNER, "build", "-s", str(source)], cwd=source, capture_output=True, text=True,
        env=session.env(work / "cli-home"),
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"runner build exited {done.returncode}: {(done.stdout + done.stderr)[-2000:]}")
    return elapsed


def instrument(timers: Timers) -> None:
    """Timers around each step a phase takes (the names are the breakdown's categories)."""
    from runner.adapters.docker import client as docker_client
    from runner.adapters.docker import images as docker_images
    from runner.adapters.docker import runs as docker_runs
    from runner.codebuild import build, buildlog, phase_runner, workspace
    from runner.store import db

    api = type(docker_client.client().api)
    running = docker_runs.RunningContainer
    timers.wrap(api, "create_container", "create container (API)")
    timers.wrap(api, "start", "start container (API)")
    timers.wrap(docker_runs, "start", "create/start glue (host config, model)")
    timers.wrap_iterator(running, "output", "container runs: output stream until exit")
    timers.wrap(phase_runner, "_handle", "log handling (markers, masking, buffer)")
    timers.wrap(running, "wait", "wait for exit (API)")
    timers.wrap(running, "finish", "state capture (inspect + writable-layer check)")
    timers.wrap(running, "commit", "commit/snapshot")
    timers.wrap(running, "remove", "remove container")
    timers.wrap(build, "wait_for_removals", "wait for background removals")
    timers.wrap(docker_images, "image", "image inspect (provisioning)")
    timers.wrap(workspace, "create", "workspace + source copy")
    timers.wrap(workspace, "copy_source", "workspace + source copy")
    timers.wrap(build, "record_phase_start", "workspace + source copy")
    for name in ("create_build", "record_phase", "finish_build", "stop_requested"):
        timers.wrap(build, name, "store writes/reads (SQLite)")
    timers.wrap(buildlog, "append_logs", "store writes/reads (SQLite)")
    timers.wrap(db.Store, "execute", "store writes/reads (SQLite)")
    timers.wrap(db.Store, "query", "store writes/reads (SQLite)")


def breakdown(work: Path, builds: int) -> dict[str, Any]:
    from bench import build_overhead

    with Timers() as timers:
        instrument(timers)
        walls = [build_overhead.one_build(work) for _ in range(builds)]
    wall = sum(walls) / builds
    per_build = {k: v / builds for k, v in timers.seconds.items()}
    main = sum(v for k, v in per_build.items() if not k.endswith("(background)"))
    per_build["other (Python: buildspec, env, scripts, records)"] = max(0.0, wall - main)
    ordered = dict(sorted(per_build.items(), key=lambda kv: -kv[1]))
    return {
        "builds": builds,
        "wall_s": round(wall, 4),
        "seconds_per_build": {k: round(v, 4) for k, v in ordered.items()},
        "calls_per_build": {k: timers.calls[k] / builds for k in ordered if k in timers.calls},
    }


def profile(work: Path, into: Path) -> list[str]:
    """One build under cProfile (main thread): the top functions by cumulative and own time."""
    from bench import build_overhead

    profiler = cProfile.Profile()
    profiler.runcall(build_overhead.one_build, work)
    profiler.dump_stats(into)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.strip_dirs().sort_stats("cumulative").print_stats(18)
    stats.sort_stats("tottime").print_stats(8)
    return [line.rstrip() for line in out.getvalue().splitlines() if line.strip()]


def run(session: Session, say: Any) -> Outcome:
    from bench import build_overhead
    from runner.images.base import BUILD

    work = session.tmp / "phase-overhead"
    work.mkdir(parents=True, exist_ok=True)
    if not session.smoke:  # a smoke run only checks that every number comes out
        build_overhead.one_build(work)  # warm-up: imports, the engine's caches, the store
        cli_build(session, work)  # … and the CLI's home and the page cache of its modules
    floors, singles, builds, api_floors, cli_builds = [], [], [], [], []
    for n in range(session.size(ROUNDS)):
        api_floors.append(api_floor(session, BUILD))
        cli_builds.append(cli_build(session, work))
        floors.append(build_overhead.floor())
        singles.append(one_container(session.label, BUILD))
        builds.append(build_overhead.one_build(work))
        say(f"  round {n + 1}: runner build {cli_builds[-1]:.3f}s  API floor process {api_floors[-1]:.3f}s"
            f"  | in process {builds[-1]:.3f}s  4 docker runs {floors[-1]:.3f}s"
            f"  one container {singles[-1]:.3f}s")
    parts = breakdown(work, session.size(TIMED_BUILDS))
    profile_lines = [] if session.smoke else profile(work, session.tmp / "phase_overhead.prof")
    say(f"  where a no-op build's {parts['wall_s']:.3f}s go (mean of {parts['builds']} instrumented builds):")
    for what, seconds in parts["seconds_per_build"].items():
        calls = parts["calls_per_build"].get(what)
        say(f"    {seconds * 1000:8.1f} ms  {what}" + (f"  ({calls:g} calls)" if calls else ""))
    say("  cProfile of one build (main thread):")
    for line in profile_lines:
        say(f"    {line}")
    floor, single, ours = median(floors), median(singles), median(builds)
    cli, api = median(cli_builds), median(api_floors)
    metrics = {
        "build_cli_4_phases_s": cli,
        "floor_api_process_s": api,
        "phase_overhead_ratio_api": cli / api,
        "build_4_phases_s": ours,
        "floor_4_docker_runs_s": floor,
        "one_container_s": single,
        "phase_overhead_ratio": ours / floor,
        "phase_overhead_vs_one_container_ratio": ours / single,
    }
    rows = [
        Row(FIGURE, f"`runner build` process, 4 no-op phases (median of {len(cli_builds)})",
            "build_cli_4_phases_s", "s", "floor_api_process_s", "python: 4 × create/start/wait/remove (API)",
            goal="≤ 1.0x"),
        Row(FIGURE, "phase overhead ratio, whole process (runner build / API floor)",
            "phase_overhead_ratio_api", "x", goal="≤ 1.0"),
        Row(FIGURE, f"4-phase no-op build in process (median of {len(builds)})", "build_4_phases_s", "s",
            "floor_4_docker_runs_s", "4 × docker run --rm IMAGE true", goal="≤ 1.5x"),
        Row(FIGURE, "  same build vs one container for all", "build_4_phases_s", "s",
            "one_container_s", "1 × docker run (4 commands)"),
        Row(FIGURE, "phase overhead ratio (build / floor)", "phase_overhead_ratio", "x", goal="≤ 1.5"),
    ]  # fmt: skip
    details = {
        "rounds": {
            "floor_s": floors,
            "one_container_s": singles,
            "build_s": builds,
            "cli_build_s": cli_builds,
            "api_floor_s": api_floors,
        },
        "breakdown": parts,
        "profile_top": profile_lines,
    }
    return Outcome(rows, metrics, details)
