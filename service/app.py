"""The FastAPI application: lifespan resources, error handlers, CORS and the routes."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from typing import AsyncIterator

from anyio import to_thread
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from service.errors import install_error_handlers
from service.middleware import RequestTargetLimit, UnexpectedErrors
from service.fixtures import load_fixtures_if_empty
from service.openapi import describe_responses
from service import signin, similar_web, web
from service.api_docs import install_api_docs
from service.auth import read_dependencies
from service.routes import health, records, search, similar, writes
from service.facts_store import FactsStore
from service.settings import Settings, get_settings
from service.state import AppState

log = logging.getLogger("casedigest")


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the app; `settings` defaults to the environment's."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The segmenter and the engine are built here, at start-up, never on a first request.
        state = AppState.start(settings)
        # Sync routes (every read) run in AnyIO's thread pool; a small pool leaves the writer
        # thread its share of the interpreter lock (service/write_path.py).
        to_thread.current_default_thread_limiter().total_tokens = settings.read_threads
        if state.search is not None and settings.load_fixtures:
            with state.writes.store_lock():  # several workers may start on one empty store
                loaded = load_fixtures_if_empty(state.search.engine, settings.fixtures_path)
            if loaded:
                log.info("loaded %d demo records from %s", loaded, settings.fixtures_path)
        app.state.casedigest = state
        try:
            yield
        finally:
            state.close()

    app = FastAPI(
        title="casedigest — 有组织犯罪案例摘要检索",
        version="0.1.0",
        description="全文检索有组织犯罪案例摘要与《联合国打击跨国有组织犯罪公约》缔约方会议决议段落，可按犯罪形式筛选。",
        lifespan=lifespan,
        docs_url=None,  # served from local files by install_api_docs, with the pages' CSP
        redoc_url=None,
    )
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "DELETE"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
        )
    install_error_handlers(app)
    app.add_middleware(RequestTargetLimit)
    app.add_middleware(UnexpectedErrors)  # added last, so outermost: it also covers the others
    reads = read_dependencies(settings)  # empty unless reads require a key
    app.include_router(search.router, dependencies=reads)
    app.include_router(records.router, dependencies=reads)
    app.include_router(similar.router, dependencies=reads)
    app.include_router(writes.router)  # each write checks the key's role itself
    app.include_router(health.router)  # probes stay open
    app.include_router(web.router, dependencies=reads)  # the search page, on the same core
    app.include_router(signin.router)  # the pages' sign-in stays open, as the probes do
    app.include_router(similar_web.router, dependencies=reads)  # 类案检索 and its report
    app.state.similar_facts = FactsStore(settings.pasted_facts_path())
    web.mount_static(app)
    describe_responses(app)  # OpenAPI: the real error statuses and media types, not FastAPI's 422
    install_api_docs(app)
    return app
