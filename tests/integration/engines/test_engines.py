"""More than one engine, against a real second one: `runner engines` and the filesystem probe."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.adapters.docker_remote import Endpoint, shares_filesystem
from tests.integration.second_engine import SCRIPT, SecondEngine, script

pytestmark = pytest.mark.docker

PIPELINE = """\
app: shop
services:
  web: {{path: web}}
environments:
  - {{name: prod, port: 8080, test_port: 9080}}
engines:
  node2: {url}
  node2-socket: {socket_url}
  gone: tcp://10.231.0.2:2399
"""


def runner(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args], capture_output=True, text=True, cwd=cwd, timeout=600
    )


@pytest.fixture
def project(tmp_path: Path, second_engine: SecondEngine) -> Path:
    (tmp_path / "pipeline.yml").write_text(
        PIPELINE.format(url=second_engine.url, socket_url=second_engine.socket_url)
    )
    return tmp_path


def test_start_and_status_are_idempotent(second_engine: SecondEngine) -> None:
    again = script("start")
    assert again.returncode == 0 and "already running" in again.stderr
    assert again.stdout.strip() == f"DOCKER_HOST={second_engine.url}"
    assert script("status").returncode == 0
    assert subprocess.run([str(SCRIPT), "bogus"], capture_output=True).returncode == 2


def test_engines_lists_each_engine_with_its_facts(project: Path, second_engine: SecondEngine) -> None:
    result = runner("engines", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert [r["name"] for r in rows] == ["local", "node2", "node2-socket", "gone"]
    assert all(list(r) == ["name", "url", "ok", "version", "ncpu", "mem_bytes", "error"] for r in rows)
    version = second_engine.docker("version", "--format", "{{.Server.Version}}").stdout.strip()
    cpus, memory = second_engine.docker("info", "--format", "{{.NCPU}} {{.MemTotal}}").stdout.split()
    node2 = rows[1]
    assert node2 == {
        "name": "node2",
        "url": second_engine.url,
        "ok": True,
        "version": version,
        "ncpu": int(cpus),
        "mem_bytes": int(memory),
        "error": None,
    }
    assert rows[2]["ok"] and rows[2]["url"] == second_engine.socket_url
    assert rows[0]["ok"] and rows[0]["url"] == os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    assert rows[3] == {
        "name": "gone",
        "url": "tcp://10.231.0.2:2399",
        "ok": False,
        "version": None,
        "ncpu": None,
        "mem_bytes": None,
        "error": "Connection refused",
    }
    table = runner("engines", cwd=project).stdout.splitlines()
    assert len(table) == 5 and table[0].split() == ["NAME", "URL", "STATE", "VERSION", "CPUS", "MEMORY"]
    assert table[4].split()[:4] == ["gone", "tcp://10.231.0.2:2399", "unreachable:", "Connection"]


def test_the_probe_tells_an_engine_that_shares_our_files_from_one_that_does_not(
    tmp_path: Path, second_engine: SecondEngine
) -> None:
    before = _containers_and_images(second_engine)
    assert shares_filesystem(Endpoint(), tmp_path) is True
    assert shares_filesystem(Endpoint(second_engine.url), tmp_path) is False  # /tmp is empty there
    checkout = Path(__file__).resolve().parent  # /work, /root, /home: hidden there too
    assert shares_filesystem(Endpoint(second_engine.socket_url), checkout) is False
    assert _containers_and_images(second_engine) == before  # the probe's container and image are gone
    assert not list(tmp_path.glob(".engine-probe-*"))


def _containers_and_images(engine: SecondEngine) -> tuple[list[str], list[str]]:
    return engine.docker("ps", "-aq").stdout.split(), engine.docker("images", "-aq").stdout.split()
