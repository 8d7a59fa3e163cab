"""The interactive api docs (/docs) served whole by the api: Swagger UI's
files come from the pinned `swagger-ui-bundle-v2` package, not a CDN, so the
page works on a site server without internet. ReDoc is not offered (it would
need a CDN too; /docs shows the same description)."""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from swagger_ui_bundle import swagger_ui_path

from api.middleware import content_security_policy

DOCS_URL = "/docs"
ASSETS_URL = DOCS_URL + "/assets"
OAUTH2_REDIRECT_URL = DOCS_URL + "/oauth2-redirect"


def add_docs_page(app: FastAPI) -> None:
    """For an app made with `docs_url=None, redoc_url=None`."""
    app.mount(ASSETS_URL, StaticFiles(directory=Path(str(swagger_ui_path))), name="swagger-ui")

    # The endpoints take the app from the request: FastAPI caches each
    # endpoint for good, so a closure over `app` would keep every app alive.
    @app.get(DOCS_URL, include_in_schema=False)
    def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        own = request.app
        return _allow_own_scripts(
            get_swagger_ui_html(
                openapi_url=root + (own.openapi_url or "/openapi.json"),
                title=f"{own.title} - docs",
                swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
                swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
                swagger_favicon_url=f"{root}{ASSETS_URL}/favicon-32x32.png",
                oauth2_redirect_url=root + OAUTH2_REDIRECT_URL,
            )
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return _allow_own_scripts(get_swagger_ui_oauth2_redirect_html())


def _allow_own_scripts(page: HTMLResponse) -> HTMLResponse:
    """The page's inline scripts (Swagger UI's start-up call) get through the
    Content-Security-Policy by their hash; nothing else inline does."""
    scripts = re.findall(r"<script>(.*?)</script>", bytes(page.body).decode(), re.S)
    page.headers["Content-Security-Policy"] = content_security_policy(scripts)
    return page
