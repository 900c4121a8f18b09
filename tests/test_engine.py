"""Engine storage: upsert by id, delete, idempotent reloads (both engines); crash recovery (embedded)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CAIL, ENGINES, discard, engine_settings, sample_records
from indexing.engines.base import Engine
from indexing.engines.embedded import EmbeddedEngine
from indexing.query.model import EngineQuery, MatchAll, Term
from indexing.records.model import parse_record
from indexing.text.segmenter import Segmenter
from service.state import open_engine


def total(engine: Engine, word: str | None = None) -> int:
    match = Term(word) if word else MatchAll()
    return engine.search(EngineQuery(match=match, size=1)).total


def test_upsert_update_unchanged_delete(engine: Engine) -> None:
    records = sample_records()
    assert set(engine.upsert(records)) == {"inserted"}
    assert set(engine.upsert(records)) == {"unchanged"}
    changed = parse_record({"id": "t-drugs-1", "title": "王某贩卖毒品案", "summary": "改写后的摘要：贩卖大麻。"})
    assert engine.upsert([changed]) == ["updated"]
    assert total(engine, "大麻") == 1 and total(engine, "冰毒") == 0  # old tokens are gone
    assert engine.delete(["t-drugs-1", "never-existed"]) == 1
    assert engine.get("t-drugs-1") is None and total(engine, "大麻") == 0
    # a resolution's paragraphs go with it
    assert engine.delete(["t-res-6-1"]) == 1
    assert total(engine) == len(records) - 2


def test_pending_writes_are_replayed_on_open(segmenter: Segmenter, tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    engine = EmbeddedEngine(path, segmenter)
    engine.upsert(sample_records())
    engine.close()
    # Simulate a crash between the record commit and the index commit.
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("UPDATE records SET json = replace(json, '冰毒', '摇头丸') WHERE id = 't-drugs-1'")
        db.execute("INSERT INTO pending(id) VALUES ('t-drugs-1')")
    reopened = EmbeddedEngine(path, segmenter)
    assert total(reopened, "摇头丸") == 1 and total(reopened, "冰毒") == 0
    reopened.close()


def test_lost_index_is_rebuilt_from_records(segmenter: Segmenter, tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    engine = EmbeddedEngine(path, segmenter)
    engine.upsert(sample_records())
    engine.close()
    import shutil

    shutil.rmtree(tmp_path / "db.sqlite3.index")
    rebuilt = EmbeddedEngine(path, segmenter)
    assert total(rebuilt) == 11 and total(rebuilt, "冰毒") == 1
    rebuilt.close()


@pytest.mark.real_data
@pytest.mark.parametrize("kind", ENGINES)
def test_kill_9_during_load_then_reload_gives_exactly_the_input(
    kind: str, segmenter: Segmenter, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    sample = tmp_path / "cail.jsonl"
    # Every real case: the load is several writes long, so the kill lands between two of them
    # however fast the loader is.
    lines = CAIL.read_text("utf-8").splitlines(keepends=True)
    sample.write_text("".join(lines), "utf-8")
    settings = engine_settings(kind, request, tmp_path)
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root), "CASEDIGEST_ENGINE": kind,
           "CASEDIGEST_DATA_PATH": str(settings.data_path),
           "CASEDIGEST_ELASTICSEARCH_URL": settings.elasticsearch_url,
           "CASEDIGEST_ELASTICSEARCH_INDEX": settings.elasticsearch_index}
    command = [sys.executable, "-c", "from service.cli import main; main()", "load", str(sample),
               "--mapping", str(root / "indexing/field_maps/cail2018.toml"), "--quiet"]
    engine = open_engine(settings, segmenter)
    try:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path)
        # kill -9 once part of the input is in (some records written, most not)
        deadline = time.time() + 120
        while time.time() < deadline and process.poll() is None and written(engine) < 300:
            time.sleep(0.2)
        process.send_signal(signal.SIGKILL)
        process.wait()
        written_before = written(engine)
        assert 0 < written_before < len(lines), "the kill must land in the middle of the load"
        subprocess.run(command, env=env, check=True, timeout=600, cwd=tmp_path)
        fresh = open_engine(settings, segmenter)  # a new process would open it like this
        assert fresh.count_records() == {"case": len(lines)}
        assert total(fresh) == len(lines)  # one index unit per record: none missing, none doubled
        ids = [json.loads(line)["id"] for line in sample.read_text("utf-8").splitlines()]
        assert set(fresh.get_many(ids[::50])) == set(ids[::50])
        fresh.close()
    finally:
        discard(engine)


def written(engine: Engine) -> int:
    """Records stored so far by another process; a bulk load on Elasticsearch pauses
    scheduled refreshes, so make what it wrote visible first."""
    engine.finish_writes()
    return sum(engine.count_records().values())


@pytest.mark.real_data
def test_real_resolution_is_searchable_paragraph_by_paragraph(engine: Engine, segmenter: Segmenter) -> None:
    from conftest import SEED
    from indexing.records.enrich import with_inferred_forms
    from indexing.records.resolution_parser import parse_resolution_text
    from indexing.core.models import SearchRequest
    from indexing.core.search import SearchService

    record = with_inferred_forms(parse_resolution_text(SEED.read_text("utf-8"), record_id="ctoc-cop-6-1"))
    assert {"cybercrime", "piracy", "organs", "cultural_property"} <= set(record.crime_form_codes)
    engine.upsert([record])
    hits = SearchService(engine, segmenter).search(SearchRequest(q="贩运器官 网络犯罪")).hits
    assert hits and hits[0].resolution is not None and hits[0].resolution.paragraph is not None
    assert (hits[0].resolution.number, hits[0].resolution.paragraph.number) == ("6/1", 16)
    assert "<sup>" not in "".join(hits[0].highlights)
