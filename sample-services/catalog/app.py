"""catalog: the items API (GET /items, GET /items/<id>, POST /items kept in memory)."""

from __future__ import annotations

import sys
import threading
from collections.abc import Mapping
from typing import Any

import kit

SEED: tuple[dict[str, Any], ...] = (
    {"id": "1", "name": "Laptop 14", "price_cents": 129900, "currency": "EUR"},
    {"id": "2", "name": "Phone X", "price_cents": 79900, "currency": "EUR"},
    {"id": "3", "name": "Headphones", "price_cents": 19900, "currency": "EUR"},
    {"id": "4", "name": "USB-C cable", "price_cents": 1290, "currency": "EUR"},
)
MAX_NAME = 80


class Catalog:
    """The items of this process (POSTed items live until the slot stops)."""

    def __init__(self, items: tuple[dict[str, Any], ...] = SEED) -> None:
        self._lock = threading.Lock()
        self._items = {item["id"]: dict(item) for item in items}
        self._next = max((int(i) for i in self._items), default=0) + 1

    def all(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(item) for item in self._items.values()]

    def get(self, item_id: str) -> dict[str, Any] | None:
        with self._lock:
            item = self._items.get(item_id)
            return dict(item) if item else None

    def add(self, name: str, price_cents: int, currency: str) -> dict[str, Any]:
        with self._lock:
            item = {"id": str(self._next), "name": name, "price_cents": price_cents, "currency": currency}
            self._items[item["id"]] = item
            self._next += 1
            return dict(item)


def validate_new_item(data: Any) -> tuple[str, int, str]:
    """A POSTed item: {"name": str, "price_cents": int > 0, "currency"?: 3 letters}; ValueError if bad."""
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise ValueError(f"name: expected a non-empty string of at most {MAX_NAME} characters")
    price = data.get("price_cents")
    if not isinstance(price, int) or isinstance(price, bool) or price <= 0:
        raise ValueError("price_cents: expected a positive integer")
    currency = data.get("currency", "EUR")
    if not isinstance(currency, str) or len(currency) != 3 or not currency.isalpha():
        raise ValueError("currency: expected a 3-letter code such as EUR")
    return name.strip(), price, currency.upper()


def make_handler(environ: Mapping[str, str], catalog: Catalog | None = None) -> kit.Handler:
    items = catalog or Catalog()

    def handle(request: kit.Request) -> kit.Response:
        parts = request.path.strip("/").split("/")
        if request.path == "/":
            return kit.json_response(200, {"service": "catalog", "endpoints": ["/items", "/items/<id>"]})
        if parts[0] != "items" or len(parts) > 2:
            return kit.not_found(request)
        if len(parts) == 2:
            return item(request, parts[1])
        if request.method in ("GET", "HEAD"):
            return kit.json_response(200, {"items": items.all()})
        if request.method == "POST":
            return create(request)
        return kit.json_response(405, {"error": f"{request.method} not allowed on /items"})

    def item(request: kit.Request, item_id: str) -> kit.Response:
        if request.method not in ("GET", "HEAD"):
            return kit.json_response(405, {"error": f"{request.method} not allowed on /items/<id>"})
        found = items.get(item_id)
        if found is None:
            return kit.json_response(404, {"error": f"no item {item_id!r}"})
        return kit.json_response(200, found)

    def create(request: kit.Request) -> kit.Response:
        try:
            name, price, currency = validate_new_item(request.json())
        except ValueError as e:  # json.JSONDecodeError is a ValueError too
            return kit.json_response(400, {"error": str(e)})
        created = items.add(name, price, currency)
        # Relative, so it stays right behind the router's /catalog prefix.
        location = {"Location": f"items/{created['id']}"}
        return kit.Response(201, kit.json_response(201, created).body, headers=location)

    return handle


if __name__ == "__main__":
    sys.exit(kit.main("catalog", make_handler, sys.argv[1:]))
