"""Elasticsearch's flood-stage write block (a node's disk nearly full) is a 507, not a 503.

Elasticsearch blocks writes to an index (`index.blocks.read_only_allow_delete`) when a node's
disk passes its flood-stage watermark, and lifts the block itself once space is back. The test
makes a real node's disk "full" by asking for more free space than any disk has (watermarks
of a petabyte), lets the node's own disk monitor block the index, and lifts the watermarks
again afterwards (a write first retries for about 30 s, as with any 429).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import SAMPLE, discard, engine_settings
from indexing.engines.elastic.engine import ElasticEngine
from indexing.records.model import parse_record
from indexing.text.segmenter import Segmenter
from service.app import create_app
from service.auth import create_key
from service.state import open_engine

BLOCK = "index.blocks.read_only_allow_delete"
WATERMARKS = ("low", "high", "flood_stage")


def disk_settings(value: str | None) -> dict[str, str | None]:
    """Watermarks as free space a node must keep, checked every 10 s (None: as the node started)."""
    out: dict[str, str | None] = {f"cluster.routing.allocation.disk.watermark.{w}": value for w in WATERMARKS}
    out["cluster.info.update.interval"] = "10s" if value else None  # its shortest
    # the project's node starts with the monitor off (scripts/elasticsearch.sh); turned on here
    out["cluster.routing.allocation.disk.threshold_enabled"] = "true" if value else None
    return out


def blocked_now(engine: ElasticEngine) -> bool:
    settings = engine.client.indices.get_settings(index=engine.alias, name=BLOCK).body
    return any(s["settings"] for s in settings.values())


def wait_for(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the node's disk monitor did not act in time"
        time.sleep(0.5)


@pytest.fixture
def blocked(request: pytest.FixtureRequest, segmenter: Segmenter, tmp_path: Path) -> Iterator[tuple[ElasticEngine, str]]:
    """An index holding two records, blocked by its node's disk monitor past the flood stage;
    and a librarian key made before (keys are written too)."""
    engine = open_engine(engine_settings("elasticsearch", request, tmp_path), segmenter)
    assert isinstance(engine, ElasticEngine)
    engine.upsert([parse_record(r) for r in SAMPLE[:2]])
    engine.finish_writes()
    key = create_key(engine, "lib-flood", "librarian")
    try:
        engine.client.cluster.put_settings(persistent=disk_settings("1pb"))
        wait_for(lambda: blocked_now(engine))
        yield engine, key
    finally:
        engine.client.cluster.put_settings(persistent=disk_settings(None))
        wait_for(lambda: not blocked_now(engine))
        discard(engine)


def test_a_blocked_index_answers_507_keeps_reading_and_writes_once_lifted(
    blocked: tuple[ElasticEngine, str], request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    engine, key = blocked
    settings = engine_settings("elasticsearch", request, tmp_path, load_fixtures=False)
    settings = settings.model_copy(update={"elasticsearch_index": engine.alias})
    record = {"id": "flood-1", "title": "满盘测试", "summary": "磁盘将满时经接口写入的记录。", "country": "CN"}
    headers = {"Authorization": f"Bearer {key}"}
    with TestClient(create_app(settings)) as client:
        refused = client.post("/v1/cases", json=record, headers=headers)
        assert refused.status_code == 507, refused.text
        assert refused.json()["error"]["code"] == "storage_full"
        assert "flood-stage watermark" in refused.json()["error"]["message"]
        assert client.get("/v1/cases/flood-1").status_code == 404  # nothing was written
        assert client.get(f"/v1/cases/{SAMPLE[0]['id']}").status_code == 200  # reads go on
        engine.client.cluster.put_settings(persistent=disk_settings(None))
        wait_for(lambda: not blocked_now(engine))  # space is back: the node lifts the block itself
        assert client.post("/v1/cases", json=record, headers=headers).status_code == 201
