"""Headless Debian chromium (driven by Playwright) and a real uvicorn dashboard in a thread, for e2e tests."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from runner.store import Store
from runner.web.server import in_thread
from tests.ci import missing

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "dashboard"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKEN = "browser-test-token-0123456789"


def require_chromium() -> None:
    """Skip without chromium on a developer machine; under CI (`make test` installs it) fail."""
    if not CHROMIUM.exists():
        missing(f"{CHROMIUM} is missing: `make test-tools` installs Debian's chromium (root)")


@contextmanager
def chromium(profile: Path) -> Iterator[Any]:
    """A browser context with a fresh user-data-dir."""
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@contextmanager
def dashboard(store: Store, home: Path, config_path: Path | None = None) -> Iterator[str]:
    """`runner ui` in a thread on a free loopback port; yields its base URL."""
    with in_thread(store, home, config_path, TOKEN) as (base, _token):
        yield base


def shot(page: Any, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
