"""From `git commit` to a running build: the hook's own time and the trigger latencies.

    .venv/bin/python -m bench.trigger_latency [--commits 20] [--modes hook,hook-cold,watch]

A tiny one-service project in a temporary git repository; every commit changes the
service, so every commit is built for real. Its only environment needs a manual approval
that times out after 1 s, so executions end right after Build and nothing is deployed.
Commits are made one at a time, each after the previous execution ended:

- hook:      post-commit hook installed, the worker it started is still alive (warm);
- hook-cold: the same, waiting for the worker to exit between commits (a new worker each time);
- watch:     `runner watch --no-tree` running, no hook.

Prints p50/p90 of: the hook's run time (git's trace2 `child_exit` of the hook), commit
start → queue row written, commit returned → row taken by the worker, commit returned →
build record started (run_mode also returns commit start → build record started).
Removes everything it created.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

LABEL = f"runner.bench={uuid.uuid4().hex[:12]}"
PROJECT = {
    "pipeline.yml": "app: trigbench\nservices:\n  api: {path: api}\nenvironments:\n"
    "  - {name: staging, port: 18480, test_port: 18481, approval: manual, approval_timeout: 1s}\n",
    "api/buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands: [echo built]\n",
    "api/Dockerfile": "FROM runner/python:bookworm\nCOPY . /app\n",
    "api/app.py": "print(0)\n",
    ".gitignore": ".runner/\n",
}
GIT = ["git", "-c", "user.email=b@example.com", "-c", "user.name=bench"]


def percentiles(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p50 = ordered[len(ordered) // 2]
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return f"{p50 * 1000:7.0f} {p90 * 1000:7.0f}"


def wait(check: Callable[[], object], timeout: float = 120) -> object:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise RuntimeError(f"bench: timed out after {timeout:.0f}s waiting for the pipeline")
        time.sleep(0.005)
    return value


def make_repo(root: Path) -> None:
    for name, text in PROJECT.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    subprocess.run(["git", "init", "-q", "-b", "main", str(root)], check=True)
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True)
    subprocess.run([*GIT, "commit", "-q", "-m", "init"], cwd=root, check=True)


def hook_seconds(trace: Path) -> float | None:
    """The post-commit hook's run time as git measured it (trace2 child_exit.t_rel)."""
    child = None
    for line in trace.read_text().splitlines():
        event = json.loads(line)
        if event.get("event") == "child_start" and event.get("hook_name") == "post-commit":
            child = event["child_id"]
        elif event.get("event") == "child_exit" and child is not None and event.get("child_id") == child:
            return float(event["t_rel"])
    return None


STARTED = "SELECT enqueued, started FROM queue WHERE commit_sha=? AND started IS NOT NULL"
BUILD_STARTED = "SELECT started FROM builds WHERE resolved_source_version=?"
ENDED = "SELECT 1 FROM queue WHERE commit_sha=? AND ended IS NOT NULL"


def commit(root: Path, trace: Path, i: int) -> tuple[str, float, float, Path]:
    """Change the service and commit; (sha, commit started, commit returned, trace2 file)."""
    (root / "api/app.py").write_text(f"print({i + 1})\n")
    subprocess.run([*GIT, "add", "-A"], cwd=root, check=True)
    env = {**os.environ, "GIT_TRACE2_EVENT": str(trace)}
    t0 = time.time()
    subprocess.run([*GIT, "commit", "-q", "-m", f"c{i}"], cwd=root, check=True, env=env, capture_output=True)
    t1 = time.time()
    sha = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True).stdout
    return sha.strip(), t0, t1, trace


def run_mode(mode: str, commits: int, base: Path) -> dict[str, list[float]]:
    from runner.store import open_store
    from runner.triggers import hook, post_commit

    root, home = base / mode / "repo", base / mode / "home"
    make_repo(root)
    previous_home = os.environ.get("RUNNER_HOME")
    os.environ["RUNNER_HOME"] = str(home)  # the hook, the worker and `runner watch` inherit it
    home.mkdir(parents=True)
    store = open_store(home)
    watch = None
    if mode == "watch":
        log = base / mode / "watch.log"
        with log.open("w") as out:
            watch = subprocess.Popen(
                [sys.executable, "-m", "runner", "watch", "--no-tree"], cwd=root, stderr=out
            )
        wait(lambda: "watching" in log.read_text())
    else:
        hook.install(root)
    found: dict[str, list[float]] = {"hook": [], "queued": [], "started": [], "build": [], "whole": []}
    try:
        for i in range(commits):
            if mode == "hook-cold":
                wait(lambda: post_commit.holder(str(home)) is None)
            sha, t0, t1, trace = commit(root, base / mode / f"trace-{i}.json", i)
            entry = wait(lambda sha=sha: store.query(STARTED, (sha,)))[0]  # type: ignore[index]
            build = wait(lambda sha=sha: store.query(BUILD_STARTED, (sha,)))[0]  # type: ignore[index]
            found["queued"].append(entry["enqueued"] - t0)
            found["started"].append(entry["started"] - t1)
            found["build"].append(build["started"] - t1)
            found["whole"].append(build["started"] - t0)  # what a user waits: from the commit's start
            if (seconds := hook_seconds(trace)) is not None:
                found["hook"].append(seconds)
            wait(lambda sha=sha: store.query(ENDED, (sha,)))
    finally:
        if watch is not None:
            watch.send_signal(signal.SIGINT)
            watch.wait(60)
        wait(lambda: post_commit.holder(str(home)) is None)
        if previous_home is None:
            os.environ.pop("RUNNER_HOME", None)
        else:
            os.environ["RUNNER_HOME"] = previous_home
    return found


def cleanup() -> None:
    for kind in ("ps -aq", "images -q"):
        ids = subprocess.run(
            ["docker", *kind.split(), "--filter", f"label={LABEL}"], capture_output=True, text=True
        ).stdout.split()
        if ids:
            subprocess.run(
                ["docker", "rm" if kind.startswith("ps") else "rmi", "-f", *ids], capture_output=True
            )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--commits", type=int, default=20)
    parser.add_argument("--modes", default="hook,hook-cold,watch")
    args = parser.parse_args()
    os.environ["RUNNER_LABELS"] = LABEL
    base = Path(tempfile.mkdtemp(prefix="trigger-bench-"))
    print(f"{'mode':10} {'n':>3}  {'hook run ms':>15}  {'commit→queued ms':>15}  "
          f"{'returned→started':>16}  {'returned→build':>15}")  # fmt: skip
    print(
        f"{'':10} {'':>3}  {'p50     p90':>15}  {'p50     p90':>15}  {'p50     p90':>16}  {'p50     p90':>15}"
    )
    try:
        for mode in args.modes.split(","):
            r = run_mode(mode, args.commits, base)
            cells = [percentiles(r["hook"]), percentiles(r["queued"]), percentiles(r["started"])]
            print(f"{mode:10} {len(r['build']):3d}  {cells[0]:>15}  {cells[1]:>15}  {cells[2]:>16}  ", end="")
            print(f"{percentiles(r['build']):>15}", flush=True)
    finally:
        cleanup()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
