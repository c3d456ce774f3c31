"""End-to-end tests of a deployed shop through its router (RUNNER_STAGING_URL), run by the test stage."""

from __future__ import annotations

import json
import os
import unittest
import urllib.error
import urllib.request
from typing import Any

BASE = os.environ.get("RUNNER_STAGING_URL", "").rstrip("/")
ROUTES = {"catalog": "/catalog", "offers": "/offers", "web": ""}  # as in pipeline.yml
TIMEOUT_S = 5


def request(path: str, data: Any = None) -> tuple[int, bytes, dict[str, str]]:
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(BASE + path, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as answer:
            return answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as e:
        return e.code, e.read(), dict(e.headers)


def get_json(path: str) -> Any:
    status, body, _ = request(path)
    if status != 200:
        raise AssertionError(f"GET {path}: HTTP {status}: {body[:200]!r}")
    return json.loads(body)


@unittest.skipUnless(BASE, "RUNNER_STAGING_URL is not set")
class StagingTest(unittest.TestCase):
    def test_every_service_reports_its_version(self) -> None:
        for service, route in ROUTES.items():
            with self.subTest(service=service):
                version = get_json(f"{route}/version")
                self.assertEqual(version["service"], service)
                self.assertTrue(version["version"])
                self.assertEqual(version["environment"], "staging")

    def test_every_service_is_healthy(self) -> None:
        for service, route in ROUTES.items():
            with self.subTest(service=service):
                self.assertEqual(get_json(f"{route}/health")["status"], "ok")

    def test_catalog_lists_and_finds_items(self) -> None:
        items = get_json("/catalog/items")["items"]
        self.assertGreater(len(items), 0)
        self.assertEqual(get_json(f"/catalog/items/{items[0]['id']}"), items[0])
        self.assertEqual(request("/catalog/items/does-not-exist")[0], 404)

    def test_catalog_accepts_a_new_item(self) -> None:
        status, body, headers = request("/catalog/items", {"name": "e2e item", "price_cents": 9900})
        self.assertEqual(status, 201, body)
        self.assertEqual(headers.get("Location"), f"items/{json.loads(body)['id']}")

    def test_offers_cover_the_catalog(self) -> None:
        offers = get_json("/offers/offers")
        self.assertFalse(offers["degraded"], offers["catalog"])
        item_ids = {item["id"] for item in get_json("/catalog/items")["items"]}
        self.assertLessEqual({o["item_id"] for o in offers["offers"]}, item_ids)
        self.assertTrue(any(o["plans"] for o in offers["offers"]))

    def test_one_offer(self) -> None:
        offer = get_json("/offers/offers/1")
        self.assertEqual(offer["item_id"], "1")
        self.assertEqual([p["months"] for p in offer["plans"]], [3, 6, 12])

    def test_web_page_shows_all_versions(self) -> None:
        status, body, headers = request("/")
        self.assertEqual(status, 200)
        self.assertIn("text/html", headers.get("Content-Type", ""))
        page = body.decode()
        for service, route in ROUTES.items():
            with self.subTest(service=service):
                self.assertIn(f"<td>{service}</td><td>{get_json(f'{route}/version')['version']}</td>", page)

    def test_no_server_errors_under_a_few_requests(self) -> None:
        paths = ["/catalog/items", "/offers/offers", "/", "/api/summary"] * 10
        statuses = [request(path)[0] for path in paths]
        self.assertEqual([s for s in statuses if s >= 500], [])


if __name__ == "__main__":
    unittest.main()
