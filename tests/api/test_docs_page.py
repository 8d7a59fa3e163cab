"""The api's interactive docs (/docs) in a real headless Chromium with no
internet (the browser runs with background networking off and this machine
reaches no CDN): Swagger UI must come from the api itself and render the
operations of the api's own OpenAPI description."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from api.main import create_app
from devservers.asgi import ThreadedApp
from tests.api.cdp import Browser
from tests.api.conftest import make_settings


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with ThreadedApp(create_app(make_settings(f"sqlite:///{tmp_path / 'api.db'}"))) as app:
        yield app.url


def test_docs_page_renders_every_operation_from_local_assets(
    served: str, browser: Browser
) -> None:
    spec = httpx.get(served + "/openapi.json", timeout=10).json()
    operations = sum(len(methods) for methods in spec["paths"].values())
    assert operations > 20

    browser.goto(served + "/docs")
    # Swagger UI gives each operation an element "operations-<tag>-<operationId>".
    browser.wait_for("document.getElementById('operations-health-health_health_get') !== null",
                     timeout=30)
    shown = browser.evaluate("document.querySelectorAll('.opblock').length")
    assert shown == operations
    assert "/members" in browser.evaluate("document.body.innerText")
    loaded = browser.evaluate(
        "performance.getEntriesByType('resource').map(e => e.name)"
        ".concat([location.href])")
    assert any(u.endswith("swagger-ui-bundle.js") for u in loaded), loaded
    assert all(u.startswith(served + "/") for u in loaded), loaded


def test_docs_assets_are_served_and_redoc_is_not_left_blank(served: str) -> None:
    page = httpx.get(served + "/docs", timeout=10)
    assert page.status_code == 200 and "cdn." not in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        response = httpx.get(f"{served}/docs/assets/{asset}", timeout=10)
        assert response.status_code == 200 and len(response.content) > 100_000
    # ReDoc would load from a CDN too: it is not offered rather than blank.
    assert httpx.get(served + "/redoc", timeout=10).status_code == 404
