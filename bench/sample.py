"""Figures 3 and 4 on a temporary copy of sample-services/ (as committed) reduced to catalog.

The copy's pipeline.yml is derived from sample-services/pipeline.yml itself (bench_pipeline()):
catalog's service entry as it stands there (buildspec, inputs, image recipe, route, health),
its appspec and smoke hook; only the bench's own needs are overridden (see DROPPED and
bench_pipeline()), so a change of the samples reaches the bench without a copy to update.

- commit_to_prod: after a first (cold) `runner pipeline run`, the post-commit hook is
  installed and a new catalog version committed; timed from `git commit` starting to the
  first GET /catalog/version on the prod port answering the new version (polled), against
  the pipeline's own stage durations from the store.
- rebuild_skip: deciding "inputs unchanged" for catalog (bench/images_decision.py's way),
  in process and as `runner build catalog`, and how many containers started meanwhile,
  from `docker events` filtered by this run's label.
"""

from __future__ import annotations

import http.client
import io
import json
import os
import subprocess
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.report import Outcome, Row, median
from bench.session import ROOT, RUNNER, Session, container_events, stop_worker

SAMPLES = ROOT / "sample-services"
SERVICE = "catalog"
DECISIONS = 20
CLI_RUNS = 7
FIGURE = "rebuild_skip"
# What the bench changes in sample-services/pipeline.yml (everything else is kept as is):
# its own app name and free ports, AllAtOnce with a short termination wait in both
# environments, no alarms or bake (nothing watches traffic here), time_scale 6000 (the
# waits vanish), and no test stage (its end-to-end tests expect all three services).
TIME_SCALE = "6000"
DROPPED = ("alarms", "bake")


