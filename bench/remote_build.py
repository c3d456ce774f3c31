"""A 4-phase no-op build on an engine that sees none of our files vs the same build on the local one.

The remote engine is the second engine of scripts/second-engine.sh (its own network namespace,
tmpfs over our directories): `runner build -H tcp://…` copies the workspace in and out through
the engine's API around every container, which a local build reaches by bind mounts. Each
round runs both as fresh processes (start to exit), alternating which goes first. The build
image is streamed there first when it is missing (not timed) and removed again afterwards.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from bench.report import Outcome, Row, median
from bench.session import RUNNER, Session

FIGURE = "remote_build"
ROUNDS = 7
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "second-engine.sh"
URL = "tcp://10.231.0.2:2375"


def _engine_up(session: Session, say: Any) -> None:
    if subprocess.run([str(SCRIPT), "status"], capture_output=True).returncode == 0:
        return
    say("  starting the second engine (scripts/second-engine.sh start)")
    done = subprocess.run([str(SCRIPT), "start"], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"second-engine.sh start failed: {done.stderr[-500:]}")
    session.on_cleanup(lambda: subprocess.run([str(SCRIPT), "stop"], capture_output=True, check=False))


def _image_there(session: Session, image: str, say: Any) -> None:
    from runner.adapters.docker.remote import Endpoint
    from runner.adapters.docker.transfer import copy_image

    copied = copy_image(Endpoint("unix:///var/run/docker.sock"), image, Endpoint(URL))
    if copied.bytes_sent:
        say(f"  streamed {image} there: {copied.bytes_sent >> 20} MB in {copied.seconds:.1f}s")
        remove = ["docker", "-H", URL, "rmi", image]
        session.on_cleanup(lambda: subprocess.run(remove, capture_output=True, check=False))


def one_build(session: Session, source: Path, home: Path, *flags: str) -> float:
    started = time.perf_counter()
    done = subprocess.run(
        [RUNNER, "build", *flags, "--json"], cwd=source, capture_output=True, text=True, env=session.env(home)
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0 or json.loads(done.stdout)["status"] != "SUCCEEDED":
        raise RuntimeError(f"runner build {' '.join(flags)} exited {done.returncode}: {done.stderr[-500:]}")
    return elapsed


def run(session: Session, say: Any) -> Outcome:
    from bench import build_overhead
    from runner.images.base import BUILD

    _engine_up(session, say)
    _image_there(session, BUILD, say)
    source = session.tmp / "remote-build"
    source.mkdir(parents=True, exist_ok=True)
    (source / "buildspec.yml").write_text(build_overhead.BUILDSPEC)
    home = session.home("remote-build")
    local_flags: tuple[str, ...] = ("-i", BUILD)
    remote_flags = ("-H", URL, "-i", BUILD)
    if not session.smoke:  # warm-up: the page cache, the engines' caches, the store
        one_build(session, source, home, *local_flags)
        one_build(session, source, home, *remote_flags)
    local, remote = [], []
    for n in range(session.size(ROUNDS)):
        if n % 2:
            remote.append(one_build(session, source, home, *remote_flags))
            local.append(one_build(session, source, home, *local_flags))
        else:
            local.append(one_build(session, source, home, *local_flags))
            remote.append(one_build(session, source, home, *remote_flags))
        say(f"  round {n + 1}: remote {remote[-1]:.3f}s  local {local[-1]:.3f}s")
    metrics = {
        "remote_build_4_phases_s": median(remote),
        "local_build_4_phases_s": median(local),
        "remote_build_ratio": median(remote) / median(local),
    }
    rows = [
        Row(FIGURE, f"`runner build -H`, engine without our files, 4 no-op phases (median of {len(remote)})",
            "remote_build_4_phases_s", "s", "local_build_4_phases_s", "the same build on the local engine"),
        Row(FIGURE, "remote build / local build", "remote_build_ratio", "x"),
    ]  # fmt: skip
    details = {"remote_s": remote, "local_s": local, "engine": URL}
    return Outcome(rows, metrics, details)
