"""More than one engine, against a real second one: `runner engines`, the filesystem probe, and
images streamed to an engine that has no network and none of our files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from runner.adapters.docker.remote import Endpoint, shares_filesystem
from runner.images.base import BASE
from tests.integration.engines.conftest import image_id
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


def _containers_and_images(engine: SecondEngine) -> tuple[set[str], set[str]]:
    # sets: the engine lists images created in the same second in no fixed order
    return set(engine.docker("ps", "-aq").stdout.split()), set(engine.docker("images", "-aq").stdout.split())


def test_an_image_reaches_an_engine_with_no_network_under_its_own_id(
    project: Path, fresh_image: str, second_engine: SecondEngine
) -> None:
    assert second_engine.docker("image", "inspect", fresh_image, check=False).returncode != 0
    result = runner("images", "copy", fresh_image, "--to", "node2", "--json", cwd=project)
    assert result.returncode == 0, result.stderr
    [copied] = json.loads(result.stdout)
    source_id = image_id(fresh_image)
    assert copied["id"] == source_id == image_id(fresh_image, second_engine.url)
    assert copied["tags"] == [fresh_image] and copied["bytes"] > 50 * 2**20
    assert copied["to"] == second_engine.url
    assert f"{fresh_image} → {second_engine.url}: " in result.stderr
    assert "MiB sent, the target engine is loading it" in result.stderr
    # usable there: a container of it runs on the second engine, which has no registry to pull from
    ran = second_engine.docker("run", "--rm", "--network", "none", source_id, "cat", "/etc/debian_version")
    assert ran.stdout.strip().startswith("12.")
    again = runner("images", "copy", fresh_image, "--to", second_engine.url, "--json", cwd=project)
    assert json.loads(again.stdout)[0]["bytes"] == 0 and "already there" in again.stderr


def test_a_tag_on_the_target_is_never_overwritten_with_other_content(
    project: Path, fresh_image: str, second_engine: SecondEngine
) -> None:
    other = subprocess.run(  # a different image under the same tag, made on the second engine itself
        ["docker", "-H", second_engine.url, "import", "-c", "LABEL runner.test.other=1", "-", fresh_image],
        input=_empty_tar(),
        capture_output=True,
        check=True,
    )
    there = image_id(fresh_image, second_engine.url)
    assert there.endswith(other.stdout.decode().strip().removeprefix("sha256:"))
    result = runner("images", "copy", fresh_image, "--to", "node2", cwd=project)
    assert result.returncode == 1
    assert result.stderr.count("\n") == 1
    assert f"{fresh_image} on {second_engine.url} is another image" in result.stderr
    assert "a tag is never overwritten" in result.stderr
    assert image_id(fresh_image, second_engine.url) == there


def _empty_tar() -> bytes:
    return b"\0" * 10240  # two zero blocks and padding: a valid, empty tar archive


def test_copy_names_a_missing_image_or_engine_in_one_line(project: Path) -> None:
    missing = runner("images", "copy", "runner-test-no-such-image:1", "--to", "node2", cwd=project)
    assert missing.returncode == 1
    assert (
        missing.stderr
        == "runner: error: no image runner-test-no-such-image:1 on unix:///var/run/docker.sock\n"
    )
    unreachable = runner("images", "copy", BASE, "--to", "gone", cwd=project)
    assert unreachable.returncode == 1
    assert unreachable.stderr.startswith("runner: error: engine tcp://10.231.0.2:2399: Connection refused")
