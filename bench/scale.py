"""Figure 7: a generated 20-service monorepo, 10,000 builds of history, and `runner watch`'s memory.

- monorepo: 20 tiny services (one-command buildspec, FROM runner/python:bookworm, one
  file each). A first `runner pipeline run` builds them all (the baseline, untimed);
  then one service changes and `runner pipeline run` runs again, timed from its start to
  its Build stage ending. The only environment waits for a manual approval that times
  out after 1 s, so executions end after Build and nothing is deployed.
  Services built = build records of the new commit (the others reuse their images).
- history: bench/ui_load.py's fill() writes 10,000 builds (8 phases, 20 log lines each)
  through the store; the real CLI `runner history --json` is timed in fresh processes,
  against the same command on an empty store (interpreter, imports, store open).
- watch_rss: `runner watch` on the monorepo for a few seconds, VmRSS/VmHWM from
  /proc/PID/status, against a bare interpreter's.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.report import Outcome, Row, median
from bench.session import RUNNER, Session

SERVICES = 20
CHANGED = 7  # the service that changes (the last one with --smoke's fewer services)
HISTORY_BUILDS = 10_000
HISTORY_RUNS = 5
WATCH_S = 4.0


@dataclass(frozen=True, slots=True)
class Monorepo:
    root: Path
    home: Path
    services: int

    @property
    def changed(self) -> str:
        return f"s{min(CHANGED, self.services - 1):02d}"


def monorepo(session: Session) -> Monorepo:
    found = session.cache.get("monorepo")
    if isinstance(found, Monorepo):
        return found
    root = session.tmp / "monorepo" / "repo"
    count = session.size(SERVICES, 3)
    services = "".join(f"  s{i:02d}: {{path: services/s{i:02d}}}\n" for i in range(count))
    root.mkdir(parents=True)
    (root / "pipeline.yml").write_text(
        f"app: bench{session.run_id[:6]}-mono\nbuild_parallelism: 2\nservices:\n{services}"
        "environments:\n  - {name: staging, port: 18997, test_port: 18998, approval: manual,"
        " approval_timeout: 1s}\n"
    )
    for i in range(count):
        service = root / "services" / f"s{i:02d}"
        service.mkdir(parents=True)
        (service / "buildspec.yml").write_text('version: 0.2\nphases:\n  build:\n    commands: ["true"]\n')
        (service / "Dockerfile").write_text("FROM runner/python:bookworm\nCOPY app.py /app/app.py\n")
        (service / "app.py").write_text(f"print({i})\n")
    session.init_repo(root)
    made = Monorepo(root, session.home("monorepo"), count)
    session.cache["monorepo"] = made
    return made


def pipeline_run(session: Session, repo: Monorepo) -> float:
    """`runner pipeline run` (it ends Failed at the approval: only Source and Build matter)."""
    started = time.time()
    subprocess.run(
        [RUNNER, "pipeline", "run"], cwd=repo.root, env=session.env(repo.home), capture_output=True
    )
    return started


@dataclass(frozen=True, slots=True)
class BuildStage:
    """What the Build stage of one commit's execution did (from the store)."""

    ended: float
    seconds: float
    built: list[str]  # services with a build record for the commit
    build_s: list[float]
    reused: int


def build_stage(repo: Monorepo, commit: str) -> BuildStage:
    from runner.store import open_store
    from runner.store import pipelines as records

    store = open_store(repo.home)
    try:
        execution = next(e for e in records.list_executions(store, 5) if e.commit_sha == commit)
        stage = records.stage_rows(store, execution.id)["Build"]
        builds = store.query(
            "SELECT service, started, ended FROM builds WHERE resolved_source_version=?", (commit,)
        )
    finally:
        store.close()
    images = stage["detail"].get("images", {})
    return BuildStage(
        ended=float(stage["ended"]),
        seconds=float(stage["ended"] - stage["started"]),
        built=sorted(str(b["service"]) for b in builds),
        build_s=[float(b["ended"] - b["started"]) for b in builds],
        reused=sum(1 for i in images.values() if i.get("reused")),
    )


