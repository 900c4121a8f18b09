"""The one JSON error shape: {"error": {"code", "message", "detail"}} for every failure.

The API, the probes and the OpenAPI description always answer errors in that shape. A request
for a page (a page route, or any path outside the API that asks for `text/html`) gets the
same error as the Chinese error page instead, and a page that needs a key gets the sign-in
page, so a browser never shows raw JSON.
"""

from __future__ import annotations

import logging
from typing import Any

from typing import Iterator

from fastapi import FastAPI, Request, routing
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from indexing.errors import CasedigestError
from service.signin import signin_page
from service.web import error_page

log = logging.getLogger("casedigest")

# Paths that always answer JSON (or their own media type), whatever the client accepts.
MACHINE_PATHS = ("/healthz", "/readyz", "/openapi.json", "/docs", "/redoc")
MACHINE_PREFIXES = ("/v1/", "/static/", "/docs/")
PAGE_MODULES = ("service.web", "service.signin")


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "detail": detail or {}}}


def wants_html(request: Request) -> bool:
    """Whether an error on this request is shown as a page rather than as JSON."""
    path = request.url.path
    if path in MACHINE_PATHS or path.startswith(MACHINE_PREFIXES):
        return False
    route = request.scope.get("route")
    if route is not None and getattr(route, "endpoint", None) is not None:
        if route.endpoint.__module__ in PAGE_MODULES:
            return True
    return "text/html" in request.headers.get("accept", "")


def flat_routes(app: FastAPI) -> Iterator[Any]:
    """Every route of the app, those of included routers with their prefix and dependencies."""
    # Newer FastAPI keeps included routers nested and resolves them through route contexts.
    contexts = getattr(routing, "iter_route_contexts", None)
    yield from contexts(app.routes) if contexts else app.routes


def allowed_methods(request: Request) -> list[str]:
    """Every method some route serves at this path (the routes of one path may be several)."""
    methods: set[str] = set()
    for route in flat_routes(request.app):
        match, _ = getattr(route, "original_route", route).matches(request.scope)
        if match != Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods)


def error_response(request: Request, error: CasedigestError, headers: dict[str, str] | None = None) -> Response:
    """`error` as the one JSON shape, or as a page when the request is for a page."""
    if wants_html(request):
        page = signin_page(request, status=401) if error.status == 401 else error_page(error)
        page.headers.update(headers or {})
        return page
    return JSONResponse(error_body(error.code, error.message, error.detail), status_code=error.status, headers=headers)


class HttpError(CasedigestError):
    """An error the framework raised (invalid parameter, no such path, method not allowed), in our terms."""

    def __init__(self, status: int, code: str, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message, detail)
        self.status = status
        self.code = code


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CasedigestError)
    async def _ours(request: Request, exc: CasedigestError) -> Response:
        headers = getattr(exc, "headers", None)  # e.g. WWW-Authenticate on a 401
        return error_response(request, exc, headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "reason": e["msg"]}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "?", "reason": "invalid"}
        message = f"{first['field']}: {first['reason']}"
        return error_response(request, HttpError(400, "invalid_parameter", message, {"problems": problems}))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        error = HttpError(exc.status_code, code, message)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette names only the first route's methods; a path served by several routes
            # (GET from the read router, PUT and DELETE from the write router) allows them all.
            headers["Allow"] = ", ".join(allowed_methods(request))
        return error_response(request, error, headers)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unexpected error on %s", request.url.path)
        return error_response(request, CasedigestError("the service hit an unexpected error"))
