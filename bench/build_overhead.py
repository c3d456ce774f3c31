"""A 4-phase no-op build against the floor: 4 × `docker run --rm IMAGE true`, same run.

    .venv/bin/python -m bench.build_overhead [--rounds 7] [--profile FILE]

Each round times both, alternating, so load from elsewhere hits both alike. The
build is `runner.build.run_build` with install/pre_build/build/post_build each running
`true` (no snapshot is needed: nothing outside the workspace changes). Prints the
medians and their ratio (goal: at most 1.5). With --profile, one more build runs
under cProfile and the stats go to FILE (read them with `python -m pstats FILE`).
Everything it creates is labelled and removed.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import shutil
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

# `python -m bench` labels its whole run before importing this module: keep its label.
_GIVEN = os.environ.get("RUNNER_LABELS", "")
_OURS = _GIVEN.startswith("runner.bench=") and "," not in _GIVEN
LABEL = _GIVEN if _OURS else f"runner.bench={uuid.uuid4().hex[:12]}"
os.environ["RUNNER_LABELS"] = LABEL  # before runner is imported: every container carries it

from runner.codebuild.build import BuildRequest, run_build  # noqa: E402
from runner.images.base import BUILD  # noqa: E402
from runner.store import open_store  # noqa: E402

BUILDSPEC = """version: 0.2
phases:
  install: {commands: ["true"]}
  pre_build: {commands: ["true"]}
  build: {commands: ["true"]}
  post_build: {commands: ["true"]}
"""


def floor() -> float:
    started = time.perf_counter()
    for _ in range(4):
        subprocess.run(["docker", "run", "--rm", "--label", LABEL, BUILD, "true"], check=True)
    return time.perf_counter() - started


def one_build(work: Path) -> float:
    source = work / f"src-{uuid.uuid4().hex[:6]}"
    source.mkdir()
    (source / "buildspec.yml").write_text(BUILDSPEC)
    request = BuildRequest(
        source=source,
        buildspec=source / "buildspec.yml",
        image=BUILD,
        project="bench",
        work_dir=work / "home" / "work",
    )
    store = open_store(work / "home")
    started = time.perf_counter()
    result = run_build(request, store)
    elapsed = time.perf_counter() - started
    if result.status != "SUCCEEDED":
        raise SystemExit(f"the no-op build ended {result.status}")
    return elapsed


def cleanup() -> None:
    for listing, remove in ((["ps", "-aq"], ["rm", "-f"]), (["images", "-q"], ["rmi", "-f"])):
        ids = subprocess.run(
            ["docker", *listing, "--filter", f"label={LABEL}"], capture_output=True, text=True
        ).stdout.split()
        if ids:
            subprocess.run(["docker", *remove, *ids], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--profile", metavar="FILE", help="profile one more build into FILE")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="runner-bench-"))
    try:
        one_build(work)  # warm-up: imports, the engine's image cache, the store
        floors, builds = [], []
        for _ in range(args.rounds):
            floors.append(floor())
            builds.append(one_build(work))
        if args.profile:
            profiler = cProfile.Profile()
            profiler.runcall(one_build, work)
            profiler.dump_stats(args.profile)
    finally:
        cleanup()
        shutil.rmtree(work, ignore_errors=True)
    low, ours = statistics.median(floors), statistics.median(builds)
    print(f"rounds: {args.rounds}")
    print(f"floor, 4 x docker run --rm {BUILD} true: median {low:.3f} s  (min {min(floors):.3f})")
    print(f"4-phase no-op build (run_build):           median {ours:.3f} s  (min {min(builds):.3f})")
    print(f"ratio: {ours / low:.2f} (goal <= 1.5)")


if __name__ == "__main__":
    main()
