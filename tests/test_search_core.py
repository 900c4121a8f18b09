"""Search semantics over a real embedded engine: syntax, filters, facets, highlights, paging."""

from __future__ import annotations

import pytest

from indexing.errors import BadRequest, InvalidCursor, NotFound, QuerySyntaxError
from indexing.core.models import SearchRequest
from indexing.core.search import SearchService
from indexing.text.segmenter import Segmenter


def ids(service: SearchService, **kw: object) -> list[str]:
    """Hits of a search with the query syntax alone: no synonyms, no partial-match fallback."""
    kw = {"expand": False, "partial": False, **kw}
    result = service.search(SearchRequest(size=50, **kw))  # type: ignore[arg-type]
    return [h.id + (f"#{h.resolution.paragraph.anchor}" if h.resolution and h.resolution.paragraph else "") for h in result.hits]


@pytest.mark.parametrize(
    "q, expected",
    [
        ("贩卖 甲基苯丙胺", ["t-drugs-1"]),
        ("冰毒", ["t-drugs-1"]),
        ("海洛因 OR 冰毒", ["t-drugs-1", "t-drugs-2"]),
        ("毒品 -海洛因", ["t-drugs-1", "t-tw-1"]),
        ("毒品 NOT 海洛因", ["t-drugs-1", "t-tw-1"]),
        ('"组织多人出卖"', ["t-organs-1"]),
        ("title:受贿", ["t-corrupt-1"]),
        ("court:云南省高级人民法院", ["t-drugs-2"]),
        ("charges:污染环境", ["t-env-1"]),
        ("(海洛因 OR 冰毒) 云南", ["t-drugs-2"]),
        # recall inside long words: 器官 is inside 人体器官, 文物 inside 走私文物
        ("器官", ["t-organs-1", "t-res-6-1#p2"]),
        ("文物", ["t-relics-1"]),
        ("文化财产", ["t-res-6-1#p2"]),
        # traditional characters find simplified text and vice versa
        ("販賣 毒品", ["t-drugs-1", "t-drugs-2", "t-tw-1"]),  # 贩卖 is in t-drugs-2's charges
        ("台北", ["t-tw-1"]),
        # full-width Latin and digits fold to half-width
        ("５０克", ["t-drugs-1"]),
    ],
)
def test_query_finds_exactly(sample_service: SearchService, q: str, expected: list[str]) -> None:
    assert sorted(ids(sample_service, q=q)) == sorted(expected)


def test_single_shared_character_does_not_match(sample_service: SearchService) -> None:
    # 器材 shares 器 with 器官; 盗窃 shares nothing with 盗掘 but 盗
    assert ids(sample_service, q="器官") and "t-theft-1" not in ids(sample_service, q="器官")
    assert ids(sample_service, q="盗掘") == ["t-relics-1"]


def test_words_are_anded(sample_service: SearchService) -> None:
    assert ids(sample_service, q="海洛因 冰毒") == []


def test_ranking_prefers_title_matches(sample_service: SearchService) -> None:
    result = sample_service.search(SearchRequest(q="毒品"))
    assert result.hits[0].id in {"t-drugs-1", "t-drugs-2", "t-tw-1"}
    assert result.sort == "relevance"


@pytest.mark.parametrize(
    "filters, expected",
    [
        ({"crime_form": ["drugs"]}, {"t-drugs-1", "t-drugs-2", "t-tw-1"}),
        ({"crime_form": ["drugs", "piracy"], "doc_type": ["case"]}, {"t-drugs-1", "t-drugs-2", "t-tw-1", "t-piracy-1"}),
        ({"crime_form": ["毒品犯罪"]}, {"t-drugs-1", "t-drugs-2", "t-tw-1"}),
        ({"crime_form": ["environment"]}, {"t-env-1"}),  # inferred environment.pollution → parent
        ({"crime_form": ["drugs"], "country": ["TW"]}, {"t-tw-1"}),
        ({"country": ["SO"]}, {"t-piracy-1"}),
        ({"country": ["som"]}, {"t-piracy-1"}),
        ({"court": ["广东省深圳市中级人民法院"]}, {"t-drugs-1", "t-theft-1"}),
        ({"charge": ["盗窃罪"]}, {"t-theft-1"}),
        ({"year_from": 2019, "year_to": 2020}, {"t-drugs-1", "t-xss-1"}),
        ({"year_to": 2000}, {"t-corrupt-1"}),
        ({"doc_type": ["resolution"], "crime_form": ["organs"]}, {"t-res-6-1"}),  # once, not per paragraph
    ],
)
def test_filters_browse(sample_service: SearchService, filters: dict, expected: set[str]) -> None:
    assert set(ids(sample_service, **filters)) == expected