def run_monorepo(session: Session, say: Callable[[str], None]) -> Outcome:
    repo = monorepo(session)
    first = pipeline_run(session, repo)
    baseline = build_stage(repo, session.git(repo.root, "rev-parse", "HEAD"))
    say(f"  baseline: {len(baseline.built)} services built in {time.time() - first:.1f}s")
    (repo.root / "services" / repo.changed / "app.py").write_text("print('changed')\n")
    session.git(repo.root, "commit", "-q", "-a", "-m", f"{repo.changed}: changed")
    commit = session.git(repo.root, "rev-parse", "HEAD")
    started = pipeline_run(session, repo)
    stage = build_stage(repo, commit)
    total = stage.ended - started
    say(f"  one changed ({repo.changed}): built {stage.built}, reused {stage.reused}; pipeline run start → "
        f"Build stage ended {total:.2f}s (Build stage {stage.seconds:.2f}s)")
    metrics = {
        "monorepo_services_built": float(len(stage.built)),
        "monorepo_services_reused": float(stage.reused),
        "monorepo_total_s": total,
        "monorepo_build_stage_s": stage.seconds,
        "monorepo_one_build_s": median(stage.build_s),
        "monorepo_baseline_builds": float(len(baseline.built)),
    }
    rows = [
        Row("monorepo", f"{repo.services} services, 1 changed: services built", "monorepo_services_built",
            "services", goal="1"),
        Row("monorepo", "`runner pipeline run` start → images ready", "monorepo_total_s", "s",
            "monorepo_one_build_s", "the one service's build record"),
    ]  # fmt: skip
    details = {"built": stage.built, "reused": stage.reused, "baseline_built": len(baseline.built)}
    return Outcome(rows, metrics, details)


# ---------------------------------------------------------------- history


def time_cli(
    session: Session,
    commands: dict[str, tuple[Path, list[str]]],
    runs: int,
    cwd: dict[str, Path] | None = None,
) -> tuple[dict[str, float], dict[str, str]]:
    """Median wall time of each runner command (name → (RUNNER_HOME, args); a fresh process
    each time, in cwd[name] or its home), interleaved so that load from elsewhere hits them
    alike; and each command's stdout."""
    samples: dict[str, list[float]] = {name: [] for name in commands}
    outputs: dict[str, str] = {}
    for _ in range(runs):
        for name, (home, args) in commands.items():
            started = time.perf_counter()
            done = subprocess.run(
                [RUNNER, *args], cwd=(cwd or {}).get(name, home), env=session.env(home), capture_output=True,
                text=True, check=True,
            )  # fmt: skip
            samples[name].append(time.perf_counter() - started)
            outputs[name] = done.stdout
    return {name: median(values) for name, values in samples.items()}, outputs


