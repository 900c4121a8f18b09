"""Charge feedback: the head of a relevance ranking re-ranked by the charges it is about."""

from __future__ import annotations

from typing import Iterator

import pytest

from conftest import case, discard, engine_settings
from indexing.core.feedback import HEAD, head_vote, rerank
from indexing.core.models import SearchRequest
from indexing.core.search import SearchService
from indexing.query.model import EngineQuery, Term
from indexing.records.model import parse_record
from indexing.text.segmenter import Segmenter
from service.state import open_engine

# One case of a charge the query words are not about, whose text repeats them; six cases
# of the charge they are about, each saying it once. By score alone the first is first.
OUTLIER = case("fb-0", "甲某寻衅滋事案", "被告人甲某殴打殴打殴打他人。", charges=["寻衅滋事"])
ABOUT = [
    case(f"fb-{i}", f"乙{i}某故意伤害案", f"被告人乙{i}某殴打他人致轻伤。", charges=["故意伤害"])
    for i in range(1, 7)
]
# Enough further matches that pages run past the head.
FILLER = [case(f"fb-x{i:03d}", f"丙{i}某案", f"被告人丙{i}某在第{i}号街道殴打路人，经调解未果。") for i in range(120)]


@pytest.fixture(scope="module", params=["embedded", "elasticsearch"])
def service(request: pytest.FixtureRequest, segmenter: Segmenter, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchService]:
    engine = open_engine(engine_settings(request.param, request, tmp_path_factory.mktemp("feedback")), segmenter)
    engine.upsert([parse_record(r) for r in [OUTLIER, *ABOUT, *FILLER]])
    yield SearchService(engine, segmenter)
    discard(engine)


def test_rerank_moves_up_what_the_head_votes_for() -> None:
    scored = [(10.0, ["寻衅滋事"]), *[(7.0, ["故意伤害"])] * 6, (6.0, [])]
    order = rerank(scored)
    assert order[:6] == [1, 2, 3, 4, 5, 6]  # the outlier goes below the six
    assert order[-1] == 7  # a record with no charges keeps its place after them
    assert rerank([(3.0, []), (2.0, [])]) == [0, 1]  # nothing to vote on: the engine's order


def test_a_near_tie_is_voted_by_the_whole_head_not_by_who_came_first() -> None:
    # Nearly equal scores: three records of one charge happen to come first, six of another follow
    # (a vote fading by rank would side with the first three).
    scored = [*[(10.0 - i / 100, ["寻衅滋事"]) for i in range(3)], *[(9.9 - i / 100, ["故意伤害"]) for i in range(6)]]
    predicted = head_vote(scored)
    assert predicted[0].value == "故意伤害" and predicted[0].confidence > 0.6
    assert sum(p.confidence for p in predicted) == pytest.approx(1.0, abs=1e-3)
    assert rerank(scored)[:6] == list(range(3, 9))


def test_records_far_below_the_best_score_hardly_vote() -> None:
    scored = [(10.0, ["故意伤害"]), (9.5, ["故意伤害"]), *[(3.0, ["寻衅滋事"])] * 6]
    assert head_vote(scored)[0].value == "故意伤害"
    assert head_vote([(0.0, ["盗窃"])]) == []  # no score, no vote


def test_first_page_follows_the_vote_not_the_raw_score(service: SearchService) -> None:
    raw = service.engine.search(EngineQuery(match=Term("殴打"), size=10))
    assert raw.hits[0].record_id == "fb-0"  # what the order would be without feedback
    hits = service.search(SearchRequest(q="殴打", size=10)).hits
    assert hits[0].id.startswith("fb-") and hits[0].charges == ["故意伤害"]
    assert "fb-0" not in [h.id for h in hits][:6]  # below the six (here below the page, too)


@pytest.mark.parametrize("size", [7, 30, 100])
def test_pages_by_cursor_and_by_number_list_every_match_once(service: SearchService, size: int) -> None:
    total = service.search(SearchRequest(q="殴打", size=1)).total
    assert total == 127 > HEAD
    by_cursor: list[str] = []
    cursor = None
    while True:
        page = service.search(SearchRequest(q="殴打", size=size, cursor=cursor))
        by_cursor += [h.id for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(by_cursor) == total == len(set(by_cursor))
    by_number = [
        h.id for n in range(1, -(-total // size) + 1) for h in service.search(SearchRequest(q="殴打", size=size, page=n)).hits
    ]
    assert by_number == by_cursor


def test_date_order_is_left_alone(service: SearchService) -> None:
    by_date = service.search(SearchRequest(q="殴打", size=10, sort="date"))
    raw = service.engine.search(EngineQuery(match=Term("殴打"), size=10, sort="date"))
    assert [h.id for h in by_date.hits] == [h.record_id for h in raw.hits]