def test_empty_query_browses_by_date(sample_service: SearchService) -> None:
    result = sample_service.search(SearchRequest(doc_type=["case"], size=20))
    assert result.sort == "date"
    dates = [h.date for h in result.hits]
    assert dates == sorted(dates, key=lambda d: d or "", reverse=True)
    assert result.total == 10


def test_facets_count_filtered_set_and_ignore_own_filter(sample_service: SearchService) -> None:
    result = sample_service.search(SearchRequest(crime_form=["drugs"], country=["CN"]))
    forms = {b.value: b.count for b in result.facets["crime_form"]}
    # crime_form facet ignores the crime_form filter but keeps country=CN
    assert forms["drugs"] == 2 and forms["corruption"] == 1 and forms["piracy"] == 0
    assert next(b for b in result.facets["crime_form"] if b.value == "drugs").selected
    countries = {b.value: b.count for b in result.facets["country"]}
    # country facet ignores the country filter but keeps crime_form=drugs
    assert countries == {"CN": 2, "TW": 1}
    assert {b.value: b.label for b in result.facets["country"]}["TW"] == "中国台湾"
    years = [b.value for b in result.facets["year"]]
    assert years == ["2019", "2005"]
    assert result.total == 2


def test_highlights_on_original_text_escaped(sample_service: SearchService) -> None:
    hit = sample_service.search(SearchRequest(q="販賣")).hits
    tw = next(h for h in hit if h.id == "t-tw-1")
    assert "<mark>販賣</mark>" in tw.highlights[0]  # the original traditional characters
    xss = sample_service.search(SearchRequest(q="脚本")).hits[0]
    assert xss.id == "t-xss-1"
    assert "<script>" not in xss.highlights[0] and "&lt;script&gt;" in xss.highlights[0]
    assert "<mark>脚本</mark>" in xss.highlights[0]
    assert "<script>" not in xss.title_html and "&lt;script&gt;" in xss.title_html
    assert len(sample_service.search(SearchRequest(q="毒品")).hits[0].highlights) <= 3


def test_highlight_inserts_no_spaces(sample_service: SearchService) -> None:
    hit = sample_service.search(SearchRequest(q="甲基苯丙胺")).hits[0]
    plain = hit.highlights[0].replace("<mark>", "").replace("</mark>", "").strip("…")
    assert plain in "被告人王某多次向他人贩卖甲基苯丙胺（冰毒）共计50克，人民法院以贩卖毒品罪判处有期徒刑十五年。"


def test_resolution_hit_names_paragraph(sample_service: SearchService) -> None:
    hit = sample_service.search(SearchRequest(q="海盗行为")).hits[0]
    assert hit.doc_type == "resolution" and hit.resolution is not None
    assert hit.resolution.number == "6/1"
    assert hit.resolution.paragraph is not None and hit.resolution.paragraph.number == 2
    assert hit.url == "/v1/resolutions/t-res-6-1#p2"


def test_paging_is_exact_and_cursor_walks_all(sample_service: SearchService) -> None:
    first = sample_service.search(SearchRequest(size=4))
    second = sample_service.search(SearchRequest(size=4, page=2))
    assert first.total == second.total == 11  # 10 cases and a resolution: records, not paragraphs
    assert not {h.id for h in first.hits} & {h.id for h in second.hits}
    seen, cursor = [], None
    while True:
        page = sample_service.search(SearchRequest(size=4, cursor=cursor))
        seen += [h.id for h in page.hits]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert len(seen) == len(set(seen)) == 11


def test_cursor_of_another_search_is_refused(sample_service: SearchService) -> None:
    cursor = sample_service.search(SearchRequest(size=2)).next_cursor
    with pytest.raises(InvalidCursor):
        sample_service.search(SearchRequest(q="毒品", size=2, cursor=cursor))
    with pytest.raises(InvalidCursor):
        sample_service.search(SearchRequest(size=2, cursor="not-a-cursor!"))


