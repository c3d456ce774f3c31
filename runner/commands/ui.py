"""`runner ui [--port 8765] [--host ADDR]`: the local dashboard, on the loopback interface unless --host."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from runner.errors import UsageError

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def add_parser(sub: Any) -> None:
    parser = sub.add_parser(
        "ui",
        help="serve the dashboard on 127.0.0.1 (pipelines, builds, live logs, environments, metrics)",
        description="Serve the local dashboard. It prints a URL with a session token, like Jupyter.",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port (default 8765; 0: any free)")
    parser.add_argument(
        "--host",
        help="listen address (default 127.0.0.1); another than a loopback one must be given here, "
        "and it exposes the dashboard to the network",
    )
    parser.set_defaults(func=run)


def check_host(host: str, explicit: bool) -> str | None:
    """Refuses a non-loopback address that was not asked for with --host; else returns a warning."""
    from runner.web.security import is_loopback

    if is_loopback(host):
        return None
    if not explicit:
        raise UsageError(f"refusing to serve the dashboard on {host}: only 127.0.0.1 unless --host is given")
    return (
        f"warning: serving the dashboard on {host}, not only on this machine: anyone who can reach "
        "that address and learns the token can approve, reject and roll back"
    )


def url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def run(args: argparse.Namespace) -> int:
    from runner.core import config_loader
    from runner.store import open_store
    from runner.web.app import create_app
    from runner.web.security import Guard, new_token
    from runner.web.server import listen, server

    host = args.host or DEFAULT_HOST
    warning = check_host(host, explicit=args.host is not None)
    if not 0 <= args.port <= 65535:
        raise UsageError(f"--port {args.port}: expected 0 to 65535")
    if warning:
        print(f"runner: {warning}", file=sys.stderr, flush=True)
    sock = listen(host, args.port)
    port = sock.getsockname()[1]
    guard = Guard(new_token(), port, host)
    app = create_app(open_store(), guard, config_path=config_loader.find())
    print(f"runner ui: http://{url_host(host)}:{port}/?token={guard.token}", flush=True)
    print("runner ui: open that URL in a browser; Ctrl-C stops the dashboard", file=sys.stderr, flush=True)
    server(app).run(sockets=[sock])
    return 0
