"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.errors import error_body
from service.state import State

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="进程存活")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="检索引擎是否就绪")
def readyz(state: State) -> JSONResponse:
    if state.reconnect() is None:
        error = state.engine_error
        message = error.message if error else "engine not started"
        detail = {**(error.detail if error else {}), "engine": state.settings.engine}
        detail.setdefault("reason", message)
        return JSONResponse(error_body("engine_unavailable", message, detail), 503)
    health = state.search.engine.health()
    if not health.ready:
        return JSONResponse(
            error_body("engine_unavailable", health.detail, {"engine": health.engine, "reason": health.detail}), 503
        )
    return JSONResponse({"status": "ready", "engine": health.engine, "detail": health.detail, "records": health.records})