@pytest.mark.parametrize(
    "request_fields, error",
    [
        ({"q": '"unclosed'}, QuerySyntaxError),
        ({"q": "(a OR b"}, QuerySyntaxError),
        ({"q": "a)"}, QuerySyntaxError),
        ({"q": "OR 毒品"}, QuerySyntaxError),
        ({"q": '"' + "x" * 501 + '"'}, QuerySyntaxError),  # long plain text is similar-case search; a long query is not
        ({"crime_form": ["no-such-form"]}, BadRequest),
        ({"country": ["ZZ"]}, BadRequest),
        ({"doc_type": ["memo"]}, BadRequest),
        ({"year_from": 2020, "year_to": 2010}, BadRequest),
        ({"size": 101}, BadRequest),
        ({"page": 2000}, BadRequest),
    ],
)
def test_bad_requests_raise(sample_service: SearchService, request_fields: dict, error: type) -> None:
    with pytest.raises(error):
        sample_service.search(SearchRequest(**request_fields))


@pytest.mark.parametrize("q", ["<script>", "title:", "a:b:c", "*?~^", "AND", "NOT", "\\", "' OR 1=1 --", "{}[]", "„‚"])
def test_odd_input_never_crashes(sample_service: SearchService, q: str) -> None:
    try:
        sample_service.search(SearchRequest(q=q))
    except BadRequest:
        pass


def test_related_finds_similar_records(sample_service: SearchService) -> None:
    related = sample_service.related("t-drugs-1", 3)
    assert related and related[0].id in {"t-drugs-2", "t-tw-1"}
    assert "t-drugs-1" not in [h.id for h in related]
    with pytest.raises(NotFound):
        sample_service.related("nope")


def test_crime_form_counts_count_records(sample_service: SearchService) -> None:
    counts = sample_service.crime_form_counts()
    assert counts["drugs"] == 3
    assert counts["organs"] == 2  # the case (inferred) and the resolution once, not per paragraph
    assert counts["environment"] == counts["environment.pollution"] == 1


def test_synonyms_expand_and_are_reported(sample_service: SearchService) -> None:
    result = sample_service.search(SearchRequest(q="白粉"))
    assert {h.id for h in result.hits} >= {"t-drugs-2"}  # 海洛因, for 白粉
    assert any(e.term == "白粉" and "海洛因" in e.expansions for e in result.expansions)
    off = sample_service.search(SearchRequest(q="白粉", expand=False))
    assert off.expansions == [] and off.total == 0


def test_a_charge_name_also_matches_the_charge(sample_service: SearchService) -> None:
    result = sample_service.search(SearchRequest(q="盗窃", explain=True))
    assert result.hits[0].id == "t-theft-1"
    assert any(e.term == "盗窃" and "盗窃" in e.charges for e in result.expansions)


def test_graceful_and_falls_back_to_partial_matches(sample_service: SearchService) -> None:
    strict = sample_service.search(SearchRequest(q="甲基苯丙胺 海洛因 云南"))
    assert strict.match == "partial" and strict.total >= 1
    assert {h.id for h in strict.hits} <= {"t-drugs-1", "t-drugs-2", "t-tw-1"}
    full = sample_service.search(SearchRequest(q="海洛因 云南"))
    assert full.match == "all" and [h.id for h in full.hits] == ["t-drugs-2"]


def test_relaxations_go_from_most_of_the_words_to_any_of_them(segmenter: Segmenter) -> None:
    from indexing.query.model import AtLeast, Not, Term
    from indexing.query.parser import parse_query
    from indexing.query.rewrite import relaxations

    rungs = relaxations(parse_query("甲基苯丙胺 台北 文物 -云南", segmenter).node)
    minimums = [next(c for c in r.clauses if isinstance(c, AtLeast)).minimum for r in rungs]  # type: ignore[union-attr]
    assert minimums == [2, 1]
    assert all(any(isinstance(c, Not) for c in r.clauses) for r in rungs)  # type: ignore[union-attr]
    two = relaxations(parse_query("海洛因 云南", segmenter).node)
    assert two == [AtLeast((Term("海洛因"), Term("云南")), 1)]  # half of two words is one: a single rung
    assert relaxations(parse_query("海洛因", segmenter).node) == []


def test_graceful_and_offers_any_word_when_most_words_find_too_little(sample_service: SearchService) -> None:
    # No sample record holds two of these three words; each holds one of them.
    q = "甲基苯丙胺 台北 文物"
    result = sample_service.search(SearchRequest(q=q, expand=False, size=50))
    assert result.match == "partial" and result.complete_total == 0
    assert {"t-drugs-1", "t-tw-1", "t-relics-1"} <= {h.id for h in result.hits}
    # later pages continue the same partial list, and export lists the same records
    first = sample_service.search(SearchRequest(q=q, expand=False, size=1))
    seen = [h.id for h in first.hits]
    cursor = first.next_cursor
    while cursor:
        page = sample_service.search(SearchRequest(q=q, expand=False, size=1, cursor=cursor))
        assert page.match == "partial"
        seen += [h.id for h in page.hits]
        cursor = page.next_cursor
    assert seen == [h.id for h in result.hits]
    exported = {r.id for r in sample_service.matching_records(SearchRequest(q=q, expand=False))}
    assert exported == set(seen)


