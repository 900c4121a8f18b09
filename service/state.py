"""Resources the app holds for its lifetime: the segmenter, the engine, the search core."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from indexing.engines.base import Engine
from indexing.errors import CasedigestError, EngineUnavailable
from indexing.core.search import SearchService
from indexing.text.segmenter import Segmenter
from service.settings import Settings
from service.charge_filling import ChargeFiller
from service.write_path import WritePath

if TYPE_CHECKING:
    from elasticsearch import Elasticsearch

log = logging.getLogger("casedigest")


def open_engine(settings: Settings, segmenter: Segmenter) -> Engine:
    """The engine the settings name."""
    if settings.engine == "embedded":
        from indexing.engines.embedded import EmbeddedEngine

        return EmbeddedEngine(settings.data_path, segmenter, workers=settings.segmentation_workers)
    from indexing.engines.elastic.engine import ElasticEngine

    return ElasticEngine(
        elasticsearch_client(settings),
        segmenter,
        alias=settings.elasticsearch_index,
        shards=settings.elasticsearch_shards,
        replicas=settings.elasticsearch_replicas,
        workers=settings.segmentation_workers,
    )


def elasticsearch_client(settings: Settings) -> "Elasticsearch":
    """A client for the configured nodes: retries on another node, bounded timeouts."""
    from elasticsearch import Elasticsearch
    from elasticsearch.serializer import OrjsonSerializer

    options: dict[str, object] = {
        "request_timeout": settings.elasticsearch_timeout,
        "retry_on_timeout": True,
        "max_retries": 3,
        # orjson: bulk bodies and search answers are encoded and decoded several times faster
        "serializer": OrjsonSerializer(),
    }
    if settings.elasticsearch_api_key:
        options["api_key"] = settings.elasticsearch_api_key
    elif settings.elasticsearch_username:
        options["basic_auth"] = (settings.elasticsearch_username, settings.elasticsearch_password or "")
    if settings.elasticsearch_ca_certs:
        options["ca_certs"] = str(settings.elasticsearch_ca_certs)
    urls = [u.strip() for u in settings.elasticsearch_url.split(",") if u.strip()]
    return Elasticsearch(urls, **options)  # type: ignore[arg-type]


RETRY_ENGINE_SECONDS = 5.0


def store_lock_path(settings: Settings) -> Path | None:
    """The file whose lock lets one process at a time write the embedded store; None for Elasticsearch."""
    if settings.engine != "embedded":
        return None
    return settings.data_path.with_name(settings.data_path.name + ".write-lock")


@dataclass
class AppState:
    settings: Settings
    segmenter: Segmenter
    search: SearchService | None
    engine_error: CasedigestError | None = None
    last_attempt: float = 0.0
    writes: WritePath = field(default_factory=WritePath)
    charge_filler: ChargeFiller = field(init=False)

    def __post_init__(self) -> None:
        self.charge_filler = ChargeFiller(self.writes)

    @classmethod
    def start(cls, settings: Settings) -> "AppState":
        segmenter = Segmenter(cutter=settings.segmenter)
        state = cls(settings, segmenter, None, writes=WritePath(store_lock_path(settings)))
        state.reconnect()
        return state

    def reconnect(self) -> SearchService | None:
        """Open the engine if it is not open; a failed attempt is retried after a pause.

        A service started while its cluster was down recovers by itself once the cluster
        answers, instead of staying at 503 until restarted.
        """
        if self.search is None and time.monotonic() - self.last_attempt >= RETRY_ENGINE_SECONDS:
            self.last_attempt = time.monotonic()
            try:
                # Opening may replay pending writes: not while another worker process writes.
                with self.writes.store_lock():
                    engine = open_engine(self.settings, self.segmenter)
                self.search = SearchService(engine, self.segmenter, cursor_secret=self.settings.cursor_secret)
                self.engine_error = None
            except CasedigestError as exc:
                log.error("engine not available: %s", exc.message)
                self.engine_error = exc
        return self.search

    def close(self) -> None:
        self.charge_filler.close()
        self.writes.close()  # the write in progress ends first
        if self.search is not None:
            self.search.engine.close()


def get_state(request: Request) -> AppState:
    return request.app.state.casedigest  # type: ignore[no-any-return]


def get_search(state: Annotated[AppState, Depends(get_state)]) -> SearchService:
    search = state.reconnect()
    if search is None:
        raise state.engine_error or EngineUnavailable("the search engine is not available")
    return search


async def get_write_search(request: Request) -> SearchService:
    """The search core for a write route.

    A coroutine, so FastAPI resolves it on the event loop: a write never waits for a thread of
    the pool that serves reads. Reconnecting (rare) runs on the writer thread.
    """
    state = get_state(request)
    search = state.search or await state.writes.call(state.reconnect)
    if search is None:
        raise state.engine_error or EngineUnavailable("the search engine is not available")
    return search


async def get_write_path(request: Request) -> WritePath:
    return get_state(request).writes


async def get_charge_filler(request: Request) -> ChargeFiller:
    return get_state(request).charge_filler


Search = Annotated[SearchService, Depends(get_search)]
WriteSearch = Annotated[SearchService, Depends(get_write_search)]
Writes = Annotated[WritePath, Depends(get_write_path)]
Filler = Annotated[ChargeFiller, Depends(get_charge_filler)]
State = Annotated[AppState, Depends(get_state)]
