"""Similar-case search (类案检索): key terms, charge vote, the core on both engines, the API."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import ENGINES, case, engine_settings, sample_records
from indexing.engines.base import Engine
from indexing.errors import BadRequest
from indexing.query.model import DocFreqs, EngineQuery, MatchAll, Or, RecordLabels, Term
from indexing.records.enrich import with_inferred_forms
from indexing.records.model import parse_record
from indexing.core.models import SearchRequest
from indexing.core.search import SearchService
from indexing.text.segmenter import Segmenter
from indexing.similar.charge_vote import vote
from indexing.similar.keyterms import BOILERPLATE_SHARE, key_terms
from indexing.similar.method import TextTooLong
from indexing.similar.models import MAX_TEXT_CHARS, SimilarRequest
from service.app import create_app

DRUG_FACTS = "经查，被告人在出租屋附近多次向吸毒人员贩卖甲基苯丙胺，共计二十余克，后被民警抓获。"


# ---- key terms and the vote (no engine needed) --------------------------------------------
def test_boilerplate_is_learned_from_document_frequencies() -> None:
    counts = Counter({"被告人": 5, "冰毒": 1, "贩卖": 1, "罕见词": 1})
    total = 1000
    dfs = DocFreqs(total=total, words={"被告人": 950, "冰毒": 30, "贩卖": 80, "罕见词": 0})
    terms = key_terms(counts, lambda words: dfs)
    words = [t.word for t in terms]
    assert "被告人" not in words  # in more than BOILERPLATE_SHARE of the units
    assert dfs.words["被告人"] > BOILERPLATE_SHARE * total
    assert "罕见词" not in words  # no unit holds it: it cannot make any case similar
    assert words == ["冰毒", "贩卖"]  # the rarer word weighs more
    assert terms[0].weight > terms[1].weight > 0


def test_key_terms_keep_the_limit() -> None:
    counts = Counter({f"词{i}": 1 for i in range(100)})
    dfs = DocFreqs(total=1000, words={f"词{i}": i + 1 for i in range(100)})
    terms = key_terms(counts, lambda words: dfs, limit=7)
    assert [t.word for t in terms] == [f"词{i}" for i in range(7)]


def test_vote_weighs_score_and_rank() -> None:
    neighbours = [(10.0, ["盗窃"]), (9.0, ["盗窃", "抢劫"]), (8.0, ["诈骗"])]
    predictions = vote(neighbours)
    assert [p.value for p in predictions] == ["盗窃", "抢劫", "诈骗"]
    assert predictions[0].confidence > 0.6 and abs(sum(p.confidence for p in predictions[1:]) - 0.6) < 0.4
    assert vote([]) == [] and vote([(0.0, ["盗窃"])]) == []


# ---- the core on each engine ---------------------------------------------------------------
def test_similar_ranks_the_same_conduct_first(sample_service: SearchService) -> None:
    result = sample_service.similar(SimilarRequest(text=DRUG_FACTS, size=5))
    assert result.match == "similar" and result.text_chars == len(DRUG_FACTS)
    assert result.hits[0].id in {"t-drugs-1", "t-drugs-2", "t-tw-1"}
    top = result.hits[0]
    assert top.why.shared_terms and all(t.weight > 0 for t in top.why.shared_terms)
    assert result.predicted_charges[0].value == "走私、贩卖、运输、制造毒品"
    assert any(f.value == "drugs" for f in result.predicted_crime_forms)
    assert "走私、贩卖、运输、制造毒品" in top.why.shared_charges or not top.charges
    assert {t.word for t in result.key_terms} >= {t.word for t in top.why.shared_terms}


def test_similar_applies_the_search_filters(sample_service: SearchService) -> None:
    result = sample_service.similar(SimilarRequest(text=DRUG_FACTS, country=["TW"]))
    assert [h.id for h in result.hits] == ["t-tw-1"]


def test_similar_pages_with_its_cursor(sample_service: SearchService) -> None:
    first = sample_service.similar(SimilarRequest(text=DRUG_FACTS, size=1))
    assert first.total >= 2 and first.next_cursor
    second = sample_service.similar(SimilarRequest(text=DRUG_FACTS, size=1, cursor=first.next_cursor))
    assert second.hits[0].id != first.hits[0].id
    with pytest.raises(BadRequest) as caught:
        sample_service.similar(SimilarRequest(text="被告人驾车运输海洛因", size=1, cursor=first.next_cursor))
    assert caught.value.code == "invalid_cursor"


@pytest.mark.parametrize("text,code", [("   ", "bad_request"), ("案" * (MAX_TEXT_CHARS + 1), "text_too_long")])
def test_similar_refuses_empty_or_too_long_text(sample_service: SearchService, text: str, code: str) -> None:
    with pytest.raises(BadRequest) as caught:
        sample_service.similar(SimilarRequest(text=text))
    assert caught.value.code == code


def test_related_uses_the_record_text_and_charges(sample_service: SearchService) -> None:
    related = sample_service.related("t-drugs-1", 3)
    assert related[0].id in {"t-drugs-2", "t-tw-1"} and "t-drugs-1" not in [h.id for h in related]
    charged = [h for h in related if h.charges]
    assert charged and all(h.why.shared_charges == h.charges for h in charged  # type: ignore[attr-defined]
                           if h.charges == ["走私、贩卖、运输、制造毒品"])
    assert "t-drugs-2" in [h.id for h in related]


def test_long_plain_query_is_searched_as_similar(sample_service: SearchService) -> None:
    text = DRUG_FACTS * 12  # past the short-query size, no operators
    result = sample_service.search(SearchRequest(q=text))
    assert result.match == "similar" and result.hits[0].id in {"t-drugs-1", "t-drugs-2", "t-tw-1"}
    with pytest.raises(BadRequest) as caught:  # with operators it is still a query, and too long
        sample_service.search(SearchRequest(q=text + " OR 冰毒"))
    assert caught.value.code == "query_syntax"


def test_engines_give_the_same_similar_cases(
    segmenter: Segmenter, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from conftest import discard
    from service.state import open_engine

    answers = []
    for kind in ENGINES:
        engine = open_engine(engine_settings(kind, request, tmp_path / kind), segmenter)
        try:
            engine.upsert(sample_records())
            service = SearchService(engine, segmenter)
            result = service.similar(SimilarRequest(text=DRUG_FACTS + "另查明，被告人曾因盗窃被判刑。", size=10))
            answers.append(([h.id for h in result.hits], [p.value for p in result.predicted_charges]))
        finally:
            discard(engine)
    assert answers[0] == answers[1]


# ---- what the engines give similar-case ranking ------------------------------------------
def _with_articles() -> list:
    extra = parse_record(case(
        "t-two-charges", "吴某盗窃、抢劫案", "被告人吴某入户盗窃后，为抗拒抓捕当场使用暴力，转化为抢劫。",
        charges=["盗窃", "抢劫"], legal_basis=["《中华人民共和国刑法》第二百六十三条", "第二百六十四条"],
        crime_forms=["corruption"]))
    return [*sample_records(), with_inferred_forms(extra)]


def test_label_projection_equals_the_full_records(engine: Engine) -> None:
    records = _with_articles()
    engine.upsert(records)
    found = engine.search(EngineQuery(match=MatchAll(), size=50, with_labels=True))
    assert {h.record_id for h in found.hits} == {r.id for r in records}
    full = engine.get_many([r.id for r in records])
    for hit in found.hits:
        assert hit.record is None  # the labels come without the record
        assert hit.labels == RecordLabels.of(full[hit.record_id]), hit.record_id
    labels = {h.record_id: h.labels for h in found.hits}
    assert labels["t-two-charges"].legal_basis == ("《中华人民共和国刑法》第二百六十三条", "第二百六十四条")
    assert labels["t-two-charges"].charges == ("盗窃", "抢劫")
    assert labels["t-res-6-1"].doc_type == "resolution" and labels["t-res-6-1"].charges == ()
    assert len(labels["t-res-6-1"].crime_forms) == 4
    plain = engine.search(EngineQuery(match=MatchAll(), size=50))
    assert all(h.labels is None for h in plain.hits)


def test_uncounted_search_gives_the_same_page(engine: Engine) -> None:
    engine.upsert(_with_articles())
    match = Or((Term("被告人"), Term("盗窃"), Term("毒品")))
    counted = engine.search(EngineQuery(match=match, size=3))
    uncounted = engine.search(EngineQuery(match=match, size=3, count_total=False))
    assert [(h.record_id, round(h.score, 4)) for h in uncounted.hits] == [
        (h.record_id, round(h.score, 4)) for h in counted.hits]
    assert counted.total > 3 and 3 <= uncounted.total <= counted.total
    assert uncounted.next_after is not None  # a full page: there may be more
    rest = engine.search(EngineQuery(match=match, size=50, count_total=False, after=uncounted.next_after))
    everything = engine.search(EngineQuery(match=match, size=50))
    assert [h.record_id for h in uncounted.hits + rest.hits] == [h.record_id for h in everything.hits]
    assert rest.next_after is None  # the last page


# ---- the API -------------------------------------------------------------------------------
@pytest.fixture(scope="module", params=ENGINES)
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    import json

    folder = tmp_path_factory.mktemp("similar-api")
    fixtures = folder / "fixtures"
    fixtures.mkdir()
    (fixtures / "sample.jsonl").write_text(
        "\n".join(json.dumps(r.model_dump(mode="json"), ensure_ascii=False) for r in sample_records()), "utf-8"
    )
    settings = engine_settings(request.param, request, folder, fixtures_path=fixtures)
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def error_code(response) -> str:  # type: ignore[no-untyped-def]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}
    return str(body["error"]["code"])


def test_post_similar(client: TestClient) -> None:
    response = client.post("/v1/similar", json={"text": DRUG_FACTS, "size": 3})
    assert response.status_code == 200
    body = response.json()
    assert body["match"] == "similar" and body["hits"][0]["why"]["shared_terms"]
    assert body["predicted_charges"][0]["value"] == "走私、贩卖、运输、制造毒品"


@pytest.mark.parametrize("payload,status,code", [
    ({"text": ""}, 400, "bad_request"),
    ({"text": 5}, 400, "invalid_parameter"),
    ({"size": 3}, 400, "invalid_parameter"),
    ({"text": "案" * (MAX_TEXT_CHARS + 1)}, 413, "text_too_long"),
    ({"text": DRUG_FACTS, "crime_form": ["no-such-form"]}, 400, "bad_request"),
])
def test_post_similar_errors(client: TestClient, payload: dict, status: int, code: str) -> None:
    response = client.post("/v1/similar", json=payload)
    assert response.status_code == status and error_code(response) == code


def test_too_large_body_is_413(client: TestClient) -> None:
    response = client.post("/v1/similar", content=b'{"text": "' + b"a" * 300_000 + b'"}',
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and error_code(response) == "payload_too_large"
    response = client.post("/v1/similar", content=b"[1, 2]", headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and error_code(response) == "bad_request"


def test_post_search_equals_get(client: TestClient) -> None:
    got = client.get("/v1/search", params={"q": "毒品", "country": "CN", "size": 3}).json()
    posted = client.post("/v1/search", json={"q": "毒品", "country": ["CN"], "size": 3}).json()
    assert [h["id"] for h in posted["hits"]] == [h["id"] for h in got["hits"]] and posted["total"] == got["total"]


@pytest.mark.parametrize("body", [{"year_from": 10**12}, {"year_to": -1}, {"q": "毒品", "year_from": 1799}])
def test_post_search_years_are_bounded_like_get(client: TestClient, body: dict) -> None:
    # a JSON body skips the GET route's own bounds; out of range, Elasticsearch failed every shard (a 503)
    for path in ("/v1/search", "/v1/similar"):
        response = client.post(path, json={"text": DRUG_FACTS, **body} if path == "/v1/similar" else body)
        assert response.status_code == 400 and error_code(response) == "invalid_parameter", response.text


@pytest.mark.parametrize("field,value", [("explain", 0), ("size", "3"), ("expand", "false"), ("country", "CN")])
def test_post_bodies_are_typed_strictly(client: TestClient, field: str, value: object) -> None:
    # found by the fuzz suite: `{"explain": 0}` was coerced to false and answered 200
    for path in ("/v1/search", "/v1/similar"):
        if path == "/v1/similar" and field == "expand":
            continue
        body = {"q": "毒品"} if path == "/v1/search" else {"text": DRUG_FACTS}
        response = client.post(path, json={**body, field: value})
        assert response.status_code == 400 and error_code(response) == "invalid_parameter", response.text


def test_long_get_search_answers_similar(client: TestClient) -> None:
    response = client.get("/v1/search", params={"q": DRUG_FACTS * 12})
    assert response.status_code == 200 and response.json()["match"] == "similar"


def test_related_route_says_why(client: TestClient) -> None:
    related = client.get("/v1/cases/t-drugs-1/related", params={"size": 2}).json()
    assert related and "why" in related[0] and related[0]["id"] != "t-drugs-1"


def test_text_too_long_is_a_bad_request_kind() -> None:
    assert issubclass(TextTooLong, BadRequest) and TextTooLong.status == 413
