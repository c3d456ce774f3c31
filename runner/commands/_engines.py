"""Shared by engine commands: the engines pipeline.yml names, as endpoints the adapter reaches."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runner.core import config_loader
from runner.core.engines import DEFAULT, Engine

if TYPE_CHECKING:
    from runner.adapters.docker.remote import Endpoint


def configured() -> tuple[Engine, ...]:
    """pipeline.yml's engines (`local` first); only `local` outside a project."""
    path = config_loader.find()
    return (DEFAULT,) if path is None else config_loader.load(path).engines


def endpoint(engine: Engine) -> Endpoint:
    from runner.adapters.docker.remote import Endpoint

    return Endpoint(engine.url, engine.tls_ca, engine.tls_cert, engine.tls_key)
