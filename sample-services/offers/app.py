"""offers: credit offers (monthly instalment plans) for catalog items, with a TTL cache of catalog.

Catalog is reached through the router (CATALOG_URL, default http://router/catalog).
When catalog is down, offers keeps answering: from its cache while the data is not
older than CATALOG_STALE_S, else with no offers; every answer says which (`degraded`).
"""

from __future__ import annotations

import json
import math
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import kit

PLANS = ((3, 0.0), (6, 4.9), (12, 9.9))  # (months, APR %)
MIN_FINANCED_CENTS = 5000  # below this price no plan is offered
DEFAULT_CATALOG_URL = "http://router/catalog"

Items = tuple[dict[str, Any], ...]


class CatalogError(Exception):
    """catalog did not answer with a usable item list."""


@dataclass(frozen=True)
class CatalogView:
    items: Items
    source: str  # live | cache | stale | unavailable
    age_s: float = 0.0
    error: str = ""

    @property
    def degraded(self) -> bool:
        return self.source in ("stale", "unavailable")

    def as_json(self) -> dict[str, Any]:
        return {"source": self.source, "age_s": round(self.age_s, 1), "error": self.error}


class CatalogClient:
    """GET catalog's /items at most once per ttl_s; after a failure, retry at most once per retry_s."""

    def __init__(
        self,
        base_url: str,
        ttl_s: float = 5.0,
        stale_s: float = 300.0,
        retry_s: float = 1.0,
        timeout_s: float = 1.0,
        fetch: Callable[[], Items] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.ttl_s, self.stale_s, self.retry_s, self.timeout_s = ttl_s, stale_s, retry_s, timeout_s
        self._fetch = fetch or self._http_items
        self._clock = clock
        self._lock = threading.Lock()  # one fetch at a time; the others wait for its result
        self._items: Items | None = None
        self._fetched_at = 0.0
        self._failed_at: float | None = None
        self._error = ""

    def items(self) -> CatalogView:
        with self._lock:
            now = self._clock()
            if self._items is not None and now - self._fetched_at < self.ttl_s:
                return CatalogView(self._items, "cache", now - self._fetched_at)
            if self._failed_at is not None and now - self._failed_at < self.retry_s:
                return self._fallback(now)
            try:
                items = self._fetch()
            except CatalogError as e:
                self._failed_at, self._error = now, str(e)
                return self._fallback(now)
            self._items, self._fetched_at, self._failed_at, self._error = items, now, None, ""
            return CatalogView(items, "live")

    def state(self) -> str:
        """What the last call learnt, for /health (never calls catalog itself)."""
        if self._failed_at is not None:
            return "unavailable"
        return "unknown" if self._items is None else "ok"

    def _fallback(self, now: float) -> CatalogView:
        if self._items is not None and now - self._fetched_at <= self.stale_s:
            return CatalogView(self._items, "stale", now - self._fetched_at, self._error)
        return CatalogView((), "unavailable", 0.0, self._error)

    def _http_items(self) -> Items:
        url = f"{self.base_url}/items"
        try:
            with urllib.request.urlopen(url, timeout=self.timeout_s) as answer:
                data = json.loads(answer.read())
        except urllib.error.HTTPError as e:
            raise CatalogError(f"GET {url}: HTTP {e.code}") from e
        except (OSError, ValueError) as e:  # refused, timeout, DNS, bad JSON
            raise CatalogError(f"GET {url}: {getattr(e, 'reason', e)}") from e
        items = data.get("items") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise CatalogError(f"GET {url}: no item list in the answer")
        return tuple(i for i in items if isinstance(i, dict))


def monthly_payment_cents(principal_cents: int, months: int, apr_percent: float) -> int:
    """An annuity's monthly payment, rounded up to the cent."""
    if apr_percent == 0:
        return math.ceil(principal_cents / months)
    rate = apr_percent / 100 / 12
    payment = principal_cents * rate / (1 - (1 + rate) ** -months)
    return math.ceil(round(payment, 6))


def offer_for(item: dict[str, Any]) -> dict[str, Any]:
    price = int(item.get("price_cents") or 0)
    plans = []
    if price >= MIN_FINANCED_CENTS:
        for months, apr in PLANS:
            monthly = monthly_payment_cents(price, months, apr)
            plans.append(
                {
                    "months": months,
                    "apr_percent": apr,
                    "monthly_cents": monthly,
                    "total_cents": monthly * months,
                }
            )
    return {
        "item_id": str(item.get("id")),
        "item_name": item.get("name"),
        "price_cents": price,
        "currency": item.get("currency", "EUR"),
        "plans": plans,
    }


def make_handler(environ: Mapping[str, str], client: CatalogClient | None = None) -> kit.Handler:
    catalog = client or CatalogClient(
        environ.get("CATALOG_URL") or DEFAULT_CATALOG_URL,
        ttl_s=float(environ.get("CATALOG_TTL_S", "5")),
        stale_s=float(environ.get("CATALOG_STALE_S", "300")),
        timeout_s=float(environ.get("CATALOG_TIMEOUT_S", "1")),
    )

    def handle(request: kit.Request) -> kit.Response:
        parts = request.path.strip("/").split("/")
        if request.method not in ("GET", "HEAD"):
            return kit.json_response(405, {"error": f"{request.method} not allowed"})
        if request.path == "/":
            return kit.json_response(
                200,
                {
                    "service": "offers",
                    "endpoints": ["/offers", "/offers/<item_id>"],
                    "catalog": catalog.state(),
                },
            )
        if parts[0] != "offers" or len(parts) > 2:
            return kit.not_found(request)
        view = catalog.items()
        if len(parts) == 1:
            offers = [offer_for(item) for item in view.items]
            return kit.json_response(
                200, {"offers": offers, "degraded": view.degraded, "catalog": view.as_json()}
            )
        return one_offer(view, parts[1])

    return handle


def one_offer(view: CatalogView, item_id: str) -> kit.Response:
    if view.source == "unavailable":
        return kit.json_response(503, {"error": "catalog unavailable", "catalog": view.as_json()})
    for item in view.items:
        if str(item.get("id")) == item_id:
            body = offer_for(item) | {"degraded": view.degraded, "catalog": view.as_json()}
            return kit.json_response(200, body)
    return kit.json_response(404, {"error": f"no item {item_id!r} in catalog", "catalog": view.as_json()})


if __name__ == "__main__":
    sys.exit(kit.main("offers", make_handler, sys.argv[1:]))
