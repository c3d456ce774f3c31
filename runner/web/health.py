"""Health of a live service as a user sees it: GET its health path through the environment's router."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

TIMEOUT_S = 1.0
CACHE_S = 3.0
UNKNOWN = {"status": "unknown", "url": None, "detail": "not in pipeline.yml"}

# Loopback only: never through a proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


@dataclass(frozen=True, slots=True)
class Target:
    url: str
    host_header: str | None


def target(environment: Any, service: Any) -> Target:
    """The live listener's URL of a service's health path (decision 4: the prefix is stripped)."""
    base = f"http://{environment.host}:{environment.port}"
    if service.route_host:
        return Target(base + service.health, service.route_host)
    return Target(base + service.route.rstrip("/") + service.health, None)


def check(where: Target) -> dict[str, Any]:
    request = urllib.request.Request(where.url)
    if where.host_header:
        request.add_header("Host", where.host_header)
    try:
        with _OPENER.open(request, timeout=TIMEOUT_S) as response:
            code = response.status
    except urllib.error.HTTPError as e:
        code = e.code
    except (urllib.error.URLError, OSError) as e:
        return {"status": "unreachable", "url": where.url, "detail": str(getattr(e, "reason", e))}
    status = "healthy" if code == 200 else "unhealthy"
    return {"status": status, "url": where.url, "detail": f"HTTP {code}"}


class Probe:
    """Checks many services at once; answers from a short cache so page refreshes stay cheap."""

    def __init__(self) -> None:
        self._cache: dict[Target, tuple[float, dict[str, Any]]] = {}
        self._lock = threading.Lock()

    def many(self, targets: list[Target]) -> list[dict[str, Any]]:
        now = time.monotonic()
        with self._lock:
            fresh = {t: v for t, (at, v) in self._cache.items() if now - at < CACHE_S}
        missing = list(dict.fromkeys(t for t in targets if t not in fresh))
        if missing:
            with ThreadPoolExecutor(max_workers=min(8, len(missing))) as pool:
                found = dict(zip(missing, pool.map(check, missing), strict=True))
            with self._lock:
                self._cache.update({t: (now, v) for t, v in found.items()})
            fresh.update(found)
        return [fresh[t] for t in targets]
