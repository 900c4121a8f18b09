"""The interactive API documentation at /docs, served entirely from this machine.

FastAPI's own /docs page loads Swagger UI from a CDN and starts it with an inline script, so
it is blank without internet and could not carry the pages' Content-Security-Policy. Here the
Swagger UI files come from the `fastapi-offline` package, the page is a template, and the
start-up code is `static/docs.js`: the page sends the same security headers as every other.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from service.web import render

SWAGGER_UI_DIR = Path(fastapi_offline.__file__).resolve().parent / "static"
DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"


def install_api_docs(app: FastAPI) -> None:
    """Serve Swagger UI at /docs over the app's OpenAPI description (the app has docs_url=None)."""
    app.mount(ASSETS_URL, StaticFiles(directory=SWAGGER_UI_DIR), name="docs-assets")

    @app.api_route(DOCS_URL, methods=["GET", "HEAD"], include_in_schema=False)
    def api_docs() -> HTMLResponse:
        return render("docs.html", openapi_url=app.openapi_url, assets=ASSETS_URL)
