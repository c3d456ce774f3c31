"""pipeline.yml's `engines:`: named Docker endpoints, and the grammar of their URLs (pure).

`local` is always there and means the engine DOCKER_HOST (else the default socket) names,
as the docker CLI and SDK read it. Other names map to `unix://`, `tcp://` or `ssh://`
endpoints. Whether an engine shares our filesystem is never read from its URL: the Docker
adapter probes it (runner/adapters/docker/remote.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from yaml.nodes import MappingNode, Node

from runner.core.schema import Context, Key, MapOf, Obj, OneOf, Str
from runner.core.yamlnodes import mapping_items, shown
from runner.errors import UsageError

LOCAL = "local"
URL_HINT = "unix:///PATH, tcp://HOST:PORT or ssh://USER@HOST"
_HINTS = {
    "unix": "unix:///PATH (an absolute path)",
    "tcp": "tcp://HOST:PORT",
    "ssh": "ssh://USER@HOST[:PORT]",
}
TLS_KEYS = ("tls_ca", "tls_cert", "tls_key")

_HOST = r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\]"  # a name, an IPv4 or [IPv6]
_PORT = r"(:(?P<port>\d{1,5}))?"
_FORMS = {
    "unix": re.compile(r"unix://(?P<path>/\S*)"),
    "tcp": re.compile(rf"tcp://(?P<host>{_HOST}){_PORT}/?"),
    "ssh": re.compile(rf"ssh://([A-Za-z0-9._-]+@)?(?P<host>{_HOST}){_PORT}"),
}


@dataclass(frozen=True, slots=True)
class Engine:
    """A Docker endpoint; url None is the default engine (DOCKER_HOST, else the default socket)."""

    name: str
    url: str | None
    tls_ca: str | None = None  # absolute paths (relative ones are read from pipeline.yml's directory)
    tls_cert: str | None = None
    tls_key: str | None = None


DEFAULT = Engine(LOCAL, None)


def url_error(url: str) -> str | None:
    """Why `url` is no Docker endpoint we can reach, or None when it is one."""
    scheme = url.partition("://")[0]
    form = _FORMS.get(scheme)
    if form is None or "://" not in url:
        return f"expected {URL_HINT}, got {shown(url)}"
    match = form.fullmatch(url)
    if match is None:
        return f"expected {_HINTS[scheme]}, got {shown(url)}"
    port = match.groupdict().get("port")
    if port is not None and not 1 <= int(port) <= 65535:
        return f"port {port} is out of range (1-65535)"
    return None


def named(engines: tuple[Engine, ...], name: str) -> Engine:
    for engine in engines:
        if engine.name == name:
            return engine
    known = ", ".join(e.name for e in engines)
    raise UsageError(
        f"no engine {name!r} (known: {known}); name it under engines: in pipeline.yml, or give a URL"
    )


def from_argument(engines: tuple[Engine, ...], text: str) -> Engine:
    """A command line's engine: a name from pipeline.yml, or a URL (named by itself)."""
    if "://" not in text:
        return named(engines, text)
    error = url_error(text)
    if error:
        raise UsageError(f"engine {text}: {error}")
    return Engine(text, text)


def from_schema(name: str, value: str | dict[str, Any], root: Path) -> Engine:
    """The loader's step: a validated `engines:` entry, TLS paths made absolute."""
    if isinstance(value, str):
        return Engine(name, value)
    paths = {key: str(root / Path(value[key]).expanduser()) if value[key] else None for key in TLS_KEYS}
    return Engine(name, value["url"], **paths)


# ---------------------------------------------------------------- schema


@dataclass(frozen=True)
class EngineUrl(Str):
    allow_empty: bool = False

    def read(self, node: Node, path: str, ctx: Context) -> str:
        value = super().read(node, path, ctx).strip()
        error = url_error(value)
        if error:
            raise ctx.error(node, path, error)
        return value


def _check_tls(data: dict[str, Any], node: MappingNode, path: str, ctx: Context) -> None:
    given = [key for key in TLS_KEYS if data.get(key)]
    if given and not data["url"].startswith("tcp://"):
        where = _value_node(node, given[0])
        raise ctx.error(where, f"{path}.{given[0]}", "TLS settings apply to tcp:// only")
    if bool(data.get("tls_cert")) != bool(data.get("tls_key")):
        missing = "tls_key" if data.get("tls_cert") else "tls_cert"
        together = "tls_cert and tls_key go together (a client certificate and its key)"
        raise ctx.error(node, f"{path}.{missing}", together)


def _value_node(node: MappingNode, key: str) -> Node:
    return next((v for k, v in mapping_items(node) if k.value == key), node)


ENGINES = MapOf(
    OneOf(
        EngineUrl(),
        Obj(
            (
                Key("url", EngineUrl(), required=True, description=URL_HINT),
                Key("tls_ca", Str(allow_empty=False), description="CA certificate that signed the engine's"),
                Key("tls_cert", Str(allow_empty=False), description="client certificate (with tls_key)"),
                Key("tls_key", Str(allow_empty=False), description="client certificate's key"),
            ),
            check=_check_tls,
        ),
    ),
    key_pattern=rf"(?!{LOCAL}$)[a-z][a-z0-9-]{{0,30}}",
    key_hint=f"a lowercase name (letters, digits, -) other than {LOCAL}, which is always the default engine",
)
