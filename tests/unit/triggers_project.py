"""A tiny monorepo in tmp_path for the trigger tests: real git, two services, trivial builds."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from runner.store import Store
from runner.store import queue as q

PIPELINE = """\
app: trig
{extra}services:
  api: {{path: services/api}}
  web: {{path: services/web}}
environments:
  - {{name: staging, port: 18381, test_port: 19381}}
"""
DOCKERFILE = "FROM runner/python:bookworm\nCOPY . /app\n"
BUILDSPEC = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo built $RUNNER_SERVICE\n"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "t",
    "GIT_AUTHOR_EMAIL": "t@example.com",
    "GIT_COMMITTER_NAME": "t",
    "GIT_COMMITTER_EMAIL": "t@example.com",
}


def git(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["git", *args], cwd=root, check=check, capture_output=True, text=True, env={**os.environ, **GIT_ENV}
    )


def head(root: Path) -> str:
    return git(root, "rev-parse", "HEAD").stdout.strip()


def make_project(tmp_path: Path, extra: str = "") -> Path:
    root = tmp_path / "repo"
    files = {
        "pipeline.yml": PIPELINE.format(extra=extra),
        ".gitignore": ".runner/\n*.log\nbuild/\n",
        "README.md": "trig\n",
    }
    for name in ("api", "web"):
        files |= {
            f"services/{name}/app.py": f"print('{name} v1')\n",
            f"services/{name}/Dockerfile": DOCKERFILE,
            f"services/{name}/buildspec.yml": BUILDSPEC,
        }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "init")
    return root


def commit_change(root: Path, path: str, text: str, message: str = "change") -> str:
    (root / path).write_text(text)
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", message)
    return head(root)


def wait_until(check: Callable[[], bool], timeout: float = 20, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} not reached in {timeout}s"
        time.sleep(0.02)


def rows(store: Store) -> list[q.QueueEntry]:
    return list(reversed(q.recent(store, 1000)))
