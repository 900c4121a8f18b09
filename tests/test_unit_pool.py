"""Segmenting a large batch in worker processes gives exactly the units of one process."""

from __future__ import annotations

import json

from pathlib import Path

from conftest import CAIL
from indexing.documents import units_for
from indexing.field_map import FieldMap
from indexing.records import parse_record
from indexing.segmenter import Segmenter
from indexing.unit_pool import MIN_PARALLEL_BATCH, UnitPool

FIELD_MAP = Path(__file__).resolve().parents[1] / "indexing/field_maps/cail2018.toml"


def _real_records(n: int) -> list:
    field_map = FieldMap.load(FIELD_MAP)
    with CAIL.open(encoding="utf-8") as lines:
        rows = [json.loads(line) for _, line in zip(range(n), lines)]
    return [parse_record(field_map.apply(row)) for row in rows]


def test_workers_cut_exactly_as_this_process_does(segmenter: Segmenter) -> None:
    records = _real_records(MIN_PARALLEL_BATCH + 100)
    pool = UnitPool(segmenter, workers=2)
    try:
        assert list(pool.units(records)) == [units_for(r, segmenter) for r in records]
        assert pool._pool is not None  # the batch was large enough for the workers
    finally:
        pool.close()


def test_a_killed_worker_does_not_lose_a_record(segmenter: Segmenter) -> None:
    records = _real_records(MIN_PARALLEL_BATCH + 100)
    pool = UnitPool(segmenter, workers=2)
    try:
        made = pool.units(records)
        first = next(made)
        for process in list(pool._pool._processes.values()):  # type: ignore[union-attr]
            process.kill()
        rest = list(made)
        assert [first, *rest] == [units_for(r, segmenter) for r in records]
        assert pool.workers == 1 and pool._pool is None  # carries on in this process from now on
    finally:
        pool.close()


def test_small_batches_stay_in_this_process(segmenter: Segmenter) -> None:
    pool = UnitPool(segmenter, workers=2)
    records = _real_records(10)
    assert list(pool.units(records)) == [units_for(r, segmenter) for r in records]
    assert pool._pool is None
