"""Shared by the reliability tests: the real CLI in a subprocess, store snapshots, waiting."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from runner.store import Store

RUNNER = [sys.executable, "-m", "runner"]
CORPUS = Path(__file__).parent / "corpus"


def run_cli(
    *args: str, cwd: Path, home: Path | None = None, timeout: float = 120, **env: str
) -> subprocess.CompletedProcess[str]:
    """`runner ARGS` as a user runs it: a separate process, its own environment."""
    environ = {**os.environ, **env}
    if home is not None:
        environ["RUNNER_HOME"] = str(home)
    return subprocess.run(
        [*RUNNER, *args], cwd=cwd, env=environ, capture_output=True, text=True, timeout=timeout
    )


def spawn(
    *args: str, cwd: Path, home: Path, log: Path, err: Path | None = None, **env: str
) -> subprocess.Popen[bytes]:
    """A `runner` process to kill later; its output goes to files (a full pipe would block it)."""
    with log.open("wb") as out, (err or log).open("ab") as errors:
        return subprocess.Popen(
            [*RUNNER, *args],
            cwd=cwd,
            env={**os.environ, "RUNNER_HOME": str(home), **env},
            stdout=out,
            stderr=errors if err else subprocess.STDOUT,
            start_new_session=True,
        )


def snapshot(db: Path) -> dict[str, Any]:
    """Every row of every table, and the schema version: equal snapshots = nothing written."""
    if not db.exists():
        return {}
    store = Store(db)
    try:
        tables = [r[0] for r in store.query("SELECT name FROM sqlite_master WHERE type='table'")]
        rows = {t: sorted(map(repr, map(tuple, store.query(f'SELECT * FROM "{t}"')))) for t in tables}
        return {"user_version": store.query("PRAGMA user_version")[0][0], "rows": rows}
    finally:
        store.close()


def wait_for(predicate: Callable[[], Any], timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def one_line(stderr: str) -> str:
    """The single line a failing command prints (asserting there is exactly one)."""
    lines = stderr.splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}:\n{stderr[:2000]}"
    assert "Traceback" not in stderr
    return lines[0]
