"""Fixtures for deploy tests: service images built once per session, one environment per module."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from runner.codedeploy import ImageRef
from tests.integration.deploy.helpers import build_app


@dataclass(frozen=True)
class Images:
    v1: ImageRef
    v2: ImageRef
    v3: ImageRef
    failing: ImageRef  # every request but /health answers 500
    sick: ImageRef  # /health answers 500
    slow: ImageRef  # every request but /health takes 300 ms
    sickening: ImageRef  # healthy for its first 3 s, then /health answers 500

    def version(self, image: ImageRef) -> str:
        return {self.v1.id: "1", self.v2.id: "2", self.v3.id: "3"}.get(image.id, "?")


@pytest.fixture(scope="session")
def images() -> Iterator[Images]:
    """Tiny service images (FROM runner/python:bookworm), labelled so the session removes them."""
    repo = f"rt{uuid.uuid4().hex[:8]}-web"
    yield Images(
        v1=build_app(f"{repo}:1a1a1a1a1a1a", "1"),
        v2=build_app(f"{repo}:2b2b2b2b2b2b", "2"),
        v3=build_app(f"{repo}:3c3c3c3c3c3c", "3"),
        failing=build_app(f"{repo}:5e5e5e5e5e5e", "5xx", fail=True),
        sick=build_app(f"{repo}:6f6f6f6f6f6f", "sick", health_fail=True),
        slow=build_app(f"{repo}:7a7a7a7a7a7a", "slow", latency_ms=300),
        sickening=build_app(f"{repo}:8b8b8b8b8b8b", "sickening", sicken_after_s=3),
    )
