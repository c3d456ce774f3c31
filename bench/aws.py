"""`--aws local`: the local AWS's start time, and what one AWS CLI call costs in a build.

    .venv/bin/python -m bench --only aws

Start: `runner.localaws.process.ensure` from nothing running to the proxy answering
(moto imported, registry up), median of 3 cold starts. Calls: one build on the standard
image runs `aws sts get-caller-identity` and `aws s3 ls` CALLS times each through the
local AWS, and `aws --version` CALLS times (the CLI starting, no request) as the
same-run reference; the overhead per call is their difference. Provisioning: the
PROVISIONING phase of a build when the local AWS already runs (the cost every later
build pays).
"""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from bench.report import Outcome, Row
from bench.session import RUNNER, Session

IMAGE = "runner/standard:bookworm"
CALLS = 5
STARTS = 3

BUILDSPEC = f"""version: 0.2
phases:
  build:
    commands:
      - aws s3 mb s3://bench-bucket >/dev/null
      - t0=$(date +%s.%N); for i in $(seq {CALLS}); do aws --version >/dev/null; done; t1=$(date +%s.%N);
        awk -v a=$t0 -v b=$t1 'BEGIN {{print "timing version", b - a}}'
      - t0=$(date +%s.%N); for i in $(seq {CALLS}); do aws sts get-caller-identity >/dev/null; done;
        t1=$(date +%s.%N); awk -v a=$t0 -v b=$t1 'BEGIN {{print "timing sts", b - a}}'
      - t0=$(date +%s.%N); for i in $(seq {CALLS}); do aws s3 ls s3://bench-bucket >/dev/null; done;
        t1=$(date +%s.%N); awk -v a=$t0 -v b=$t1 'BEGIN {{print "timing s3", b - a}}'
"""


def run(session: Session, log: Callable[[str], None]) -> Outcome:
    from runner.adapters.docker import networks
    from runner.localaws import process

    home = session.home("aws")
    session.on_cleanup(lambda: process.stop(home))
    gateway = networks.network_gateway("bridge")
    assert gateway is not None, "the engine has no bridge network"
    starts = []
    for _ in range(STARTS):
        process.stop(home)
        started = time.perf_counter()
        process.ensure(home, "000000000000", gateway)
        starts.append(time.perf_counter() - started)
    log(f"  cold starts: {', '.join(f'{s:.2f}s' for s in starts)}")
    timings, provision = _build(session, home, log)
    per_call = {name: seconds / CALLS for name, seconds in timings.items()}
    metrics = {
        "aws_start_s": statistics.median(starts),
        "aws_cli_start_s": per_call["version"],
        "aws_call_sts_s": per_call["sts"],
        "aws_call_s3_s": per_call["s3"],
        "aws_call_overhead_s": (per_call["sts"] + per_call["s3"]) / 2 - per_call["version"],
        "aws_provision_warm_s": provision,
    }
    rows = [
        Row("aws", "local AWS start (cold, median of 3)", "aws_start_s", "s"),
        Row(
            "aws",
            "aws sts get-caller-identity in a build",
            "aws_call_sts_s",
            "s",
            "aws_cli_start_s",
            "aws --version (CLI start alone)",
        ),
        Row(
            "aws",
            "aws s3 ls s3://bucket in a build",
            "aws_call_s3_s",
            "s",
            "aws_cli_start_s",
            "aws --version (CLI start alone)",
        ),
        Row(
            "aws",
            "overhead per AWS CLI call (request through the local AWS)",
            "aws_call_overhead_s",
            "s",
            ratio=False,
        ),
        Row(
            "aws",
            "PROVISIONING of a --aws local build (AWS running)",
            "aws_provision_warm_s",
            "s",
            ratio=False,
        ),
    ]
    return Outcome(rows, metrics, {"starts_s": starts, "calls": CALLS, "timings_s": timings})


def _build(session: Session, home: Path, log: Callable[[str], None]) -> tuple[dict[str, float], float]:
    source = home.parent / "src"
    source.mkdir(exist_ok=True)
    (source / "buildspec.yml").write_text(BUILDSPEC)
    done = subprocess.run(
        [RUNNER, "build", "-s", str(source), "-i", IMAGE, "--aws", "local", "--json"],
        env=session.env(home),
        capture_output=True,
        text=True,
        timeout=600,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the bench build failed: {done.stderr[-2000:]}")
    timings = {
        fields[1]: float(fields[2])
        for fields in (line.split() for line in done.stderr.splitlines() if " timing " in f" {line}")
        if len(fields) == 3 and fields[0] == "timing"
    }
    phases = {p["name"]: p["duration_s"] for p in json.loads(done.stdout)["phases"]}
    log(f"  per {CALLS} calls: {timings}; PROVISIONING {phases['PROVISIONING']:.3f}s")
    return timings, float(phases["PROVISIONING"])
