"""The second engine reached over ssh:// (scripts/engine-ssh.sh): an sshd in its network namespace.

The client side never touches the real ~/.ssh: each test that talks to it gets a HOME of its
own whose ~/.ssh/config names the script's client key and whose known_hosts holds its host key,
as a user would set them up, and no ssh agent. Each test makes sure the sshd runs; the session
stops it at the end if it started it (before the second engine stops).
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.second_engine import SecondEngine

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "engine-ssh.sh"
KEYS = Path("/etc/runner-rnode2-ssh")
HOST = "10.231.0.2"
URL = f"ssh://root@{HOST}"


@dataclass(frozen=True)
class SshEngine:
    url: str
    tcp_url: str  # the same engine's own endpoint, for checks that must not go through ssh

    def home(self, under: Path, identity: Path = KEYS / "client_ed25519", known: bool = True) -> Path:
        """A HOME whose ~/.ssh/config gives `identity` for the engine's host, and whose known_hosts
        holds its host key when `known`."""
        home = under / "home"
        (home / ".ssh").mkdir(parents=True, exist_ok=True)
        (home / ".ssh" / "config").write_text(f"Host {HOST}\n  IdentityFile {identity}\n")
        known_hosts = home / ".ssh" / "known_hosts"
        known_hosts.write_text((KEYS / "known_hosts").read_text() if known else "")
        return home


def env_with_home(home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "SSH_AUTH_SOCK"}
    return {**env, "HOME": str(home)}


def script(verb: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(SCRIPT), verb], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def ssh_engine_session(second_engine: SecondEngine) -> Iterator[SshEngine]:
    """Stops the sshd at the end of the session if the session started it."""
    was_running = script("status").returncode == 0
    yield SshEngine(URL, second_engine.url)
    if not was_running:
        result = script("stop")
        assert result.returncode == 0, f"{SCRIPT.name} stop failed:\n{result.stderr[-2000:]}"


@pytest.fixture
def ssh_engine(ssh_engine_session: SshEngine, second_engine: SecondEngine) -> SshEngine:
    """The sshd, running: started again when needed (a test that restarts the second engine ends
    the processes of its namespace, this sshd among them); `start` is a no-op when it runs."""
    if second_engine.docker("version", check=False).returncode != 0:
        pytest.fail("the second engine does not answer (did a test stop it?)", pytrace=False)
    result = script("start")  # installs Debian's openssh-server on first use
    assert result.returncode == 0, f"{SCRIPT.name} start failed:\n{result.stderr[-2000:]}"
    return ssh_engine_session
