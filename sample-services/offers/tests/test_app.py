"""offers: instalment maths, the catalog cache (TTL, stale-if-error, retry pause), and the routes."""

from __future__ import annotations

import json
import threading
import unittest
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import app
import kit

ITEMS = (
    {"id": "1", "name": "Laptop", "price_cents": 120000, "currency": "EUR"},
    {"id": "2", "name": "Cable", "price_cents": 1000, "currency": "EUR"},
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class FakeCatalog:
    """A fetch function that counts calls and fails on demand."""

    def __init__(self) -> None:
        self.calls = 0
        self.down = False

    def __call__(self) -> app.Items:
        self.calls += 1
        if self.down:
            raise app.CatalogError("GET http://router/catalog/items: HTTP 500")
        return ITEMS


def call(handler: kit.Handler, path: str, method: str = "GET") -> tuple[int, Any]:
    response = handler(kit.Request(method, path, {}))
    return response.status, json.loads(response.body)


class MathsTest(unittest.TestCase):
    def test_zero_interest_splits_the_price_rounding_up(self) -> None:
        self.assertEqual(app.monthly_payment_cents(1000, 3, 0.0), 334)

    def test_annuity(self) -> None:
        # 1,200.00 over 12 months at 9.9 % APR: 105.4433 a month (annuity formula), rounded up.
        self.assertEqual(app.monthly_payment_cents(120000, 12, 9.9), 10545)

    def test_offer_plans(self) -> None:
        offer = app.offer_for(ITEMS[0])
        self.assertEqual([p["months"] for p in offer["plans"]], [3, 6, 12])
        self.assertEqual(
            offer["plans"][0],
            {"months": 3, "apr_percent": 0.0, "monthly_cents": 40000, "total_cents": 120000},
        )

    def test_cheap_items_get_no_plan(self) -> None:
        self.assertEqual(app.offer_for(ITEMS[1])["plans"], [])


class CacheTest(unittest.TestCase):
    def setUp(self) -> None:
        self.clock = Clock()
        self.fetch = FakeCatalog()
        self.client = app.CatalogClient(
            "http://router/catalog", ttl_s=5, stale_s=60, retry_s=1, fetch=self.fetch, clock=self.clock
        )

    def test_first_call_is_live_then_cached_within_ttl(self) -> None:
        self.assertEqual(self.client.items().source, "live")
        self.clock.now = 4.9
        view = self.client.items()
        self.assertEqual((view.source, view.items, self.fetch.calls), ("cache", ITEMS, 1))

    def test_refetches_after_ttl(self) -> None:
        self.client.items()
        self.clock.now = 5.0
        self.assertEqual(self.client.items().source, "live")
        self.assertEqual(self.fetch.calls, 2)

    def test_serves_stale_data_when_catalog_fails(self) -> None:
        self.client.items()
        self.fetch.down = True
        self.clock.now = 10
        view = self.client.items()
        self.assertEqual((view.source, view.items, view.degraded), ("stale", ITEMS, True))
        self.assertIn("HTTP 500", view.error)
        self.assertEqual(self.client.state(), "unavailable")

    def test_unavailable_when_nothing_is_cached(self) -> None:
        self.fetch.down = True
        view = self.client.items()
        self.assertEqual((view.source, view.items, view.degraded), ("unavailable", (), True))

    def test_unavailable_when_the_cache_is_too_old(self) -> None:
        self.client.items()
        self.fetch.down = True
        self.clock.now = 61
        self.assertEqual(self.client.items().source, "unavailable")

    def test_waits_before_retrying_a_failed_catalog(self) -> None:
        self.fetch.down = True
        self.client.items()
        self.clock.now = 0.5
        self.client.items()
        self.assertEqual(self.fetch.calls, 1)
        self.fetch.down = False
        self.clock.now = 1.0
        self.assertEqual(self.client.items().source, "live")
        self.assertEqual(self.client.state(), "ok")


class RoutesTest(unittest.TestCase):
    def setUp(self) -> None:
        self.fetch = FakeCatalog()
        self.handler = app.make_handler({}, app.CatalogClient("http://x", fetch=self.fetch, retry_s=0))

    def test_all_offers(self) -> None:
        status, body = call(self.handler, "/offers")
        self.assertEqual(status, 200)
        self.assertEqual([o["item_id"] for o in body["offers"]], ["1", "2"])
        self.assertFalse(body["degraded"])
        self.assertEqual(body["catalog"]["source"], "live")

    def test_degrades_clearly_when_catalog_is_down(self) -> None:
        self.fetch.down = True
        status, body = call(self.handler, "/offers")
        self.assertEqual((status, body["offers"], body["degraded"]), (200, [], True))
        self.assertEqual(body["catalog"]["source"], "unavailable")
        self.assertEqual(call(self.handler, "/offers/1")[0], 503)

    def test_one_offer(self) -> None:
        status, body = call(self.handler, "/offers/1")
        self.assertEqual((status, body["item_name"], len(body["plans"])), (200, "Laptop", 3))
        self.assertEqual(call(self.handler, "/offers/99")[0], 404)

    def test_other_paths_and_methods(self) -> None:
        self.assertEqual(call(self.handler, "/")[0], 200)
        self.assertEqual(call(self.handler, "/nothing")[0], 404)
        self.assertEqual(call(self.handler, "/offers", "POST")[0], 405)


class HttpFetchTest(unittest.TestCase):
    """The real HTTP client against a small catalog stand-in."""

    def serve(self, status: int, body: bytes) -> str:
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.server_close)
        self.addCleanup(server.shutdown)
        return f"http://127.0.0.1:{server.server_address[1]}/catalog"

    def test_reads_items(self) -> None:
        url = self.serve(200, json.dumps({"items": list(ITEMS)}).encode())
        self.assertEqual(app.CatalogClient(url).items().items, ITEMS)

    def test_http_error(self) -> None:
        view = app.CatalogClient(self.serve(500, b"{}")).items()
        self.assertEqual(view.source, "unavailable")
        self.assertIn("HTTP 500", view.error)

    def test_not_an_item_list(self) -> None:
        view = app.CatalogClient(self.serve(200, b'{"nope": 1}')).items()
        self.assertIn("no item list", view.error)

    def test_refused(self) -> None:
        view = app.CatalogClient("http://127.0.0.1:9/catalog", timeout_s=0.5).items()
        self.assertEqual(view.source, "unavailable")


if __name__ == "__main__":
    unittest.main()
