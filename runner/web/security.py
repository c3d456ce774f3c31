"""The session token, the Host check (DNS rebinding) and the cross-site checks on mutations.

Like Jupyter: `runner ui` prints a URL carrying ?token=…; the first visit trades it for an
HttpOnly SameSite=Strict cookie. Reads need the cookie (or the token in a header);
mutations need the token in the X-Runner-Token header (a cross-site page cannot read it:
it is only in our own pages) and a same-origin request when the browser says where the
request came from (Origin, Sec-Fetch-Site).
"""

from __future__ import annotations

import hmac
import ipaddress
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import HTTPException, Request

TOKEN_HEADER = "X-Runner-Token"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def new_token() -> str:
    return secrets.token_urlsafe(32)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Guard:
    token: str
    port: int
    host: str = "127.0.0.1"
    hosts: tuple[str, ...] = field(default=())

    @property
    def cookie(self) -> str:
        # One cookie per port: two dashboards on one machine do not log each other out.
        return f"runner-token-{self.port}"

    def allowed_hosts(self) -> set[str]:
        names = {*LOOPBACK_NAMES, _bracketed(self.host), *self.hosts}
        return names | {f"{n}:{self.port}" for n in names}

    def allowed_origins(self) -> set[str]:
        return {f"http://{n}:{self.port}" for n in {*LOOPBACK_NAMES, _bracketed(self.host), *self.hosts}}

    def matches(self, candidate: str | None) -> bool:
        return bool(candidate) and hmac.compare_digest(str(candidate).encode(), self.token.encode())

    def reader(self, request: Request) -> bool:
        return any(
            self.matches(v) for v in (request.cookies.get(self.cookie), request.headers.get(TOKEN_HEADER))
        )

    def check_read(self, request: Request) -> None:
        if not self.reader(request):
            raise HTTPException(403, "missing or wrong session token: open the URL `runner ui` printed")

    def check_write(self, request: Request) -> None:
        """The token in the header (a cookie alone is not enough) and no cross-site origin."""
        if not self.matches(request.headers.get(TOKEN_HEADER)):
            raise HTTPException(403, f"mutations need the session token in the {TOKEN_HEADER} header")
        origin = request.headers.get("origin")
        if origin is not None and origin not in self.allowed_origins():
            raise HTTPException(403, f"cross-site request refused (Origin: {origin})")
        site = request.headers.get("sec-fetch-site")
        if site is not None and site != "same-origin":
            raise HTTPException(403, f"cross-site request refused (Sec-Fetch-Site: {site})")


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


class HostCheck:
    """Refuses requests whose Host header is not ours, so a rebound DNS name reads nothing."""

    def __init__(self, app: ASGIApp, allowed: set[str]) -> None:
        self.app, self.allowed = app, allowed

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            host = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
            if host not in self.allowed:
                await _plain(send, 403, f"unexpected Host header {host!r}\n")
                return
        await self.app(scope, receive, send)


async def _plain(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
