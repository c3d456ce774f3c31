"""The registry that answers for `<account>.dkr.ecr.<region>.amazonaws.com` (Debian's docker-registry).

It listens on port 80 of a loopback address of its own (127.77.0.N): the engine treats
registries in 127.0.0.0/8 as insecure (plain HTTP, no daemon restart), and a hosts entry
(runner.localaws.hosts) sends the ECR name there. It has no authentication, so the
token of `aws ecr get-login-password` is accepted as any AWS token would be. Images
live in a directory of the local AWS's state, emptied on reset and on stop.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

BINARY = "/usr/bin/docker-registry"
ADDRESSES = tuple(f"127.77.0.{n}" for n in range(1, 32))
PORT = 80
START_TIMEOUT_S = 10.0

_CONFIG = """\
version: 0.1
log: {{level: error}}
storage:
  filesystem: {{rootdirectory: {root}}}
  delete: {{enabled: true}}
http: {{addr: "{address}:{port}"}}
"""


class Registry:
    """One docker-registry process; `address` is None (and `problem` says why) when it cannot run."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.address: str | None = None
        self.problem = ""
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        if not Path(BINARY).is_file():
            self.problem = "ECR pushes need Debian's docker-registry (apt-get install docker-registry)"
            return
        address = self.address or _free_address()
        if address is None:
            self.problem = f"ECR pushes need port {PORT} on a 127.77.0.x address (root), none was free"
            return
        self.address = address
        storage = self.directory / "storage"
        storage.mkdir(parents=True, exist_ok=True)
        config = self.directory / "config.yml"
        config.write_text(_CONFIG.format(root=storage, address=address, port=PORT))
        log = (self.directory / "registry.log").open("ab")
        self.process = subprocess.Popen([BINARY, "serve", str(config)], stdout=log, stderr=log)
        if not _answers(address, self.process):
            self.problem = f"docker-registry did not start (see {log.name})"

    def stop(self) -> None:
        if self.process is not None:
            # Killed, not terminated: it drains for seconds on SIGTERM, and its storage is
            # deleted right after anyway.
            self.process.kill()
            self.process.wait()
            self.process = None
        shutil.rmtree(self.directory / "storage", ignore_errors=True)

    def empty(self) -> None:
        """Every pushed image gone (`runner aws reset`): a fresh process over an empty directory."""
        if self.process is not None:
            self.stop()
            self.start()


def _free_address() -> str | None:
    for address in ADDRESSES:
        with socket.socket() as probe:
            try:
                probe.bind((address, PORT))
            except OSError:
                continue
            return address
    return None


def _answers(address: str, process: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline and process.poll() is None:
        try:
            with urllib.request.urlopen(f"http://{address}:{PORT}/v2/", timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False
