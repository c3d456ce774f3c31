"""Where a build fleet runs its next build (pipeline.yml `build_engines:`): pure.

The least-loaded reachable engine, load being the builds running there per CPU; a tie goes
to `local` (no copy of the build image, no files through the API), then to the order of
`build_engines:`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from runner.core.engines import LOCAL


@dataclass(frozen=True, slots=True)
class EngineLoad:
    """One engine as the fleet sees it before placing a build; ok False: unreachable (error says why)."""

    name: str
    ok: bool
    running: int = 0  # builds running there (ours, by their labels) plus those being placed there
    ncpu: int = 1
    error: str = ""

    @property
    def load(self) -> float:
        return self.running / max(self.ncpu, 1)


def choose(engines: Sequence[EngineLoad], avoid: Collection[str] = ()) -> EngineLoad | None:
    """The engine for the next build, never one in `avoid` (where it failed); None: no engine left."""
    candidates = [(index, e) for index, e in enumerate(engines) if e.ok and e.name not in avoid]
    if not candidates:
        return None
    return min(candidates, key=lambda pair: (pair[1].load, pair[1].name != LOCAL, pair[0]))[1]
