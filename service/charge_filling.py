"""Predicted charges for cases written over HTTP without charges, as `casedigest load` gives them.

A portal that posts a case without the court's charges gets, like a librarian's file load, the
charges the index's charge model predicts for its facts (`indexing/similar/charge_fill.py`),
kept apart from `charges`. When the model is ready the cases are filled before the answer, on
the write path; while it is still being trained (a freshly started process) they are filled by
this process once it is ready. Cases left unfilled (the process stopped first, or too few
charged cases to learn from) are filled by `casedigest predict-charges`.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Iterable

from indexing.core.search import SearchService
from indexing.errors import CasedigestError
from indexing.similar.charge_fill import predict_missing_charges
from service.write_path import WritePath, finish_writes

log = logging.getLogger("casedigest")

# How often a deferred fill asks whether the model has been trained.
POLL_SECONDS = 1.0
# At most this many cases are filled before the answer (a few seconds); a larger bulk load is
# answered at once and filled afterwards.
FILL_BEFORE_ANSWER = 1_000
# Cases filled per turn on the write path, so other writes are not held up behind a long fill.
FILL_BATCH = 500


class ChargeFiller:
    """Fills the predicted charges of cases just written, now or once the model is ready."""

    def __init__(self, writes: WritePath) -> None:
        self.writes = writes
        self._pending: set[asyncio.Task[None]] = set()

    async def after_write(self, service: SearchService, record_ids: Iterable[str], actor: str) -> int | None:
        """How many of the cases `record_ids` got predicted charges now; None when filled later."""
        ids = sorted(set(record_ids))
        if not ids:
            return 0
        if len(ids) <= FILL_BEFORE_ANSWER and await self.writes.call(service.charge_predictor.ready, 0):
            try:
                return await self._fill(service, ids, actor)
            except CasedigestError as exc:  # the cases are stored; their prediction can wait
                log.warning("predicted charges not written: %s", exc.message)
                return None
        task = asyncio.create_task(self._fill_when_ready(service, ids, actor))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)
        return None

    async def _fill_when_ready(self, service: SearchService, ids: list[str], actor: str) -> None:
        predictor = service.charge_predictor
        while not await self.writes.call(predictor.ready, 0):
            if not predictor.training:  # nothing to learn from yet: `casedigest predict-charges` later
                return
            await asyncio.sleep(POLL_SECONDS)
        try:
            filled = await self._fill(service, ids, actor)
        except CasedigestError as exc:
            log.warning("predicted charges not written: %s", exc.message)
            return
        log.info("predicted the charges of %d cases written without them", filled)

    async def _fill(self, service: SearchService, ids: list[str], actor: str) -> int:
        filled = 0
        for start in range(0, len(ids), FILL_BATCH):
            filled += await self.writes.write(_fill, service, ids[start : start + FILL_BATCH], actor)
        return filled

    def close(self) -> None:
        """Drop the fills still waiting for a model (the process is stopping)."""
        for task in list(self._pending):
            task.cancel()


def _fill(service: SearchService, ids: list[str], actor: str) -> int:
    try:
        return predict_missing_charges(service, ids, actor)
    finally:
        finish_writes(service.engine)
