"""Resources the app holds for its lifetime: the segmenter, the engine, the search core."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from indexing.engines.base import Engine
from indexing.errors import CasedigestError, EngineUnavailable
from indexing.search import SearchService
from indexing.segmenter import Segmenter
from service.settings import Settings

log = logging.getLogger("casedigest")


def open_engine(settings: Settings, segmenter: Segmenter) -> Engine:
    """The engine the settings name."""
    if settings.engine == "embedded":
        from indexing.engines.embedded import EmbeddedEngine

        return EmbeddedEngine(settings.data_path, segmenter)
    raise EngineUnavailable(
        f"engine {settings.engine!r} is not available in this version", {"engine": settings.engine}
    )


@dataclass
class AppState:
    settings: Settings
    segmenter: Segmenter
    search: SearchService | None
    engine_error: CasedigestError | None = None

    @classmethod
    def start(cls, settings: Settings) -> "AppState":
        segmenter = Segmenter()
        try:
            engine = open_engine(settings, segmenter)
        except CasedigestError as exc:
            log.error("engine not available: %s", exc.message)
            return cls(settings, segmenter, None, exc)
        return cls(settings, segmenter, SearchService(engine, segmenter))

    def close(self) -> None:
        if self.search is not None:
            self.search.engine.close()


def get_state(request: Request) -> AppState:
    return request.app.state.casedigest  # type: ignore[no-any-return]


def get_search(state: Annotated[AppState, Depends(get_state)]) -> SearchService:
    if state.search is None:
        error = state.engine_error or EngineUnavailable("the search engine is not available")
        raise error
    return state.search


Search = Annotated[SearchService, Depends(get_search)]
State = Annotated[AppState, Depends(get_state)]
