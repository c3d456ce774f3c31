"""stock: units in stock per catalog item, per warehouse (GET /items, GET /items/<item_id>).

Deployed from its ECS task definition (taskdef.json) and appspec.yaml, unchanged: the
warehouse name comes from the task definition's `environment`.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

import kit

UNITS = {"1": 12, "2": 40, "3": 7, "4": 250}


def make_handler(environ: Mapping[str, str]) -> kit.Handler:
    warehouse = environ.get("WAREHOUSE", "local")

    def handle(request: kit.Request) -> kit.Response:
        if request.method not in ("GET", "HEAD"):
            return kit.json_response(405, {"error": f"{request.method} not allowed"})
        parts = request.path.strip("/").split("/")
        if request.path == "/":
            return kit.json_response(200, {"service": "stock", "endpoints": ["/items", "/items/<item_id>"]})
        if parts[0] != "items" or len(parts) > 2:
            return kit.not_found(request)
        if len(parts) == 1:
            return kit.json_response(200, {"warehouse": warehouse, "units": UNITS})
        if parts[1] not in UNITS:
            return kit.json_response(404, {"error": f"no stock record for item {parts[1]!r}"})
        return kit.json_response(200, {"warehouse": warehouse, "item_id": parts[1], "units": UNITS[parts[1]]})

    return handle


if __name__ == "__main__":
    sys.exit(kit.main("stock", make_handler, sys.argv[1:]))