@dataclass(frozen=True, slots=True)
class Sample:
    root: Path
    home: Path
    prod_port: int

    def runner(self, session: Session, *args: str, check: bool = True) -> str:
        done = subprocess.run(
            [RUNNER, *args], cwd=self.root, env=session.env(self.home), capture_output=True, text=True
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"runner {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
        return done.stdout


def export_committed(target: Path) -> None:
    """sample-services/ as committed (not the working tree, which may be mid-change)."""
    archive = subprocess.run(
        ["git", "archive", "--format=tar", f"HEAD:{SAMPLES.relative_to(ROOT)}"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout
    target.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(target, filter="data")


def bench_pipeline(text: str, app: str, ports: list[int]) -> str:
    """sample-services' pipeline.yml reduced to catalog, with the bench's overrides (module doc):
    `ports` are staging's live and test port, then prod's."""
    import yaml

    doc = yaml.safe_load(text)
    if SERVICE not in doc.get("services", {}):
        raise RuntimeError(f"sample-services/pipeline.yml has no service {SERVICE!r}")
    doc["app"] = app
    doc["time_scale"] = TIME_SCALE
    doc["services"] = {SERVICE: doc["services"][SERVICE]}
    doc.pop("test", None)
    environments = {env["name"]: env for env in doc.get("environments", [])}
    chosen = []
    for n, name in enumerate(("staging", "prod")):
        if name not in environments:
            raise RuntimeError(f"sample-services/pipeline.yml has no environment {name!r}")
        env = {k: v for k, v in environments[name].items() if k not in DROPPED}
        env |= {"port": ports[2 * n], "test_port": ports[2 * n + 1],
                "strategy": "CodeDeployDefault.ECSAllAtOnce", "termination_wait": "1s"}  # fmt: skip
        chosen.append(env)
    doc["environments"] = chosen
    header = "# bench: sample-services/pipeline.yml reduced to catalog (bench/sample.py)\n"
    return header + yaml.safe_dump(doc, sort_keys=False)


def sample(session: Session) -> Sample:
    """The copy, made once per run (both figures use it); its environments go down at the end."""
    found = session.cache.get("sample")
    if isinstance(found, Sample):
        return found
    from tests.integration.deploy.helpers import free_ports

    root = session.tmp / "sample" / "repo"
    export_committed(root)
    ports = free_ports(4)
    pipeline = root / "pipeline.yml"
    pipeline.write_text(bench_pipeline(pipeline.read_text(), f"bench{session.run_id[:6]}-shop", ports))
    session.init_repo(root)
    made = Sample(root, session.home("sample"), ports[2])

    def down() -> None:
        made.runner(session, "down", "--all", check=False)

    session.on_cleanup(down)
    session.cache["sample"] = made
    return made


def live_version(port: int) -> str | None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", f"/{SERVICE}/version")
        response = connection.getresponse()
        body = response.read()
        return str(json.loads(body).get("version")) if response.status == 200 else None
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def set_version(root: Path, version: str) -> None:
    path = root / SERVICE / "settings.json"
    settings = json.loads(path.read_text())
    settings["version"] = version
    path.write_text(json.dumps(settings, indent=2) + "\n")


def execution_of(home: Path, commit: str, timeout_s: float = 120) -> dict[str, Any]:
    """The finished execution of `commit` and its stages' durations (from the store)."""
    from runner.store import open_store
    from runner.store import pipelines as records

    store = open_store(home)
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            done = [e for e in records.list_executions(store, 10) if e.commit_sha == commit and e.ended]
            if done:
                stages = records.stage_rows(store, done[0].id)
                return {
                    "status": done[0].status,
                    "created": done[0].created,
                    "ended": done[0].ended,
                    "stages_s": {n: round((r["ended"] or 0) - r["started"], 3) for n, r in stages.items()},
                }
            time.sleep(0.2)
    finally:
        store.close()
    raise RuntimeError(f"no finished pipeline execution for {commit[:12]} within {timeout_s:.0f}s")


def run_commit_to_prod(session: Session, say: Callable[[str], None]) -> Outcome:
    s = sample(session)
    try:
        return _commit_to_prod(session, s, say)
    finally:
        stop_worker(s.home)  # the hook's worker: gone once idle
        s.runner(session, "down", "--all", check=False)  # the later figures need a quiet machine


def _commit_to_prod(session: Session, s: Sample, say: Callable[[str], None]) -> Outcome:
    started = time.monotonic()
    s.runner(session, "pipeline", "run")  # cold: builds catalog, brings staging and prod up
    first = time.monotonic() - started
    before = live_version(s.prod_port)
    say(f"  first (cold) pipeline run: {first:.1f}s; prod answers version {before}")
    s.runner(session, "hook", "install")
    new = f"9.{session.run_id[:4]}"
    set_version(s.root, new)
    session.git(s.root, "add", "-A")
    commit_started = time.time()
    session.git(s.root, "commit", "-q", "-m", f"catalog {new}", env=session.env(s.home))
    commit_returned = time.time()
    while (seen := live_version(s.prod_port)) != new:
        if time.time() - commit_started > 180:
            raise RuntimeError(f"prod still answers {seen!r} 180 s after the commit")
        time.sleep(0.02)
    answered = time.time()
    sha = session.git(s.root, "rev-parse", "HEAD")
    execution = execution_of(s.home, sha)
    stages = execution["stages_s"]
    git_s = commit_returned - commit_started
    say(f"  commit → prod answers {new}: {answered - commit_started:.2f}s (git commit {git_s:.2f}s)")
    say(f"  execution {execution['status']}: stages {stages}")
    metrics = {
        "commit_to_prod_s": answered - commit_started,
        "commit_to_prod_stages_s": sum(stages.values()),
        "commit_to_prod_build_s": stages.get("Build", float("nan")),
        "first_pipeline_run_s": first,
    }
    rows = [
        Row("commit_to_prod", "git commit → new version on the prod port (polled)", "commit_to_prod_s", "s",
            "commit_to_prod_stages_s", "the execution's stages (store)"),
        Row("commit_to_prod", "  of which the Build stage", "commit_to_prod_build_s", "s", ratio=False),
    ]  # fmt: skip
    return Outcome(rows, metrics, {"execution": execution, "first_run_s": round(first, 2)})


def run_rebuild_skip(session: Session, say: Callable[[str], None]) -> Outcome:
    from bench.images_decision import _cli, _times
    from runner.codepipeline.service_build import build_service, decide
    from runner.core import config_loader
    from runner.store import open_store

    s = sample(session)
    os.environ["RUNNER_HOME"] = str(s.home)  # images_decision's CLI runs inherit it
    cfg = config_loader.load(s.root / "pipeline.yml")
    store = open_store(s.home)
    try:
        sha = session.git(s.root, "rev-parse", "HEAD")
        first = build_service(cfg, SERVICE, store, commit=sha)  # a no-op when the pipeline built it
        if first.image is None:
            raise RuntimeError(f"building {SERVICE} failed: {first.status} {first.error}")
        built = store.query(
            "SELECT started, ended FROM builds WHERE service=? AND status='SUCCEEDED' ORDER BY started DESC",
            (SERVICE,),
        )[0]
        decision = decide(cfg, SERVICE, store, sha)
        if decision.rebuild:
            raise RuntimeError(f"expected 'inputs unchanged', got: {decision.reason}")
        time.sleep(1.1)  # docker events have 1 s resolution at the edges: keep the build out
        since = time.time()
        cli = _times(lambda: _cli(s.root, SERVICE), session.size(CLI_RUNS))
        in_process = _times(lambda: decide(cfg, SERVICE, store, sha), session.size(DECISIONS, 2))
        tree = _times(lambda: decide(cfg, SERVICE, store), session.size(DECISIONS // 2, 1))
        until = time.time()
    finally:
        store.close()
    events = container_events(session.label, since, until + 1)
    say(f"  {decision.reason}")
    say(f"  `runner build {SERVICE}` (fresh process) ms: {', '.join(f'{t * 1000:.0f}' for t in cli)}")
    say(f"  {len(decision.inputs.files)} input files; containers during the decisions: {events or 'none'}")
    metrics = {
        "rebuild_skip_s": median(in_process),
        "rebuild_skip_tree_s": median(tree),
        "rebuild_skip_cli_s": median(cli),
        "rebuild_skip_containers_started": float(events.count("start")),
        "rebuild_skip_containers_created": float(events.count("create")),
        "catalog_build_s": built["ended"] - built["started"],
    }
    skipped = ("catalog_build_s", "the catalog build it skips")
    rows = [
        Row(FIGURE, f"`runner build {SERVICE}`, a fresh process deciding 'inputs unchanged' "
            f"(median of {len(cli)})", "rebuild_skip_cli_s", "s", *skipped, goal="≤ 0.15 s"),
        Row(FIGURE, f"  in process, after warm-up (commit, median of {len(in_process)})", "rebuild_skip_s",
            "s", *skipped),
        Row(FIGURE, "  in process, for the working tree", "rebuild_skip_tree_s", "s", *skipped),
        Row(FIGURE, "containers started while deciding", "rebuild_skip_containers_started", "containers",
            goal="0"),
    ]  # fmt: skip
    return Outcome(rows, metrics, {"input_files": len(decision.inputs.files), "events": events})
