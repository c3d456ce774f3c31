"""A store filled with fixture rows, a dashboard app (TestClient) over it, and a headless browser page."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from runner.store import Store
from runner.web.app import create_app
from runner.web.security import TOKEN_HEADER, Guard
from tests.web import fixtures
from tests.web.browser import chromium

PORT = 8765
BASE = f"http://127.0.0.1:{PORT}"
TOKEN = "test-token-0123456789"


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    store = Store(home / "state.db")
    yield store
    store.close()


@pytest.fixture
def rows(store: Store, home: Path) -> dict[str, str]:
    return fixtures.fill(store, home)


def make_client(store: Store, home: Path, config_path: Path | None = None, **headers: Any) -> TestClient:
    app = create_app(store, Guard(TOKEN, PORT), home=home, config_path=config_path)
    client = TestClient(app, base_url=BASE, headers=headers)
    return client


@pytest.fixture
def client(store: Store, home: Path, rows: dict[str, str]) -> Iterator[TestClient]:
    with make_client(store, home, **{TOKEN_HEADER: TOKEN}) as c:
        yield c


@pytest.fixture
def anonymous(store: Store, home: Path, rows: dict[str, str]) -> Iterator[TestClient]:
    with make_client(store, home) as c:
        yield c


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with chromium(tmp_path_factory.mktemp("chromium-profile")) as context:
        yield context


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page
    page.close()
    assert not errors, f"JavaScript errors: {errors}"
