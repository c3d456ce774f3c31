"""stock: the HTTP routes."""

from __future__ import annotations

import json
import unittest
from typing import Any

import app
import kit


def call(method: str, path: str, **environ: str) -> tuple[int, Any]:
    response = app.make_handler(environ)(kit.Request(method, path, {}, b""))
    return response.status, json.loads(response.body)


class RoutesTest(unittest.TestCase):
    def test_all_units_of_the_warehouse(self) -> None:
        status, body = call("GET", "/items", WAREHOUSE="north")
        self.assertEqual(status, 200)
        self.assertEqual(body["warehouse"], "north")
        self.assertEqual(body["units"]["3"], 7)

    def test_one_item_and_unknown_items(self) -> None:
        self.assertEqual(call("GET", "/items/2")[1]["units"], 40)
        self.assertEqual(call("GET", "/items/99")[0], 404)
        self.assertEqual(call("GET", "/nope")[0], 404)
        self.assertEqual(call("POST", "/items")[0], 405)

    def test_the_root_answers_the_target_group_health_check(self) -> None:
        self.assertEqual(call("GET", "/"), (200, {"service": "stock", "endpoints": ["/items", "/items/<item_id>"]}))


if __name__ == "__main__":
    unittest.main()
