"""A hit is a record: totals, pages, cursors, facets, export and crime-form counts agree.

Run on both engines over the shipped fixtures (cases and resolutions with many paragraphs)
plus real cases, and the partial-match notice checked both ways.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import ENGINES, RESOLUTION, SAMPLE, cail_records, discard, engine_settings
from indexing.records.model import parse_record
from service.app import create_app

pytestmark = pytest.mark.real_data  # every test here reads the real cases

ROOT = Path(__file__).resolve().parents[1]
REAL_CASES = 600


@pytest.fixture(scope="module", params=ENGINES)
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app on each engine: the shipped fixtures, the test corpus and real cases."""
    folder = tmp_path_factory.mktemp("counts")
    settings = engine_settings(request.param, request, folder, fixtures_path=ROOT / "fixtures")
    app = create_app(settings)
    with TestClient(app) as test_client:
        engine = app.state.casedigest.search.engine
        engine.upsert([parse_record(r) for r in [*SAMPLE, RESOLUTION]])
        engine.upsert(cail_records(REAL_CASES))
        engine.finish_writes()
        yield test_client
        discard(engine)


def search(client: TestClient, **params: Any) -> dict[str, Any]:
    response = client.get("/v1/search", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def paged_ids(client: TestClient, **params: Any) -> list[str]:
    """Every hit id, walking the cursor 7 at a time (pages cut through the resolutions)."""
    ids: list[str] = []
    cursor = None
    while True:
        page = search(client, **params, size=7, **({"cursor": cursor} if cursor else {}))
        ids += [h["id"] for h in page["hits"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


def exported_ids(client: TestClient, **params: Any) -> list[str]:
    response = client.get("/v1/search", params={**params, "format": "jsonl"})
    assert response.status_code == 200, response.text
    return [json.loads(line)["id"] for line in response.text.splitlines() if line.strip()]


COUNTED_SEARCHES = [
    {},
    {"doc_type": "resolution"},
    {"q": "器官"},
    {"q": "器官", "crime_form": ["organs", "cybercrime"]},
    {"crime_form": "cybercrime"},
    {"q": "公约"},
    {"q": "毒品"},  # real cases, many hits
    {"q": "盗窃 现金"},
    {"year_from": 2012, "year_to": 2020},
]


@pytest.mark.parametrize("params", COUNTED_SEARCHES, ids=lambda p: json.dumps(p, ensure_ascii=False))
def test_total_is_the_records_one_can_page_through_and_export(client: TestClient, params: dict[str, Any]) -> None:
    result = search(client, **params)
    ids = paged_ids(client, **params)
    assert len(ids) == len(set(ids)) == result["total"] > 0
    assert sorted(exported_ids(client, **params)) == sorted(ids)
    # a facet ignores its own filter (multi-select): count the selected values, or all of them
    types = set(params.get("doc_type", "").split()) or {"case", "resolution"}
    assert sum(b["count"] for b in result["facets"]["doc_type"] if b["value"] in types) == result["total"]
    low, high = params.get("year_from", 0), params.get("year_to", 9999)
    assert sum(b["count"] for b in result["facets"]["year"] if low <= int(b["value"]) <= high) <= result["total"]


def test_browsing_resolutions_lists_each_once(client: TestClient) -> None:
    result = search(client, doc_type="resolution", size=20)
    resolutions = (ROOT / "fixtures/resolutions.jsonl").read_text("utf-8").splitlines()
    assert result["total"] == len(resolutions) + 1  # and the test corpus's one
    assert len({h["id"] for h in result["hits"]}) == len(result["hits"]) == result["total"]
    assert [b["count"] for b in result["facets"]["doc_type"] if b["value"] == "resolution"] == [result["total"]]
    page = client.get("/", params={"doc_type": "resolution"}).text
    assert f"共 {result['total']} 条结果" in page
    assert len(re.findall(r'<li class="hit">', page)) == result["total"]


def test_a_resolution_is_one_hit_with_its_matching_paragraphs(client: TestClient) -> None:
    result = search(client, q="器官", crime_form=["organs", "cybercrime"], size=50)
    hits = [h for h in result["hits"] if h["id"] == "ctoc-cop-6-1"]
    assert len(hits) == 1
    (hit,) = hits
    anchors = [p["anchor"] for p in hit["parts"]]
    assert "p16" in anchors and len(anchors) <= 3
    for part in hit["parts"]:
        assert part["url"] == f"/v1/resolutions/ctoc-cop-6-1#{part['anchor']}"
        assert any("<mark>" in h for h in part["highlights"])
    assert hit["resolution"]["paragraph"]["anchor"] == anchors[0]
    resolution_facet = {b["value"]: b["count"] for b in result["facets"]["doc_type"]}["resolution"]
    assert resolution_facet == len({h["id"] for h in result["hits"] if h["doc_type"] == "resolution"})
    page = client.get("/", params={"q": "器官", "crime_form": ["organs", "cybercrime"]}).text
    assert page.count('href="/resolutions/ctoc-cop-6-1?q=') >= 2  # the title and its paragraphs
    assert f'#p16">' in page and "共 %d 条结果" % result["total"] in page


def test_crime_form_counts_equal_the_searches_they_link_to(client: TestClient) -> None:
    forms = client.get("/v1/crime-forms").json()["crime_forms"]
    assert any(f["count"] > 0 for f in forms)
    for form in forms:
        assert search(client, crime_form=form["code"], size=1)["total"] == form["count"], form["code"]
    page = client.get("/crime-forms").text
    cyber = next(f for f in forms if f["code"] == "cybercrime")
    assert f"{cyber['count']} 条" in page


@pytest.mark.parametrize(
    ("params", "holding"),
    [
        # 邹某某走私文物案 holds both words: the notice must not say that no record does
        ({"q": "走私 文物", "crime_form": "cultural_property"}, {"demo-cn-2021-003"}),
        ({"q": "海盗 赎金 船员"}, {"demo-ng-2023-001", "demo-so-2011-001", "t-piracy-1"}),
    ],
)
def test_partial_answer_says_which_records_hold_every_word(
    client: TestClient, params: dict[str, Any], holding: set[str]
) -> None:
    result = search(client, **params, size=50)
    strict = search(client, **params, partial="false", size=50)
    assert result["match"] == "partial" and result["total"] > strict["total"]
    assert result["complete_total"] == strict["total"] == len(holding)
    assert {h["id"] for h in result["hits"] if h["complete"]} == {h["id"] for h in strict["hits"]} == holding
    assert all(h["complete"] is False for h in result["hits"] if h["id"] not in holding)
    page = client.get("/", params=params).text
    assert "没有记录同时包含全部检索词" not in page
    assert f"只有 {len(holding)} 条记录同时包含全部检索词" in page


def test_partial_answer_when_no_record_holds_every_word(client: TestClient) -> None:
    params = {"q": "贩卖 器材"}
    result = search(client, **params, size=50)
    assert search(client, **params, partial="false")["total"] == 0
    assert result["match"] == "partial" and result["complete_total"] == 0 and result["total"] > 0
    assert all(h["complete"] is False for h in result["hits"])
    assert "没有记录同时包含全部检索词" in client.get("/", params=params).text


def test_no_partial_notice_when_enough_records_hold_every_word(client: TestClient) -> None:
    params = {"q": "毒品"}
    result = search(client, **params)
    assert result["match"] == "all" and result["complete_total"] is None and result["total"] >= 10
    assert all(h["complete"] is None for h in result["hits"])
    assert "部分匹配" not in client.get("/", params=params).text


def shown_marks(result: dict[str, Any]) -> list[str]:
    """Every piece of marked HTML a search answer shows: titles, snippets, paragraph snippets."""
    pieces = []
    for hit in result["hits"]:
        pieces += [hit["title_html"], *hit["highlights"]]
        pieces += [h for part in hit["parts"] for h in part["highlights"]]
    return pieces


@pytest.mark.parametrize(
    ("params", "expected", "never"),
    [
        # the expansion 为他人谋取利益 marks the run, never a lone 为
        ({"q": "受贿"}, ["<mark>为他人谋取利益</mark>"], ["<mark>为</mark>"]),
        # 公海上 is 公海 + 上: no word 海上 to mark
        ({"q": "海上 抢劫"}, [], ["公<mark>海上</mark>", "<mark>海上</mark>航"]),
        # 利用 is found inside 充分利用 by the index: the whole word is marked
        ({"q": "利用 公约"}, ["<mark>充分利用</mark>"], ["充分<mark>利用</mark>"]),
        ({"q": "甲基苯丙胺"}, ["<mark>甲基苯丙胺</mark>"], ["<mark>甲基苯丙</mark>", "<mark>基苯丙胺"]),
        ({"q": "走私 文物", "crime_form": "cultural_property"}, ["邹某某<mark>走私文物</mark>案"], []),
    ],
    ids=lambda v: json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else "",
)
def test_marks_cover_whole_words(
    client: TestClient, params: dict[str, Any], expected: list[str], never: list[str]
) -> None:
    pieces = shown_marks(search(client, **params, size=50))
    assert pieces
    for wanted in expected:
        assert any(wanted in p for p in pieces), wanted
    for unwanted in never:
        assert not any(unwanted in p for p in pieces), unwanted
