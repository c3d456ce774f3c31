"""ssh:// engines without an engine: paramiko is imported only when one is used, and what is
missing or refused is one line (the real engine: tests/integration/engines/test_ssh_engine.py)."""

from __future__ import annotations

import subprocess
import sys

from runner.adapters.docker.ssh import HINT


def python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_talking_to_an_engine_imports_no_paramiko_until_an_ssh_engine_is_used() -> None:
    result = python(
        "import sys\n"
        "from runner.adapters.docker import remote\n"
        "import docker\n"
        "print('paramiko.client' in sys.modules)\n"
        "try:\n"
        "    remote.client(remote.Endpoint('ssh://nobody@127.0.0.1:1'))\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
        "print('paramiko.client' in sys.modules)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "False",
        "EngineError engine ssh://nobody@127.0.0.1:1: Connection refused",
        "True",
    ]


def test_without_paramiko_an_ssh_engine_names_the_extra_to_install() -> None:
    result = python(
        "import sys\n"
        "sys.modules['paramiko'] = None  # as if runner[ssh] were not installed\n"
        "from runner.adapters.docker import remote\n"
        "print(remote.facts(remote.Endpoint('ssh://me@box')).error)\n"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == HINT
