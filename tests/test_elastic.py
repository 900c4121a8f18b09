"""What only the Elasticsearch engine has: the alias, client-side reindex, bulk loading."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import pytest
from elasticsearch import Elasticsearch

from conftest import CAIL, discard, engine_settings, sample_records
from indexing.engines.elastic import ElasticEngine, _decode_after, latest_mapping
from indexing.errors import InvalidCursor
from indexing.search import SearchRequest, SearchService
from indexing.segmenter import Segmenter
from service.state import open_engine

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def elastic(request: pytest.FixtureRequest, segmenter: Segmenter, tmp_path: Path) -> Iterator[ElasticEngine]:
    engine = open_engine(engine_settings("elasticsearch", request, tmp_path), segmenter)
    assert isinstance(engine, ElasticEngine)
    yield engine
    discard(engine)


def test_reads_and_writes_go_through_a_versioned_alias(elastic: ElasticEngine) -> None:
    version, definition = latest_mapping()
    index = elastic.current_index()
    assert index.startswith(f"{elastic.alias}-v{version}-")
    mapping = elastic.client.indices.get_mapping(index=index)[index]["mappings"]
    assert mapping["properties"]["summary_w"]["analyzer"] == "whitespace"
    assert mapping["dynamic"] == definition["mappings"]["dynamic"]


def test_index_holds_the_same_tokens_as_the_embedded_engine(elastic: ElasticEngine, segmenter: Segmenter) -> None:
    from indexing.documents import units_for

    record = sample_records()[0]
    elastic.upsert([record])
    unit = units_for(record, segmenter)[0]
    tokens = unit.words["summary"].split(" ")
    analyzed = elastic.client.indices.analyze(index=elastic.alias, field="summary_w", text=unit.words["summary"])
    assert [t["token"] for t in analyzed["tokens"]] == tokens  # the field keeps our tokens as they are

    def found(token: str) -> bool:
        query = {"bool": {"filter": [{"term": {"summary_w": token}}, {"term": {"unit_id": record.id}}]}}
        return elastic.client.count(index=elastic.alias, query=query)["count"] == 1

    assert all(found(t) for t in set(tokens))
    assert not found("甲") and not found("告人")  # a character, and characters jieba did not make a word
    stored = elastic.client.get(index=elastic.alias, id=record.id)["_source"]
    assert "summary_w" not in stored and stored["record"]["id"] == record.id  # tokens are not stored


def test_reindex_swaps_alias_while_searches_keep_answering(elastic: ElasticEngine, segmenter: Segmenter) -> None:
    records = sample_records()
    elastic.upsert(records)
    service = SearchService(elastic, segmenter)
    before = elastic.current_index()
    failures: list[str] = []
    answers: list[int] = []
    stop = threading.Event()

    def search_loop() -> None:
        deadline = time.time() + 60
        while not stop.is_set() and time.time() < deadline:
            try:
                answers.append(service.search(SearchRequest(q="毒品")).total)
            except Exception as exc:  # noqa: BLE001 - a failure is what the test counts
                failures.append(repr(exc))

    thread = threading.Thread(target=search_loop)
    thread.start()
    time.sleep(0.3)
    old, new, count = elastic.reindex()
    time.sleep(0.3)
    stop.set()
    thread.join()
    assert (old, count) == (before, len(records))
    assert elastic.current_index() == new != old
    assert not elastic.client.indices.exists(index=old)
    assert failures == [] and len(answers) > 5 and set(answers) == {3}
    assert service.search(SearchRequest(q="冰毒")).hits[0].id == "t-drugs-1"


def test_cursor_pages_through_point_in_time(elastic: ElasticEngine, segmenter: Segmenter) -> None:
    elastic.upsert(sample_records())
    service = SearchService(elastic, segmenter)
    first = service.search(SearchRequest(size=5))
    second = service.search(SearchRequest(size=5, cursor=first.next_cursor))
    assert second.next_cursor is not None
    cursor = second.next_cursor
    position = _decode_after(json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["a"])
    assert position["pit"]  # later pages read one consistent point in time
    elastic.client.close_point_in_time(id=position["pit"])
    with pytest.raises(InvalidCursor):
        service.search(SearchRequest(size=5, cursor=second.next_cursor))


def test_bulk_load_of_real_cases_by_cli(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    settings = engine_settings("elasticsearch", request, tmp_path)
    sample = tmp_path / "cail.jsonl"
    sample.write_text("".join(CAIL.read_text("utf-8").splitlines(keepends=True)[:1200]), "utf-8")
    env = {**os.environ, "CASEDIGEST_ENGINE": "elasticsearch", "CASEDIGEST_ELASTICSEARCH_URL": settings.elasticsearch_url,
           "CASEDIGEST_ELASTICSEARCH_INDEX": settings.elasticsearch_index}
    cli = [sys.executable, "-c", "from service.cli import main; main()"]
    loaded = subprocess.run([*cli, "load", str(sample), "--mapping", str(ROOT / "indexing/field_maps/cail2018.toml")],
                            env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert loaded.returncode == 0, loaded.stderr
    assert json.loads(loaded.stdout.splitlines()[-1])["inserted"] == 1200
    again = subprocess.run([*cli, "load", str(sample), "--mapping", str(ROOT / "indexing/field_maps/cail2018.toml")],
                           env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert json.loads(again.stdout.splitlines()[-1])["unchanged"] == 1200
    reindexed = subprocess.run([*cli, "reindex"], env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert reindexed.returncode == 0, reindexed.stderr
    assert json.loads(reindexed.stdout.splitlines()[-1])["records"] == 1200
    stats = json.loads(subprocess.run([*cli, "stats"], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path).stdout)
    assert stats["engine"] == "elasticsearch" and stats["records"] == {"case": 1200}
    client = Elasticsearch(settings.elasticsearch_url)
    for index in client.indices.get_alias(name=settings.elasticsearch_index):
        client.indices.delete(index=index)


def test_reindex_is_refused_on_the_embedded_engine(tmp_path: Path) -> None:
    env = {**os.environ, "CASEDIGEST_DATA_PATH": str(tmp_path / "db.sqlite3")}
    result = subprocess.run([sys.executable, "-c", "from service.cli import main; main()", "reindex"],
                            env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert result.returncode == 1 and "Elasticsearch engine" in result.stderr
