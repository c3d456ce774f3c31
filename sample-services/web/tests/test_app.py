"""web: the summary of catalog and offers, the page, and how it shows a dependency that is down."""

from __future__ import annotations

import json
import unittest
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import app
import kit

OFFERS = {
    "offers": [
        {
            "item_id": "1",
            "item_name": "Laptop <14>",
            "price_cents": 120000,
            "currency": "EUR",
            "plans": [
                {"months": 3, "apr_percent": 0.0, "monthly_cents": 40000, "total_cents": 120000},
                {"months": 12, "apr_percent": 9.9, "monthly_cents": 10545, "total_cents": 126540},
            ],
        },
        {"item_id": "2", "item_name": "Cable", "price_cents": 1000, "currency": "EUR", "plans": []},
    ],
    "degraded": False,
    "catalog": {"source": "live", "age_s": 0, "error": ""},
}
URLS = {"catalog": "http://router/catalog", "offers": "http://router/offers"}


def upstream(answers: dict[str, dict[str, Any]]) -> app.Fetch:
    def fetch(url: str) -> dict[str, Any]:
        return answers.get(url, {"error": "connection refused"})

    return fetch


HEALTHY = upstream(
    {
        "http://router/catalog/version": {
            "service": "catalog",
            "version": "1.1.0",
            "commit": "c" * 40,
            "slot": "blue",
        },
        "http://router/offers/version": {
            "service": "offers",
            "version": "1.0.0",
            "commit": "d" * 40,
            "slot": "green",
        },
        "http://router/offers/offers": OFFERS,
    }
)


class SummaryTest(unittest.TestCase):
    def setUp(self) -> None:
        self.pool = ThreadPoolExecutor(4)
        self.addCleanup(self.pool.shutdown)

    def test_versions_and_cheapest_plans(self) -> None:
        data = app.summary({"service": "web", "version": "1.0.0"}, URLS, HEALTHY, self.pool)
        self.assertEqual(data["versions"]["catalog"]["version"], "1.1.0")
        self.assertEqual(data["versions"]["web"]["version"], "1.0.0")
        self.assertEqual(data["items"][0]["plan"]["months"], 12)
        self.assertIsNone(data["items"][1]["plan"])
        self.assertFalse(data["degraded"])

    def test_dependencies_down(self) -> None:
        data = app.summary({"service": "web"}, URLS, upstream({}), self.pool)
        self.assertEqual(data["versions"]["catalog"], {"error": "connection refused"})
        self.assertEqual(data["items"], [])
        self.assertTrue(data["degraded"])
        self.assertEqual(data["problem"], "connection refused")

    def test_offers_degraded(self) -> None:
        degraded = {"offers": [], "degraded": True, "catalog": {"source": "unavailable", "error": "HTTP 500"}}
        data = app.summary({}, URLS, upstream({"http://router/offers/offers": degraded}), self.pool)
        self.assertEqual((data["degraded"], data["problem"]), (True, "HTTP 500"))


class PageTest(unittest.TestCase):
    def page(self, fetch: app.Fetch) -> tuple[int, str]:
        handler = app.make_handler({}, fetch)
        svc = kit.Service("web", handler, kit.Settings(version="2.0.0"), {"RUNNER_SLOT": "blue"})
        response = handler(kit.Request("GET", "/", {}, b"", svc))
        return response.status, response.body.decode()

    def test_page_shows_versions_and_escapes_names(self) -> None:
        status, text = self.page(HEALTHY)
        self.assertEqual(status, 200)
        self.assertIn("<td>catalog</td><td>1.1.0</td><td><code>cccccccccccc</code></td><td>blue</td>", text)
        self.assertIn("<td>web</td><td>2.0.0</td>", text)
        self.assertIn("Laptop &lt;14&gt;", text)
        self.assertIn("105.45 EUR × 12 months", text)
        self.assertNotIn("degraded", text)

    def test_page_when_dependencies_are_down(self) -> None:
        status, text = self.page(upstream({}))
        self.assertEqual(status, 200)
        self.assertIn("Offers are degraded: connection refused", text)
        self.assertIn("no items", text)

    def test_summary_as_json(self) -> None:
        handler = app.make_handler({"CATALOG_URL": "http://router/catalog/"}, HEALTHY)
        response = handler(kit.Request("GET", "/api/summary", {}))
        self.assertEqual(json.loads(response.body)["versions"]["offers"]["slot"], "green")

    def test_other_paths(self) -> None:
        handler = app.make_handler({}, HEALTHY)
        self.assertEqual(handler(kit.Request("GET", "/nothing", {})).status, 404)
        self.assertEqual(handler(kit.Request("POST", "/", {})).status, 405)


class HttpJsonTest(unittest.TestCase):
    def test_refused_is_an_error_entry(self) -> None:
        self.assertIn("error", app.http_json(0.5)("http://127.0.0.1:9/version"))


if __name__ == "__main__":
    unittest.main()
