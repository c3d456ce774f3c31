"""web: the shop's page and gateway; calls catalog and offers through the router and shows their versions."""

from __future__ import annotations

import html
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import kit

DEFAULT_URLS = {"catalog": "http://router/catalog", "offers": "http://router/offers"}

Fetch = Callable[[str], dict[str, Any]]


def http_json(timeout_s: float) -> Fetch:
    def fetch(url: str) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as answer:
                data = json.loads(answer.read())
        except urllib.error.HTTPError as e:
            return {"error": f"HTTP {e.code}"}
        except (OSError, ValueError) as e:
            return {"error": str(getattr(e, "reason", e))}
        return data if isinstance(data, dict) else {"error": "not a JSON object"}

    return fetch


def summary(
    own: dict[str, Any], urls: Mapping[str, str], fetch: Fetch, pool: ThreadPoolExecutor
) -> dict[str, Any]:
    """Versions of the three services, and the items with their cheapest plan (calls run in parallel)."""
    calls = {
        "catalog": f"{urls['catalog']}/version",
        "offers": f"{urls['offers']}/version",
        "list": f"{urls['offers']}/offers",
    }
    answers = dict(zip(calls, pool.map(fetch, calls.values()), strict=True))
    offers = answers["list"]
    return {
        "versions": {"web": own, "catalog": answers["catalog"], "offers": answers["offers"]},
        "items": [_cheapest(offer) for offer in offers.get("offers") or []],
        "degraded": bool(offers.get("degraded")) or "error" in offers,
        "problem": offers.get("error") or (offers.get("catalog") or {}).get("error", ""),
    }


def _cheapest(offer: dict[str, Any]) -> dict[str, Any]:
    plans = offer.get("plans") or []
    best = min(plans, key=lambda p: p.get("monthly_cents", 0), default=None)
    return {
        "name": offer.get("item_name"),
        "price_cents": offer.get("price_cents"),
        "currency": offer.get("currency"),
        "plan": best,
    }


def money(cents: Any, currency: Any) -> str:
    return f"{int(cents or 0) / 100:,.2f} {currency or ''}".strip()


def render(data: dict[str, Any]) -> str:
    esc = html.escape
    version_rows = "".join(
        f"<tr><td>{esc(name)}</td><td>{esc(str(v.get('version', '—')))}</td>"
        f"<td><code>{esc(str(v.get('commit', ''))[:12])}</code></td><td>{esc(str(v.get('slot', '')))}</td>"
        f"<td><code>{esc(str(v.get('image', '')))}</code></td><td>{esc(str(v.get('error', 'ok')))}</td></tr>"
        for name, v in data["versions"].items()
    )
    item_rows = "".join(
        f"<tr><td>{esc(str(i['name']))}</td><td>{esc(money(i['price_cents'], i['currency']))}</td><td>"
        + (
            esc(
                f"{money(i['plan']['monthly_cents'], i['currency'])} × {i['plan']['months']} months "
                f"({i['plan']['apr_percent']} % APR)"
            )
            if i["plan"]
            else "—"
        )
        + "</td></tr>"
        for i in data["items"]
    )
    notice = (
        f"<p class=warn>Offers are degraded: {esc(str(data['problem']) or 'catalog unavailable')}</p>"
        if data["degraded"]
        else ""
    )
    return PAGE.format(
        versions=version_rows, items=item_rows or "<tr><td colspan=3>no items</td></tr>", notice=notice
    )


PAGE = """<!doctype html>
<html lang=en><head><meta charset=utf-8><title>Shop</title>
<style>body{{font-family:sans-serif;margin:2em}}td,th{{padding:.2em .8em;text-align:left}}
.warn{{color:#a00}}</style></head>
<body><h1>Shop</h1>{notice}
<h2>Items</h2><table><tr><th>item</th><th>price</th><th>from</th></tr>{items}</table>
<h2>Versions</h2><table><tr><th>service</th><th>version</th><th>commit</th><th>slot</th><th>image</th>
<th>status</th></tr>{versions}</table>
</body></html>
"""


def make_handler(environ: Mapping[str, str], fetch: Fetch | None = None) -> kit.Handler:
    urls = {
        name: (environ.get(f"{name.upper()}_URL") or url).rstrip("/") for name, url in DEFAULT_URLS.items()
    }
    get = fetch or http_json(float(environ.get("UPSTREAM_TIMEOUT_S", "1")))
    pool = ThreadPoolExecutor(max_workers=int(environ.get("UPSTREAM_THREADS", "16")))

    def handle(request: kit.Request) -> kit.Response:
        if request.method not in ("GET", "HEAD"):
            return kit.json_response(405, {"error": f"{request.method} not allowed"})
        if request.path not in ("/", "/api/summary"):
            return kit.not_found(request)
        own = request.service.version_info() if request.service else {"service": "web"}
        data = summary(own, urls, get, pool)
        return (
            kit.json_response(200, data)
            if request.path == "/api/summary"
            else kit.html_response(200, render(data))
        )

    return handle


if __name__ == "__main__":
    sys.exit(kit.main("web", make_handler, sys.argv[1:]))