def test_explain_names_words_synonyms_and_fields(sample_service: SearchService) -> None:
    hit = sample_service.search(SearchRequest(q="白粉 云南", explain=True)).hits[0]
    assert hit.explanation is not None
    words = {(m.word, m.for_word): m.fields for m in hit.explanation}
    assert "summary" in words[("海洛因", "白粉")]
    assert "summary" in words[("云南", None)]
    plain = sample_service.search(SearchRequest(q="白粉 云南")).hits[0]
    assert plain.explanation is None


def test_character_runs_only_where_their_rarest_character_is_rare() -> None:
    from indexing.query.model import DocFreqs, Term, Words
    from indexing.core.planning import rare_enough, fallbacks_where_cheap

    dfs = DocFreqs(
        total=1000,
        words={"人民法院": 30, "洗钱": 5, "被告人": 990},
        chars={"人": 1000, "民": 900, "法": 700, "院": 700, "洗": 10, "钱": 90, "被": 990, "告": 990},
    )
    # a rare word over common characters: every document would be a candidate for the run
    assert not fallbacks_where_cheap(Term("人民法院"), dfs).fallback
    # a rare word with a rare character: the run is cheap and may find other cuts of it
    assert fallbacks_where_cheap(Term("洗钱"), dfs).fallback
    # a word in most documents gains nothing from a run
    assert not fallbacks_where_cheap(Term("被告人"), dfs).fallback
    assert fallbacks_where_cheap(Words("洗钱被告人", ("洗钱", "被告人")), dfs).fallback
    assert rare_enough(("洗", "钱"), dfs) and not rare_enough(("人", "民"), dfs)



def test_match_share_estimates_how_much_of_the_index_a_query_covers() -> None:
    from indexing.query.model import And, Boosted, ChargeIs, DocFreqs, MatchAll, Not, Or, Phrase, Term, Words, match_share

    dfs = DocFreqs(total=1000, words={"被告人": 990, "自首": 100, "供述": 500, "洗钱": 5})
    assert match_share(Term("被告人"), dfs) == pytest.approx(0.99)
    assert match_share(And((Term("被告人"), Not(Term("自首")))), dfs) == pytest.approx(0.99 * 0.9)
    assert match_share(Or((Term("洗钱"), Term("供述"))), dfs) == pytest.approx(1 - 0.995 * 0.5)
    assert match_share(Words("被告人供述", ("被告人", "供述")), dfs) == pytest.approx(0.495)
    # a phrase counts by the units holding it cut as one word; an unknown word by nothing
    assert match_share(Phrase(("被", "告", "人")), dfs) == pytest.approx(0.99)
    assert match_share(Phrase(("告", "人")), dfs) == 0.0
    assert match_share(Boosted(Term("被告人"), 0.5), dfs) == pytest.approx(0.99)
    # what cannot be estimated is never read as "nearly everything"
    assert match_share(Term("被告人", scope="title"), dfs) == 0.0
    assert match_share(And((Term("被告人"), Not(ChargeIs("盗窃罪")))), dfs) == 0.0
    assert match_share(Or((Term("被告人"), ChargeIs("盗窃罪"))), dfs) == pytest.approx(0.99)
    assert match_share(MatchAll(), dfs) == 1.0
    assert match_share(Term("被告人"), DocFreqs(total=0, words={})) == 0.0


def test_the_core_tells_the_engine_how_broad_a_query_is(sample_service: SearchService) -> None:
    asked = []
    engine = sample_service.engine
    search = engine.search

    def spy(query):  # type: ignore[no-untyped-def]  # records the request, the real engine answers
        asked.append(query)
        return search(query)

    engine.search = spy  # type: ignore[method-assign]
    try:
        sample_service.search(SearchRequest(q='"被告人"'))
        sample_service.search(SearchRequest(q="洗钱"))
    finally:
        del engine.search
    total = engine.doc_freqs(["被告人", "洗钱"]).total
    phrase_share, rare_share = asked[0].match_share, asked[-1].match_share
    assert phrase_share == pytest.approx(engine.doc_freqs(["被告人"]).words["被告人"] / total)
    assert phrase_share >= 0.5 > rare_share
