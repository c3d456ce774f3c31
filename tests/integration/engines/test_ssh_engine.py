"""An ssh:// engine for real: Debian's openssh-server in the second engine's network namespace
(scripts/engine-ssh.sh), reached through the docker SDK's SSH transport with a HOME of the
test's own (its ~/.ssh/config and known_hosts, no agent)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from runner.adapters.docker import remote
from runner.adapters.docker.remote import Endpoint
from runner.images.base import BASE
from tests.integration.engines.conftest import image_id
from tests.integration.second_engine import SecondEngine
from tests.integration.ssh_engine import HOST, KEYS, SCRIPT, SshEngine, env_with_home, script

pytestmark = pytest.mark.docker

PIPELINE = """\
app: shop
services:
  web: {{path: web}}
environments:
  - {{name: prod, port: 8080, test_port: 9080}}
engines:
  node2: {tcp_url}
  node2-ssh: {url}
  wrong-port: {url}:2299
"""


def runner(*args: str, cwd: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "runner", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env_with_home(home),
        timeout=600,
    )


@pytest.fixture
def project(tmp_path: Path, ssh_engine: SshEngine) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    (root / "pipeline.yml").write_text(PIPELINE.format(tcp_url=ssh_engine.tcp_url, url=ssh_engine.url))
    return root


@pytest.fixture
def home(tmp_path: Path, ssh_engine: SshEngine, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A user's ssh set-up for the engine, for runner processes and for this one."""
    home = ssh_engine.home(tmp_path)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


def test_start_and_status_are_idempotent(ssh_engine: SshEngine) -> None:
    again = script("start")
    assert again.returncode == 0 and "already running" in again.stderr
    assert again.stdout.strip() == f"DOCKER_HOST={ssh_engine.url}"
    assert script("status").returncode == 0
    assert subprocess.run([str(SCRIPT), "bogus"], capture_output=True).returncode == 2


def test_engines_reports_the_ssh_engine_with_its_facts(
    project: Path, home: Path, ssh_engine: SshEngine, second_engine: SecondEngine
) -> None:
    result = runner("engines", "--json", cwd=project, home=home)
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    version = second_engine.docker("version", "--format", "{{.Server.Version}}").stdout.strip()
    cpus, memory = second_engine.docker("info", "--format", "{{.NCPU}} {{.MemTotal}}").stdout.split()
    assert rows["node2-ssh"] == {
        "name": "node2-ssh",
        "url": ssh_engine.url,
        "ok": True,
        "version": version,
        "ncpu": int(cpus),
        "mem_bytes": int(memory),
        "error": None,
    }
    assert rows["wrong-port"]["ok"] is False and rows["wrong-port"]["error"] == "Connection refused"
    assert result.stderr == ""


def test_ssh_reaches_the_second_engine_which_does_not_share_our_files(
    tmp_path: Path, home: Path, ssh_engine: SshEngine, second_engine: SecondEngine
) -> None:
    over_ssh = remote.client(Endpoint(ssh_engine.url), remote.QUICK_S).info()
    name = second_engine.docker("info", "--format", "{{.Name}}").stdout.strip()
    main = subprocess.run(["docker", "info", "--format", "{{.Name}}"], capture_output=True, text=True)
    assert over_ssh["Name"] == name != main.stdout.strip()  # the sshd's sessions never reach the main engine
    probe_dir = tmp_path / "probe"
    assert remote.shares_filesystem(Endpoint(ssh_engine.url), probe_dir) is False
    assert remote.shares_filesystem(Endpoint(), probe_dir) is True  # the same probe can say yes
    assert not list(probe_dir.glob(".engine-probe-*"))


