"""Liveness and readiness."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from service.errors import error_body
from service.state import AppState, State

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="进程存活")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="检索引擎是否就绪")
def readyz(state: State) -> JSONResponse:
    """Ready or not, with the engine's own account of why.

    When reads require a key the probe stays open but says only ready or not and which
    engine: the account names the data path or the cluster, which is not for anonymous callers.
    """
    if state.settings.reads_require_key:
        return _readiness_only(state)
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


def _readiness_only(state: AppState) -> JSONResponse:
    engine = state.settings.engine
    search = state.reconnect()
    health = search.engine.health() if search is not None else None
    if health is None or not health.ready:
        message = f"the {engine} engine is not ready; its log says why"
        return JSONResponse(error_body("engine_unavailable", message, {"engine": engine, "reason": message}), 503)
    return JSONResponse({"status": "ready", "engine": health.engine, "records": health.records})
