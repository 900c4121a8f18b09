"""The one JSON error shape: {"error": {"code", "message", "detail"}} for every failure."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from indexing.errors import CasedigestError

log = logging.getLogger("casedigest")


def error_body(code: str, message: str, detail: Any = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "detail": detail or {}}}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(CasedigestError)
    async def _ours(request: Request, exc: CasedigestError) -> JSONResponse:
        headers = getattr(exc, "headers", None)  # e.g. WWW-Authenticate on a 401
        return JSONResponse(error_body(exc.code, exc.message, exc.detail), status_code=exc.status, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            {"field": ".".join(str(p) for p in e["loc"][1:]) or str(e["loc"][0]), "reason": e["msg"]}
            for e in exc.errors()
        ]
        first = problems[0] if problems else {"field": "?", "reason": "invalid"}
        message = f"{first['field']}: {first['reason']}"
        return JSONResponse(error_body("invalid_parameter", message, {"problems": problems}), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        message = "no such page" if exc.status_code == 404 else str(exc.detail)
        return JSONResponse(error_body(code, message), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        return JSONResponse(error_body("internal_error", "the service hit an unexpected error"), status_code=500)