def test_an_image_reaches_the_ssh_engine_under_its_own_id(
    project: Path, home: Path, fresh_image: str, ssh_engine: SshEngine, second_engine: SecondEngine
) -> None:
    assert second_engine.docker("image", "inspect", fresh_image, check=False).returncode != 0
    result = runner("images", "copy", fresh_image, "--to", "node2-ssh", "--json", cwd=project, home=home)
    assert result.returncode == 0, result.stderr
    [copied] = json.loads(result.stdout)
    assert copied["id"] == image_id(fresh_image) == image_id(fresh_image, second_engine.url)
    assert copied["tags"] == [fresh_image] and copied["bytes"] > 50 * 2**20
    assert copied["to"] == ssh_engine.url
    ran = second_engine.docker("run", "--rm", "--network", "none", copied["id"], "cat", "/etc/debian_version")
    assert ran.stdout.strip().startswith("12.")


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        ("refused-key", "ssh authentication failed: no key of ours is authorized for root@10.231.0.2 "),
        ("unknown-host", "10.231.0.2 is not in ~/.ssh/known_hosts (add its host key there"),
        ("no-docker", "the remote `docker system dial-stdio` closed without answering "),
    ],
)
def test_an_ssh_engine_we_cannot_use_is_one_clear_line(
    setup: str, error: str, project: Path, tmp_path: Path, ssh_engine: SshEngine
) -> None:
    if setup == "refused-key":
        other = tmp_path / "other_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
        home = ssh_engine.home(tmp_path, identity=other)
    elif setup == "unknown-host":
        home = ssh_engine.home(tmp_path, known=False)
    else:  # a key whose sessions run `false`, as on a host without docker
        home = ssh_engine.home(tmp_path, identity=KEYS / "nodocker_ed25519")
    listed = runner("engines", "--json", cwd=project, home=home)
    assert listed.returncode == 0, listed.stderr
    row = next(r for r in json.loads(listed.stdout) if r["name"] == "node2-ssh")
    assert row["ok"] is False and row["error"].startswith(error)
    copy = runner("images", "copy", BASE, "--to", "node2-ssh", cwd=project, home=home)
    assert copy.returncode == 1
    assert copy.stderr == f"runner: error: engine {ssh_engine.url}: {row['error']}\n"


def test_a_wrong_port_is_one_clear_line(project: Path, home: Path, ssh_engine: SshEngine) -> None:
    copy = runner("images", "copy", BASE, "--to", "wrong-port", cwd=project, home=home)
    assert copy.returncode == 1
    assert copy.stderr == f"runner: error: engine {ssh_engine.url}:2299: Connection refused\n"


DROP_PORT = 2298  # nothing listens there; the test's own nftables table drops what we send to it


@pytest.fixture
def dropped_port() -> Iterator[int]:
    """A port of the engine's host that drops our packets, as a host that is switched off does."""
    table = f"runner_test_drop_{DROP_PORT}"
    rules = (
        f"table inet {table} {{\n  chain output {{\n    type filter hook output priority 0; policy accept;\n"
        f"    ip daddr {HOST} tcp dport {DROP_PORT} drop\n  }}\n}}\n"
    )
    added = subprocess.run(["nft", "-f", "-"], input=rules, text=True, capture_output=True)
    assert added.returncode == 0, added.stderr
    try:
        yield DROP_PORT
    finally:
        subprocess.run(["nft", "delete", "table", "inet", table], check=True)


def test_a_host_that_drops_packets_times_out_in_seconds_not_minutes(
    project: Path, home: Path, ssh_engine: SshEngine, dropped_port: int
) -> None:
    pipeline = project / "pipeline.yml"
    pipeline.write_text(pipeline.read_text() + f"  dropped: {ssh_engine.url}:{dropped_port}\n")
    started = time.monotonic()
    listed = runner("engines", "--json", cwd=project, home=home)
    took = time.monotonic() - started
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert rows["dropped"]["error"] == "timed out"
    assert rows["node2-ssh"]["ok"] is True  # connecting in parallel, it does not wait for the other
    assert remote.QUICK_S <= took < remote.QUICK_S + 15  # without our timeout: ~130 s of SYN retries
