"""How long the "inputs unchanged" decision takes for a sample service (goal: ≤ 0.5 s).

    .venv/bin/python -m bench.images_decision [SERVICE]

Copies sample-services/ (or a tiny generated project) into a temporary git repository,
builds SERVICE once for real, then times the decision that skips the next build: in
process (decide() for a commit and for the working tree) and end to end (`runner build
SERVICE` in a fresh process, which reuses the image). Removes what it created.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

SAMPLES = Path(__file__).resolve().parent.parent / "sample-services"
TINY = {
    "pipeline.yml": "app: bench\nservices:\n  api: {path: api}\n"
    "environments:\n  - {name: staging, port: 18080, test_port: 18081}\n",
    "api/buildspec.yml": "version: 0.2\nphases:\n  build:\n    commands: [cd $SERVICE_PATH, ls]\n",
    "api/Dockerfile": "FROM runner/python:bookworm\nCOPY . /app\n",
    "api/app.py": "print('hi')\n",
}


def _git(root: Path, *args: str) -> None:
    command = ["git", "-c", "user.email=b@example.com", "-c", "user.name=bench", *args]
    subprocess.run(command, cwd=root, check=True, capture_output=True)


def _project(root: Path) -> str:
    if (SAMPLES / "pipeline.yml").is_file():
        shutil.copytree(SAMPLES, root, dirs_exist_ok=True)
        default = "catalog"
    else:
        for name, text in TINY.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        default = "api"
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "bench")
    return default


def _times(action: Callable[[], object], runs: int) -> list[float]:
    result = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        result.append(time.perf_counter() - started)
    return result


def main(argv: list[str]) -> int:
    label = f"runner.bench={uuid.uuid4().hex[:12]}"
    os.environ["RUNNER_LABELS"] = label
    from runner.adapters.docker import images
    from runner.codepipeline.service_build import build_service, decide
    from runner.core import config_loader
    from runner.store import open_store

    with tempfile.TemporaryDirectory(prefix="runner-bench-") as tmp:
        root, home = Path(tmp) / "repo", Path(tmp) / "home"
        root.mkdir()
        service = argv[0] if argv else _project(root)
        os.environ["RUNNER_HOME"] = str(home)
        cfg, store = config_loader.load(root / "pipeline.yml"), open_store(home)
        try:
            first = build_service(cfg, service, store)
            if first.image is None:
                print(f"the first build of {service} failed: {first.status} {first.error}")
                return 1
            sha = first.commit
            rows = [
                ("decide(commit)", _times(lambda: decide(cfg, service, store, sha), 20)),
                ("decide(working tree)", _times(lambda: decide(cfg, service, store), 20)),
                ("runner build (new process)", _times(lambda: _cli(root, service), 5)),
            ]
            print(f"service {service}: {len(decide(cfg, service, store, sha).inputs.files)} input files")
            print(f"{'what':<28}{'median':>10}{'max':>10}")
            for what, values in rows:
                print(f"{what:<28}{statistics.median(values) * 1000:>8.0f}ms{max(values) * 1000:>8.0f}ms")
        finally:
            for found in images.list_images([label]):
                for tag in found.tags:
                    images.remove_image(tag)
                images.remove_image(found.id)
    return 0


def _cli(root: Path, service: str) -> None:
    """`runner build SERVICE` as a user types it: the installed script, a fresh process."""
    runner = str(Path(sys.executable).parent / "runner")
    done = subprocess.run([runner, "build", service], cwd=root, capture_output=True, text=True)
    if "inputs unchanged" not in done.stderr + done.stdout:
        raise RuntimeError(f"expected a reuse, got: {done.stderr[-2000:]}")


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
