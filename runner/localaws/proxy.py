"""The HTTPS proxy builds talk to: `*.amazonaws.com` is answered by moto, anything else tunnelled.

Build containers get HTTPS_PROXY, so every HTTPS client that honours it (pip, npm, curl)
comes here too. Those are relayed untouched (a CONNECT tunnel, TLS end to end), exactly
where they would have gone without the proxy; only AWS hosts are intercepted. An AWS
request moto cannot serve is answered at once with an error by moto: nothing is ever
forwarded to AWS.
"""

from __future__ import annotations

import select
import socket
from http.server import ThreadingHTTPServer
from typing import Any

from moto.moto_proxy.proxy3 import ProxyRequestHandler

AWS_SUFFIXES = (".amazonaws.com", ".amazonaws.com.cn", ".aws")
RELAY_IDLE_S = 300.0  # a tunnelled download may pause; moto's own relay gives up after 5 s


def is_aws(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == "amazonaws.com" or name.endswith(AWS_SUFFIXES)


class Handler(ProxyRequestHandler):
    """moto's proxy handler for AWS hosts; a plain tunnel for everything else."""

    def do_CONNECT(self) -> None:
        host, _, port = self.path.rpartition(":")
        if is_aws(host):
            super().do_CONNECT()
        else:
            self._tunnel(host, int(port or 443))

    def finish(self) -> None:
        super().finish()
        if self.connection is not self.request:  # moto's TLS wrapper: the server closes only the socket
            self.connection.close()

    def log_message(self, format: str, *args: Any) -> None:
        pass  # one line per request would drown the server's log

    def _tunnel(self, host: str, port: int) -> None:
        try:
            upstream = socket.create_connection((host, port), timeout=30)
        except OSError as e:
            self.send_error(502, f"cannot reach {host}:{port}: {e}")
            return
        self.send_response(200, "Connection Established")
        self.end_headers()
        with upstream:
            _relay(self.connection, upstream)
        self.close_connection = True


def _relay(client: socket.socket, upstream: socket.socket) -> None:
    pair = [client, upstream]
    while True:
        readable, _, broken = select.select(pair, [], pair, RELAY_IDLE_S)
        if broken or not readable:
            return
        for source in readable:
            data = source.recv(65536)
            if not data:
                return
            (upstream if source is client else client).sendall(data)


def serve(host: str, port: int) -> ThreadingHTTPServer:
    """A bound proxy server (call serve_forever on it)."""
    ProxyRequestHandler.validate()
    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
