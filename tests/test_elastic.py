"""What only the Elasticsearch engine has: the alias, client-side reindex, bulk loading."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import pytest
from elasticsearch import Elasticsearch

from conftest import CAIL, cail_records, discard, engine_settings, sample_records
from indexing.engines.elastic.engine import ElasticEngine
from indexing.engines.elastic.query import decode_after
from indexing.engines.elastic.index import latest_mapping
from indexing.errors import InvalidCursor
from indexing.core.models import SearchRequest
from indexing.core.search import SearchService
from indexing.text.segmenter import Segmenter
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
    from indexing.engines.units import units_for

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
    payload = cursor.split(".")[0]  # a signed cursor: base64 JSON payload "." signature
    position = decode_after(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["a"])
    assert position["pit"]  # later pages read one consistent point in time
    elastic.client.close_point_in_time(id=position["pit"])
    with pytest.raises(InvalidCursor):
        service.search(SearchRequest(size=5, cursor=second.next_cursor))


@pytest.mark.real_data
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


def test_hits_carry_their_records_and_totals_hold_under_every_filter(elastic: ElasticEngine) -> None:
    from indexing.query.model import FACET_NAMES, EngineQuery, FacetRequest, Filters, MatchAll

    records = sample_records()
    elastic.upsert(records)
    facets = tuple(FacetRequest(name, 50) for name in FACET_NAMES)
    answer = elastic.search(EngineQuery(match=MatchAll(), size=50, facets=facets, with_records=True))
    stored = elastic.get_many([h.record_id for h in answer.hits])
    with_record = [h for h in answer.hits if h.record is not None]
    assert {h.record_id for h in with_record} == {r.id for r in records}  # every record unit brings its record
    assert all(h.record == stored[h.record_id] for h in with_record)
    assert all(h.record is None for h in elastic.search(EngineQuery(match=MatchAll(), size=50)).hits)

    # The total comes from the facet request that matches what the hits do, or from the hits
    # themselves when every facet has a filter of its own; both must count exactly.
    case = next(r for r in records if r.doc_type == "case" and r.country and r.court and r.charges and r.year)
    one = Filters(crime_form=(case.crime_form_codes[0],), doc_type=("case",))
    every = Filters(
        crime_form=(case.crime_form_codes[0],), doc_type=("case",), country=(case.country,), court=(case.court,),
        charge=(case.charges[0],), year_from=case.year, year_to=case.year,
    )
    for filters in (one, every):
        expected = sum(1 for h in answer.hits if _passes(h.record or stored.get(h.record_id), filters))
        faceted = elastic.search(EngineQuery(match=MatchAll(), filters=filters, size=1, facets=facets))
        bare = elastic.search(EngineQuery(match=MatchAll(), filters=filters, size=1))
        assert faceted.total == bare.total >= 1
        assert faceted.total == expected
    assert dict(faceted.facets["doc_type"]) == {"case": faceted.total}


def _passes(record, filters) -> bool:  # type: ignore[no-untyped-def]
    if record is None or record.doc_type != "case":
        return False
    year = record.year
    return (
        set(filters.crime_form) <= set(record.crime_form_codes)
        and (not filters.doc_type or record.doc_type in filters.doc_type)
        and (not filters.country or record.country in filters.country)
        and (not filters.court or record.court in filters.court)
        and (not filters.charge or set(filters.charge) & set(record.charges))
        and (filters.year_from is None or (year is not None and filters.year_from <= year <= filters.year_to))
    )


def test_a_failed_bulk_sender_stops_the_load_without_hanging(elastic: ElasticEngine) -> None:
    from elasticsearch import Elasticsearch as Client

    from indexing.errors import EngineUnavailable

    produced = 0

    def actions() -> Iterator[dict]:
        nonlocal produced
        for i in range(5000):  # more than the queue between the two threads holds
            produced += 1
            yield {"_op_type": "index", "_index": elastic.alias, "_id": f"x{i}", "_source": {"unit_id": f"x{i}"}}

    live = elastic.client
    elastic.client = Client("http://127.0.0.1:9", request_timeout=2, max_retries=0)  # nothing listens there
    try:
        started = time.monotonic()
        with pytest.raises(EngineUnavailable, match="cannot be reached"):
            elastic._run_bulk(actions())
        assert time.monotonic() - started < 30 and produced < 5000  # stopped early, did not hang
    finally:
        elastic.client.close()
        elastic.client = live


def test_an_error_while_preparing_actions_keeps_what_was_sent(elastic: ElasticEngine) -> None:
    def actions() -> Iterator[dict]:
        for i in range(1200):
            yield {"_op_type": "index", "_index": elastic.alias, "_id": f"p{i}",
                   "_source": {"unit_id": f"p{i}", "record_id": f"p{i}"}}
        raise ValueError("a record could not be segmented")

    with pytest.raises(ValueError, match="could not be segmented"):
        elastic._run_bulk(actions())
    elastic.client.indices.refresh(index=elastic.alias)
    # every action prepared before the error was written, in order; nothing after it
    assert elastic.client.count(index=elastic.alias, query={"prefix": {"unit_id": "p"}})["count"] == 1200


@pytest.mark.real_data
def test_a_bulk_load_pauses_scheduled_refreshes_until_it_finishes(
    elastic: ElasticEngine, segmenter: Segmenter, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from indexing.engines.unit_pool import MIN_PARALLEL_BATCH

    def interval() -> str | None:
        settings = elastic.client.indices.get_settings(index=elastic.alias, name="index.refresh_interval")
        found = [s["settings"]["index"]["refresh_interval"] for s in settings.values() if s.get("settings")]
        return found[0] if found else None

    records = cail_records(MIN_PARALLEL_BATCH)
    elastic.upsert(records)
    assert interval() == "-1"  # a few large segments, not one per second
    elastic.finish_writes()
    assert interval() is None  # back to the node's default
    service = SearchService(elastic, segmenter)
    assert service.search(SearchRequest(size=1)).total == len(records)

    # A load that dies before finishing leaves refreshes paused; the next open resumes them.
    elastic.upsert([r.model_copy(update={"summary": r.summary + "（补正）"}) for r in records])
    assert interval() == "-1"
    settings = engine_settings("elasticsearch", request, tmp_path).model_copy(update={"elasticsearch_index": elastic.alias})
    reopened = open_engine(settings, segmenter)
    try:
        assert interval() is None
    finally:
        reopened.close()



@pytest.mark.real_data
def test_a_large_load_is_merged_into_one_segment_and_a_small_one_is_not(elastic: ElasticEngine) -> None:
    from indexing.engines.unit_pool import MIN_PARALLEL_BATCH

    def segments() -> int:
        rows = elastic.client.cat.segments(index=elastic.alias, format="json")
        return len({(r["shard"], r["segment"]) for r in rows if r.get("searchable") == "true"})

    records = cail_records(4 * MIN_PARALLEL_BATCH)
    # batches below the bulk size, each refreshed as soon as it is written: several segments
    for start in range(0, 4 * MIN_PARALLEL_BATCH, MIN_PARALLEL_BATCH - 1):
        elastic.upsert(records[start : start + MIN_PARALLEL_BATCH - 1])
    assert segments() > 1
    assert elastic.merge_after_load(len(records))
    deadline = time.monotonic() + 60
    while segments() > 1 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert segments() == 1
    assert elastic.client.count(index=elastic.alias)["count"] == len(records)
    # a load that writes a small part of the index leaves the merging to the node
    assert not elastic.merge_after_load(len(records) // 5)
    # finish_writes asks for the merge after a bulk load through upsert
    asked: list[int] = []
    merge = elastic.merge_after_load
    elastic.merge_after_load = lambda loaded: asked.append(loaded) or merge(loaded)  # type: ignore[method-assign]
    updated = [r.model_copy(update={"summary": r.summary + "（补正）"}) for r in records[:MIN_PARALLEL_BATCH]]
    elastic.upsert(updated)
    elastic.finish_writes()
    assert asked == [MIN_PARALLEL_BATCH]
    elastic.upsert(updated[:3])  # nothing loaded in bulk: no merge is considered
    elastic.finish_writes()
    assert asked == [MIN_PARALLEL_BATCH]



BROAD_REQUESTS = [
    SearchRequest(q="被告人"),
    SearchRequest(q='"被告人"'),
    SearchRequest(q="被告人 NOT 自首"),
    SearchRequest(q="被告人", crime_form=["money_laundering", "drugs"]),
    SearchRequest(q="被告人", charge=["诈骗", "盗窃"]),
    SearchRequest(q="被告人", doc_type=["case"], charge=["故意伤害"], facet_size=3),
]


@pytest.mark.real_data
def test_broad_matches_count_facets_as_everything_minus_the_rest(
    elastic: ElasticEngine, segmenter: Segmenter, monkeypatch: pytest.MonkeyPatch
) -> None:
    import indexing.engines.elastic.engine as engine_module
    import indexing.engines.elastic.facets as facets_module
    from indexing.query.model import FACET_NAMES, EngineQuery, FacetRequest, Term

    elastic.upsert(cail_records(1500) + sample_records())
    elastic.finish_writes()
    service = SearchService(elastic, segmenter, df_cache_seconds=0)
    parts: list[int] = []
    msearch = elastic.client.msearch

    def counted(**kwargs):  # type: ignore[no-untyped-def]  # the real node answers
        parts.append(len(kwargs["searches"]) // 2)
        return msearch(**kwargs)

    monkeypatch.setattr(elastic.client, "msearch", counted)

    def answers() -> list[tuple]:
        out = []
        for request in BROAD_REQUESTS:
            result = service.search(request)
            out.append((result.total, [h.id for h in result.hits], result.model_dump()["facets"]))
        return out

    broad = answers()
    broad_parts = list(parts)
    monkeypatch.setattr(engine_module, "BROAD_MATCH_SHARE", 2.0)  # never broad: one request per group
    parts.clear()
    plain = answers()
    assert broad == plain
    assert all(total > 0 for total, _, _ in plain)
    assert sum(broad_parts) > sum(parts)  # the broad way was taken: two requests per facet group
    # A bucket list cut short cannot give an exact difference: the group is counted plainly.
    monkeypatch.setattr(engine_module, "BROAD_MATCH_SHARE", 0.7)
    monkeypatch.setattr(facets_module, "ALL_BUCKETS", 1)
    assert answers() == plain

    # Excluded records (related cases) stay out of both counts.
    monkeypatch.setattr(facets_module, "ALL_BUCKETS", 10_000)
    excluded = tuple(r.id for r in cail_records(40))
    facets = tuple(FacetRequest(name, 20) for name in FACET_NAMES)
    query = EngineQuery(match=Term("被告人"), exclude_records=excluded, facets=facets, size=20)
    wide, narrow = (elastic.search(replace(query, match_share=share)) for share in (1.0, 0.0))
    assert (wide.total, wide.facets, [h.unit_id for h in wide.hits]) == (
        narrow.total, narrow.facets, [h.unit_id for h in narrow.hits])
    assert not set(excluded) & {h.record_id for h in wide.hits}
