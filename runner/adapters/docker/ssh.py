"""ssh:// engines: the docker SDK over paramiko, running `docker system dial-stdio` on the remote host.

The connection is configured by the user's OpenSSH files, as the docker CLI's own ssh:// is:
~/.ssh/config for the URL's host (HostName, Port, User, IdentityFile, ProxyCommand), keys from
the ssh agent or ~/.ssh/id_*, and ~/.ssh/known_hosts, which must already hold the host's key.
An unknown host is refused, never trusted on first use, and nothing prompts for a password or a
passphrase: a command never waits on a terminal. (The SDK's other mode, shelling out to `ssh`,
would prompt, print ssh's own errors past ours and fail as a bare "connection aborted".)
"""

from __future__ import annotations

import socket
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from runner.errors import EngineError

if TYPE_CHECKING:
    import docker

HINT = "ssh:// engines need paramiko (the docker SDK's SSH support): pip install 'runner[ssh]'"


def client(url: str, timeout_s: float, connect_s: float) -> docker.DockerClient:
    """A client of the engine behind `url`, connected (the SDK connects and asks the engine's API
    version at once); EngineError naming the cause in one line when that fails."""
    import docker

    try:
        import paramiko
    except ImportError as e:
        raise _error(url, HINT) from e
    try:
        with _connect_timeout(connect_s):
            return docker.DockerClient(base_url=url, timeout=int(timeout_s))
    except paramiko.BadHostKeyException as e:
        raise _error(url, "its host key differs from the one in ~/.ssh/known_hosts") from e
    except paramiko.AuthenticationException as e:
        where = urllib.parse.urlparse(url)
        who = f"{where.username}@{where.hostname}" if where.username else where.hostname
        raise _error(
            url,
            f"ssh authentication failed: no key of ours is authorized for {who} "
            "(IdentityFile in ~/.ssh/config, ~/.ssh/id_*, or the ssh agent)",
        ) from e
    except paramiko.SSHException as e:
        if "not found in known_hosts" in str(e):
            host = urllib.parse.urlparse(url).hostname
            raise _error(
                url,
                f"{host} is not in ~/.ssh/known_hosts (add its host key there: unknown hosts are refused)",
            ) from e
        raise _error(url, f"ssh: {e}") from e
    except paramiko.ssh_exception.NoValidConnectionsError as e:  # an OSError carrying one per address
        causes = [c for c in e.errors.values() if isinstance(c, OSError) and c.strerror]
        raise _error(url, str(causes[0].strerror) if causes else str(e)) from e
    except TimeoutError as e:
        raise _error(url, "timed out") from e
    except docker.errors.DockerException as e:
        if "RemoteDisconnected" not in str(e):
            raise
        # ssh let us in, but the remote command closed without an answer (its stderr is not ours to see)
        raise _error(
            url,
            "the remote `docker system dial-stdio` closed without answering "
            "(is the docker CLI installed there, and its engine running?)",
        ) from e


def _error(url: str, why: str) -> EngineError:
    return EngineError(f"engine {url}: {why}")


class _ConnectTimeout:
    """The SDK gives paramiko no connect timeout: a host that drops packets would hold a command for
    the kernel's ~2 min of SYN retries. paramiko's socket takes the process's default timeout, which
    is ours while any ssh client connects (clients of several engines connect in parallel: the
    first sets it, the last puts the old one back). Other sockets made in that window get it too;
    the SDK's and urllib3's set their own, and paramiko replaces it once connected."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._connecting = 0
        self._previous: float | None = None

    @contextmanager
    def __call__(self, seconds: float) -> Iterator[None]:
        with self._lock:
            if self._connecting == 0:
                self._previous = socket.getdefaulttimeout()
                socket.setdefaulttimeout(seconds)
            self._connecting += 1
        try:
            yield
        finally:
            with self._lock:
                self._connecting -= 1
                if self._connecting == 0:
                    socket.setdefaulttimeout(self._previous)


_connect_timeout = _ConnectTimeout()
