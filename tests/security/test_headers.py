"""Framing, MIME sniffing and injected scripts: every response of the api and the web
page carries the security headers, and the web page and /docs run under the policy in
a real Chromium without a single violation."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from api.main import create_app
from devservers.asgi import ThreadedApp
from tests.api.cdp import Browser
from tests.api.conftest import Api, make_settings

EXPECTED = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


def _check(response: httpx.Response) -> None:
    for name, value in EXPECTED.items():
        assert response.headers.get(name) == value, (response.request.url, name)
    policy = response.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy


def test_every_kind_of_response_carries_the_headers(make_api: Callable[..., Api]) -> None:
    api = make_api(max_body_bytes=2048)
    client = api.client
    responses = {
        200: [
            client.get("/"),
            client.get("/health"),
            client.get("/docs"),
            client.get("/openapi.json"),
            client.get("/static/js/app.js"),
            client.get("/static/vendor/uplot/uPlot.esm.js"),
            client.get("/docs/assets/swagger-ui.css"),
            api.call("admin", "GET", "/members"),
        ],
        401: [client.get("/members")],
        404: [client.get("/nothing-here")],
        405: [client.delete("/health")],
        413: [client.post("/auth/token", content=b"x" * 4096)],
        422: [client.post("/auth/token", json={})],
    }
    for status, answers in responses.items():
        for response in answers:
            assert response.status_code == status, (response.request.url, response.text)
            _check(response)
    # Swagger UI's one inline start-up script is allowed by its hash, nothing else inline.
    assert "'sha256-" in client.get("/docs").headers["content-security-policy"]


def test_even_an_unhandled_error_carries_the_headers(tmp_path: Path) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'api.db'}"))

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom")
    assert response.status_code == 500
    _check(response)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    with ThreadedApp(create_app(make_settings(f"sqlite:///{tmp_path / 'api.db'}"))) as app:
        yield app.url


# Runs in every page before its own scripts; CDP-injected, so outside the page's policy.
RECORD_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation',
    e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));
"""


@pytest.mark.parametrize(
    ("path", "ready"),
    [
        ("/", "document.getElementById('login') !== null"),
        ("/docs", "document.querySelectorAll('.opblock').length > 20"),
    ],
)
def test_the_pages_run_under_the_policy(
    served: str, browser: Browser, path: str, ready: str
) -> None:
    browser.call("Page.enable")
    browser.call("Page.addScriptToEvaluateOnNewDocument", source=RECORD_VIOLATIONS)
    browser.goto(served + path)
    browser.wait_for(ready, timeout=30)
    assert browser.evaluate("window.__violations") == []
    # The policy is live: an injected inline script is refused and reported.
    browser.evaluate(
        "const s = document.createElement('script'); s.textContent = 'window.__ran = 1';"
        "document.body.appendChild(s);"
    )
    browser.wait_for("window.__violations.length > 0")
    assert browser.evaluate("window.__ran === undefined")
    assert browser.evaluate("window.__violations[0]").startswith("script-src")
