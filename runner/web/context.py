"""What every request handler shares: the store, the session guard, the config, the jobs."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fastapi import Request

from runner.errors import RunnerError
from runner.store import Store
from runner.web.actions import Jobs, Refused
from runner.web.health import Probe
from runner.web.security import Guard


@dataclass
class Context:
    store: Store
    home: Path  # the runner's state directory (artifacts live under it)
    guard: Guard
    config_path: Path | None = None
    jobs: Jobs = field(default_factory=Jobs)
    probe: Probe = field(default_factory=Probe)
    _config: tuple[float, Any] | None = None
    _cache: dict[str, tuple[float, Any]] = field(default_factory=dict)

    def cached(self, key: str, compute: Callable[[], Any], ttl_s: float = 3.0) -> Any:
        """A value computed at most every ttl_s (page polls must not hammer Docker)."""
        now = time.monotonic()
        hit = self._cache.get(key)
        if hit is None or now - hit[0] > ttl_s:
            hit = (now, compute())
            self._cache[key] = hit
        return hit[1]

    def config(self) -> Any:
        """pipeline.yml as loaded now (reloaded when the file changes); None without one."""
        if self.config_path is None or not self.config_path.is_file():
            return None
        from runner.core import config_loader

        mtime = self.config_path.stat().st_mtime
        if self._config is None or self._config[0] != mtime:
            self._config = (mtime, config_loader.load(self.config_path))
        return self._config[1]

    def required_config(self) -> Any:
        loaded = self.config()
        if loaded is None:
            raise Refused("no pipeline.yml: start `runner ui` inside a project that has one")
        return loaded

    def environment_names(self) -> list[str]:
        try:
            loaded = self.config()
        except RunnerError:  # a broken pipeline.yml must not take the dashboard down
            return []
        return [e.name for e in loaded.environments] if loaded else []

    def stage_names(self) -> list[str]:
        """The pipeline's stages in order (from runner.pipeline when it is there)."""
        try:
            loaded = self.config()
            if loaded is None:
                return []
            from runner.codepipeline.execution import stages
        except (RunnerError, ImportError):
            return []
        return [s.name for s in stages(loaded)]


def ctx(request: Request) -> Context:
    context: Context = request.app.state.ctx
    return context


def reader(request: Request) -> Context:
    """Dependency of every read: the session cookie or token header."""
    context = ctx(request)
    context.guard.check_read(request)
    return context


def writer(request: Request) -> Context:
    """Dependency of every mutation: the token header and a same-origin request."""
    context = ctx(request)
    context.guard.check_write(request)
    return context
