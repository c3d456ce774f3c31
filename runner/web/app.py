"""The dashboard application: FastAPI (its OpenAPI document describes the JSON API) + static files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from runner import __version__
from runner.errors import RunnerError
from runner.store import Store
from runner.web import api, api_actions, pages
from runner.web.actions import Refused
from runner.web.context import Context
from runner.web.security import Guard, HostCheck

STATIC = Path(__file__).parent / "static"


def create_app(store: Store, guard: Guard, home: Path | None = None, config_path: Path | None = None) -> Any:
    """The ASGI app: the FastAPI app behind the Host check."""
    app = FastAPI(
        title="runner dashboard API",
        version=__version__,
        description="Builds, pipeline executions, environments and delivery metrics of a local runner. "
        "Reads need the session cookie or the X-Runner-Token header; mutations need the header.",
        openapi_url="/api/openapi.json",
        docs_url=None,  # the bundled Swagger UI loads its assets from a CDN: not offline
        redoc_url=None,
    )
    app.state.ctx = Context(store, home or store.path.parent, guard, config_path)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.include_router(api.router)
    app.include_router(api_actions.router)
    app.include_router(pages.router)
    _errors(app)
    return HostCheck(app, guard.allowed_hosts())


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _errors(app: FastAPI) -> None:
    """Every error is one JSON object {"error": "…"}; 501 when an action is not provided yet."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_request: Request, e: StarletteHTTPException) -> JSONResponse:
        return _error(e.status_code, str(e.detail))

    @app.exception_handler(RequestValidationError)
    async def bad_request(_request: Request, e: RequestValidationError) -> JSONResponse:
        first = e.errors()[0] if e.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, f"{where}: {first.get('msg', 'invalid request')}")

    @app.exception_handler(Refused)
    async def refused(_request: Request, e: Refused) -> JSONResponse:
        return _error(409, str(e))

    @app.exception_handler(RunnerError)
    async def runner_error(_request: Request, e: RunnerError) -> JSONResponse:
        return _error(409, str(e))
