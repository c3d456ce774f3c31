"""The HTML pages: one shell (static/index.html) that the page script fills from the JSON API."""

from __future__ import annotations

import html
from functools import cache
from importlib.resources import files
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from runner.web.context import ctx

router = APIRouter(include_in_schema=False)
NO_TOKEN = """<!doctype html><meta charset="utf-8"><title>runner: session token needed</title>
<link rel="stylesheet" href="/static/style.css"><main class="narrow"><h1>Session token needed</h1>
<p>Open the URL that <code>runner ui</code> printed when it started: it carries
<code>?token=…</code>, which this browser then keeps in a cookie for the session.</p></main>"""


@cache
def shell() -> str:
    return (files("runner.web") / "static" / "index.html").read_text(encoding="utf-8")


def page(request: Request, name: str) -> Response:
    c = ctx(request)
    token = request.query_params.get("token")
    if c.guard.matches(token):
        # Trade the URL's token for a cookie, and drop it from the address bar and history.
        rest = urlencode([(k, v) for k, v in request.query_params.multi_items() if k != "token"])
        response = RedirectResponse(request.url.path + (f"?{rest}" if rest else ""), status_code=303)
        response.set_cookie(c.guard.cookie, c.guard.token, httponly=True, samesite="strict", path="/")
        return response
    if not c.guard.reader(request):
        return HTMLResponse(NO_TOKEN, status_code=403)
    body = shell().replace("{{page}}", name).replace("{{token}}", html.escape(c.guard.token))
    return HTMLResponse(body, headers={"Cache-Control": "no-store"})


@router.get("/")
def home(request: Request) -> Response:
    return page(request, "pipelines")


@router.get("/pipelines")
def pipelines(request: Request) -> Response:
    return page(request, "pipelines")


@router.get("/history")
def history(request: Request) -> Response:
    return page(request, "history")


@router.get("/builds/{build_id}")
def build(request: Request, build_id: str) -> Response:
    return page(request, "build")


@router.get("/batches/{batch_id}")
def batch(request: Request, batch_id: str) -> Response:
    return page(request, "batch")


@router.get("/environments")
def environments(request: Request) -> Response:
    return page(request, "environments")


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return page(request, "metrics")
