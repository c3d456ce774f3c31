"""catalog: item validation, the in-memory store, and the HTTP routes."""

from __future__ import annotations

import json
import unittest
from typing import Any

import app
import kit


def call(handler: kit.Handler, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = b"" if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    response = handler(kit.Request(method, path, {}, raw))
    return response.status, json.loads(response.body)


class ValidationTest(unittest.TestCase):
    def test_valid_item(self) -> None:
        self.assertEqual(
            app.validate_new_item({"name": " Mouse ", "price_cents": 2500}), ("Mouse", 2500, "EUR")
        )
        self.assertEqual(
            app.validate_new_item({"name": "Mouse", "price_cents": 1, "currency": "usd"})[2], "USD"
        )

    def test_invalid_items(self) -> None:
        invalid: tuple[Any, ...] = (
            None,
            [],
            {"price_cents": 1},
            {"name": "", "price_cents": 1},
            {"name": "x" * 81, "price_cents": 1},
            {"name": "Mouse"},
            {"name": "Mouse", "price_cents": 0},
            {"name": "Mouse", "price_cents": 1.5},
            {"name": "Mouse", "price_cents": True},
            {"name": "Mouse", "price_cents": 1, "currency": "EURO"},
        )
        for data in invalid:
            with self.subTest(data=data), self.assertRaises(ValueError):
                app.validate_new_item(data)


class CatalogTest(unittest.TestCase):
    def test_add_assigns_the_next_id(self) -> None:
        catalog = app.Catalog()
        item = catalog.add("Mouse", 2500, "EUR")
        self.assertEqual(item["id"], str(len(app.SEED) + 1))
        self.assertEqual(catalog.get(item["id"]), item)
        self.assertEqual(len(catalog.all()), len(app.SEED) + 1)

    def test_returned_items_are_copies(self) -> None:
        catalog = app.Catalog()
        catalog.all()[0]["name"] = "changed"
        self.assertNotEqual(catalog.get("1"), None)
        self.assertEqual(catalog.get("1")["name"], app.SEED[0]["name"])  # type: ignore[index]


class RoutesTest(unittest.TestCase):
    def setUp(self) -> None:
        self.handler = app.make_handler({}, app.Catalog())

    def test_list_items(self) -> None:
        status, body = call(self.handler, "GET", "/items")
        self.assertEqual(status, 200)
        self.assertEqual([i["id"] for i in body["items"]], ["1", "2", "3", "4"])

    def test_one_item(self) -> None:
        self.assertEqual(call(self.handler, "GET", "/items/2"), (200, app.SEED[1]))

    def test_unknown_item(self) -> None:
        self.assertEqual(call(self.handler, "GET", "/items/99")[0], 404)

    def test_post_then_get(self) -> None:
        status, created = call(self.handler, "POST", "/items", {"name": "Mouse", "price_cents": 2500})
        self.assertEqual(status, 201)
        self.assertEqual(call(self.handler, "GET", f"/items/{created['id']}"), (200, created))

    def test_post_sets_a_relative_location(self) -> None:
        response = self.handler(kit.Request("POST", "/items", {}, b'{"name": "Mouse", "price_cents": 2500}'))
        self.assertEqual(response.headers["Location"], "items/5")

    def test_post_bad_json(self) -> None:
        self.assertEqual(call(self.handler, "POST", "/items", b"{not json")[0], 400)

    def test_post_invalid_item(self) -> None:
        status, body = call(self.handler, "POST", "/items", {"name": "Mouse", "price_cents": -1})
        self.assertEqual((status, body["error"]), (400, "price_cents: expected a positive integer"))

    def test_methods_and_unknown_paths(self) -> None:
        self.assertEqual(call(self.handler, "DELETE", "/items")[0], 405)
        self.assertEqual(call(self.handler, "POST", "/items/1")[0], 405)
        self.assertEqual(call(self.handler, "GET", "/nothing")[0], 404)
        self.assertEqual(call(self.handler, "GET", "/items/1/x")[0], 404)
        self.assertEqual(call(self.handler, "GET", "/")[0], 200)


if __name__ == "__main__":
    unittest.main()