def import_profile(session: Session, home: Path, args: list[str]) -> list[tuple[str, float]]:
    """`python -X importtime -m runner ARGS`: top-level imports and their cumulative ms, biggest first."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "runner", *args],
        cwd=home,
        env=session.env(home),
        capture_output=True,
        text=True,
        check=True,
    )
    found = []
    for line in done.stderr.splitlines():
        parts = line.split("|")
        # "import time:  self | cumulative | name"; nested imports are indented after the bar.
        if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
            found.append((parts[2].strip(), int(parts[1]) / 1000))
    return sorted(found, key=lambda item: -item[1])


def run_history(session: Session, say: Callable[[str], None]) -> Outcome:
    from bench.ui_load import fill
    from runner.store import Store

    empty, full = session.home("history-empty"), session.home("history")
    Store(empty / "state.db").close()
    store = Store(full / "state.db")
    started = time.perf_counter()
    builds = session.size(HISTORY_BUILDS, 200)
    fill(store, builds)
    store.close()
    filled = time.perf_counter() - started
    timed, outputs = time_cli(
        session,
        {
            "empty": (empty, ["history", "--json"]),
            "default": (full, ["history", "--json"]),
            "all": (full, ["history", "--json", "--limit", "0"]),
        },
        session.size(HISTORY_RUNS),
    )
    base, default, everything = timed["empty"], timed["default"], timed["all"]
    listed, listed_all = len(json.loads(outputs["default"])), len(json.loads(outputs["all"]))
    say(f"  {builds} builds written in {filled:.1f}s; `runner history --json` lists {listed} "
        f"in {default * 1000:.0f} ms, --limit 0 lists {listed_all} in {everything * 1000:.0f} ms; "
        f"empty store {base * 1000:.0f} ms")
    imports = import_profile(session, full, ["history", "--json"])
    say("  imports of `runner history --json` (python -X importtime, top level, cumulative): "
        + ", ".join(f"{name} {ms:.0f} ms" for name, ms in imports[:6]))
    metrics = {
        "history_imports_ms": sum(ms for _, ms in imports),
        "history_10k_ms": default * 1000,
        "history_10k_all_ms": everything * 1000,
        "history_empty_ms": base * 1000,
    }
    rows = [
        Row("history", f"`runner history --json` ({builds} builds, lists {listed})", "history_10k_ms",
            "ms", "history_empty_ms", "same command, empty store"),
        Row("history", f"  --limit 0 (all {listed_all})", "history_10k_all_ms", "ms",
            "history_empty_ms", "same command, empty store"),
        Row("history", "  its module imports (python -X importtime)", "history_imports_ms", "ms",
            "history_empty_ms", "same command, empty store"),
    ]  # fmt: skip
    details = {"fill_s": round(filled, 2), "listed": [listed, listed_all], "imports_ms": imports[:12]}
    return Outcome(rows, metrics, details)


# ---------------------------------------------------------------- watch


def memory_kb(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = int(value.split()[0])
    return fields


def run_watch_rss(session: Session, say: Callable[[str], None]) -> Outcome:
    repo = monorepo(session)
    log = session.tmp / "watch.log"
    with log.open("wb") as out:
        watch = session.spawn(
            [RUNNER, "watch"], cwd=repo.root, env=session.env(repo.home), stdout=out, stderr=out
        )
    bare = session.spawn([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        deadline = time.monotonic() + 60
        while "watching" not in log.read_text(errors="replace"):
            if watch.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"runner watch did not start:\n{log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.1)
        time.sleep(session.seconds(WATCH_S))
        ours, floor = memory_kb(watch.pid), memory_kb(bare.pid)
    finally:
        watch.send_signal(signal.SIGINT)
        bare.kill()
        watch.wait(30)
        bare.wait(5)
    say(f"  runner watch ({repo.services} services, {session.seconds(WATCH_S):.0f}s): "
        f"VmRSS {ours['VmRSS'] / 1024:.1f} MB, "
        f"VmHWM {ours['VmHWM'] / 1024:.1f} MB; bare interpreter {floor['VmRSS'] / 1024:.1f} MB")
    metrics = {
        "watch_rss_mb": ours["VmRSS"] / 1024,
        "watch_hwm_mb": ours["VmHWM"] / 1024,
        "python_rss_mb": floor["VmRSS"] / 1024,
    }
    rows = [
        Row("watch_rss", f"`runner watch` RSS ({repo.services}-service repo, idle)", "watch_rss_mb", "MB",
            "python_rss_mb", "a bare python3 process"),
        Row("watch_rss", "  its peak (VmHWM)", "watch_hwm_mb", "MB", "python_rss_mb", "a bare python3"),
    ]  # fmt: skip
    return Outcome(rows, metrics, {"log_tail": log.read_text(errors="replace")[-1000:]})
