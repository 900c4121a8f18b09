"""The search core: one `SearchService.search(request) -> SearchResult` for every front door.

The JSON API, the CLI, the web page and export all call this; they differ only in how they
render the result. The core validates the request, parses the query, asks the engine, and
dresses the hits (records, highlights, resolution paragraphs, facet labels).
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from typing import TYPE_CHECKING, AbstractSet, Any, Iterator, Literal

from pydantic import BaseModel, Field

from indexing import countries
from indexing.crime_forms import TAXONOMY
from indexing.citable_parts import MatchedPart, matching_parts
from indexing.cursor import CursorCodec, Position
from indexing.engines.base import Engine, Record
from indexing.errors import BadRequest, InvalidParameter, NotFound
from indexing.folding import fold
from indexing.highlight import marked, match_spans, snippets
from indexing.query_model import (
    FACET_NAMES,
    DocFreqs,
    EngineHit,
    EngineQuery,
    FacetRequest,
    Filters,
    MatchAll,
    Node,
    Phrase,
    Term,
    Words,
    match_share,
    phrase_texts,
    positive_terms,
    query_words,
    with_fallbacks,
)
from indexing.query_parser import is_long_plain_text, parse_query
from indexing.query_rewrite import Expansion, Rewriter, relax
from indexing.ranking import CHAR_FALLBACK_MAX_DF, CHAR_RUN_MAX_DF, MIN_STRICT_RESULTS, PHRASE_BOOST
from indexing.records import CaseDigest
from indexing.segmenter import Segmenter

if TYPE_CHECKING:
    from indexing.similar.models import SimilarRequest, SimilarResult

MAX_PAGE_SIZE = 100
MIN_YEAR, MAX_YEAR = 1800, 2100  # the years a record's date may have (`records.py`)
MAX_PAGE_DEPTH = 10_000  # beyond this, page with the cursor
MAX_FILTER_VALUES = 50  # values of one filter in one request (each costs the engine and the page)


class SearchRequest(BaseModel):
    """A search as a user asks it; every field is optional."""

    q: str = ""
    crime_form: list[str] = Field(default_factory=list)
    doc_type: list[str] = Field(default_factory=list)
    country: list[str] = Field(default_factory=list)
    court: list[str] = Field(default_factory=list)
    charge: list[str] = Field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None
    sort: Literal["relevance", "date"] | None = None
    page: int = 1
    size: int = 10
    cursor: str | None = None
    facet_size: int = 10
    expand: bool = True
    partial: bool = True  # offer best partial matches when requiring every word finds too few
    explain: bool = False


class CrimeFormBadge(BaseModel):
    code: str
    label: str
    source: Literal["curated", "inferred"]


class ParagraphRef(BaseModel):
    kind: Literal["preambular", "operative"]
    number: int
    anchor: str
    label: str


class ResolutionRef(BaseModel):
    id: str
    number: str
    body: str
    paragraph: ParagraphRef | None  # the best-matching paragraph (the first of the hit's parts)
    url: str


class MatchedWord(BaseModel):
    """Why a hit matched: a word, the query word it stands for (a synonym's), and where."""

    word: str
    for_word: str | None = None
    fields: list[str]


class ExpansionView(BaseModel):
    term: str
    expansions: list[str]
    charges: list[str]


class Hit(BaseModel):
    id: str
    doc_type: str
    title: str
    title_html: str
    court: str | None = None
    country: str | None = None
    country_name: str | None = None
    date: str | None = None
    case_number: str | None = None
    crime_forms: list[CrimeFormBadge]
    charges: list[str] = Field(default_factory=list)
    highlights: list[str]
    score: float
    url: str
    resolution: ResolutionRef | None = None
    # The record's citable parts holding query words (a resolution's paragraphs), best first.
    parts: list[MatchedPart] = Field(default_factory=list)
    # Only when `match` is partial: whether this record holds every query word.
    complete: bool | None = None
    explanation: list[MatchedWord] | None = None


class FacetBucket(BaseModel):
    value: str
    label: str
    count: int
    selected: bool = False


class SearchResult(BaseModel):
    query: str
    total: int
    page: int | None  # None when the page was reached with a cursor
    size: int
    sort: Literal["relevance", "date"]
    # "partial": fewer than MIN_STRICT_RESULTS records hold every query word (under the same
    # filters) and more hold enough of them; the hits are then those best partial matches, and
    # `complete_total` says how many of all records hold every word.
    # "similar": the query was long plain text, searched as similar-case facts (no facets then)
    match: Literal["all", "partial", "similar"] = "all"
    complete_total: int | None = None
    expansions: list[ExpansionView] = Field(default_factory=list)
    took_ms: float
    hits: list[Hit]
    facets: dict[str, list[FacetBucket]]
    next_cursor: str | None = None


class SearchService:
    """The one search core over one engine."""

    def __init__(
        self, engine: Engine, segmenter: Segmenter, df_cache_seconds: float = 60.0, cursor_secret: str | None = None
    ) -> None:
        self.engine = engine
        self._cursor_secret = cursor_secret
        self._cursors: CursorCodec | None = None
        self.segmenter = segmenter
        self._df_cache_seconds = df_cache_seconds
        self._df_cache: dict[str, tuple[float, int]] = {}
        self._doc_total = (0.0, 0)
        self.rewriter = Rewriter(segmenter)

    # ---- searching ---------------------------------------------------------------------
    def search(self, request: SearchRequest) -> SearchResult:
        """Run a search: validate, parse, query the engine, then dress the hits."""
        started = time.perf_counter()
        filters = self.filters(request)
        sort = request.sort or ("relevance" if request.q.strip() else "date")
        if not 1 <= request.size <= MAX_PAGE_SIZE:
            raise BadRequest(f"size must be between 1 and {MAX_PAGE_SIZE}", {"size": request.size})
        if not 1 <= request.facet_size <= 100:
            raise BadRequest("facet_size must be between 1 and 100", {"facet_size": request.facet_size})
        if request.page < 1:
            raise BadRequest("page must be 1 or more", {"page": request.page})
        offset = (request.page - 1) * request.size
        if offset + request.size > MAX_PAGE_DEPTH and not request.cursor:
            raise BadRequest(
                f"pages beyond result {MAX_PAGE_DEPTH} are reached with the cursor, not page numbers",
                {"page": request.page},
            )
        if is_long_plain_text(request.q, self.segmenter):
            return self._search_as_similar(request, offset)
        parsed = parse_query(request.q, self.segmenter)
        node, expansions = self.rewriter.expand(parsed.node) if request.expand else (parsed.node, [])
        fingerprint = _fingerprint(request, sort)
        position = self.cursors().decode(request.cursor, fingerprint) if request.cursor else None
        phrases = [p for p in parsed.phrase_boosts if p.scope is None]
        dfs = self._doc_freqs(query_words(node) | phrase_texts(node),
                              {c for p in phrases for c in p.chars} | query_chars(node))
        boosts = tuple(
            (Phrase(p.chars, field), weight)
            for p in phrases
            if _rare_enough(p.chars, dfs)
            for field, weight in PHRASE_BOOST.items()
        )
        engine_query = EngineQuery(
            match=_with_fallbacks(node, dfs),
            filters=filters,
            boosts=boosts,
            sort=sort,
            offset=offset,
            size=request.size,
            after=position.after if position else None,
            facets=tuple(FacetRequest(name, _facet_size(name, request.facet_size)) for name in FACET_NAMES),
            with_records=True,
            match_share=match_share(node, dfs),
        )
        match_kind: Literal["all", "partial"] = position.match if position else "all"
        relaxed = relax(node) if request.partial else None
        if match_kind == "partial" and relaxed is not None:
            result = self.engine.search(replace(engine_query, match=_with_fallbacks(relaxed, dfs)))
        else:
            result = self.engine.search(engine_query)
            if result.total < MIN_STRICT_RESULTS and relaxed is not None and position is None:
                # Graceful AND: too few records hold every word; offer the best partial matches.
                partial = self.engine.search(replace(engine_query, match=_with_fallbacks(relaxed, dfs)))
                if partial.total > result.total:
                    result, match_kind = partial, "partial"
        explained = explain_words(parsed.node, expansions) if request.explain else None
        hits = self._dress(result.hits, highlight_needles(node), explained)
        complete_total = None
        if match_kind == "partial":
            complete_total = self._mark_complete(hits, replace(engine_query, boosts=(), facets=()))
        return SearchResult(
            query=request.q,
            total=result.total,
            page=None if position else request.page,
            size=request.size,
            sort=sort,
            match=match_kind,
            complete_total=complete_total,
            expansions=[ExpansionView(term=e.term, expansions=list(e.expansions), charges=list(e.charges)) for e in expansions],
            took_ms=round((time.perf_counter() - started) * 1000, 2),
            hits=hits,
            facets=self._facet_buckets(result.facets, filters),
            next_cursor=(
                self.cursors().encode(Position(result.next_after, match_kind), fingerprint) if result.next_after else None
            ),
        )

    def cursors(self) -> CursorCodec:
        """The signer of this installation's cursors (its secret is read once, then kept)."""
        if self._cursors is None:
            self._cursors = CursorCodec(self._cursor_secret or self.engine.cursor_secret())
        return self._cursors

    def _mark_complete(self, hits: list[Hit], strict: EngineQuery) -> int:
        """Flag the hits that hold every query word; returns how many records do.

        Asked of the engine with the strict query itself, so the flags agree with what
        "holds every word" means for a search (fallbacks, synonyms and all).
        """
        ids = tuple(h.id for h in hits)
        total = self.engine.search(replace(strict, offset=0, size=1, after=None, facets=(), with_records=False)).total
        holding: set[str] = set()
        if ids and total:
            found = self.engine.search(
                replace(strict, offset=0, size=len(ids), after=None, facets=(), with_records=False, only_records=ids)
            )
            holding = {h.record_id for h in found.hits}
        for hit in hits:
            hit.complete = hit.id in holding
        return total

    def _doc_freqs(self, words: AbstractSet[str], chars: AbstractSet[str] = frozenset()) -> DocFreqs:
        """Document frequencies, remembered for a minute: the fallbacks only need their size.

        This saves an engine round trip per query (a request of its own on Elasticsearch).
        """
        wanted = {("w", w) for w in words} | {("c", c) for c in chars}
        if not wanted:  # nothing to decide (an empty query): no engine call
            return DocFreqs(total=self._doc_total[1], words={}, chars={})
        now = time.monotonic()
        fresh = {key: df for key, (at, df) in ((k, self._df_cache.get(k, (-1e9, 0))) for k in wanted)
                 if now - at < self._df_cache_seconds}
        missing = wanted - fresh.keys()
        total = self._doc_total[1]
        if missing or now - self._doc_total[0] >= self._df_cache_seconds:
            if len(self._df_cache) > 100_000:
                self._df_cache.clear()
            found = self.engine.doc_freqs({w for kind, w in missing if kind == "w"}, {c for kind, c in missing if kind == "c"})
            total = found.total
            self._doc_total = (now, total)
            for kind, term in missing:
                df = (found.words if kind == "w" else found.chars).get(term, 0)
                self._df_cache[(kind, term)] = (now, df)
                fresh[(kind, term)] = df
        return DocFreqs(
            total=total,
            words={w: df for (kind, w), df in fresh.items() if kind == "w"},
            chars={c: df for (kind, c), df in fresh.items() if kind == "c"},
        )

    def matching_records(self, request: SearchRequest, batch: int = 500) -> Iterator[Record]:
        """Every record matching the request (not one page), for export.

        The same records as the search's `total` counts (each record is one index unit). The
        request is validated before the first record is produced, so a bad one fails before
        any output.
        """
        filters = self.filters(request)
        sort = request.sort or ("relevance" if request.q.strip() else "date")
        parsed = parse_query(request.q, self.segmenter)
        node = self.rewriter.expand(parsed.node)[0] if request.expand else parsed.node
        dfs = self._doc_freqs(query_words(node), query_chars(node))
        match = _with_fallbacks(node, dfs)
        relaxed = relax(node) if request.partial else None
        if relaxed is not None:
            # the same records the search page lists: partial matches when too few hold every word
            strict = self.engine.search(EngineQuery(match=match, filters=filters, size=1)).total
            if strict < MIN_STRICT_RESULTS:
                partial = _with_fallbacks(relaxed, dfs)
                if self.engine.search(EngineQuery(match=partial, filters=filters, size=1)).total > strict:
                    match = partial

        def generate() -> Iterator[Record]:
            after: str | None = None
            while True:
                page = self.engine.search(
                    EngineQuery(match=match, filters=filters, sort=sort, size=batch, after=after, with_records=True)
                )
                records = self._records_of(page.hits)
                for hit in page.hits:
                    if hit.record_id in records:  # (not deleted since the index answered)
                        yield records[hit.record_id]
                if page.next_after is None or not page.hits:
                    return
                after = page.next_after

        return generate()

    def filters(self, request: SearchRequest) -> Filters:
        """Validate and normalize the filters of a request (labels → codes, ISO codes)."""
        for name in ("crime_form", "doc_type", "country", "court", "charge"):
            count = len(getattr(request, name))
            if count > MAX_FILTER_VALUES:
                raise InvalidParameter(
                    f"{name}: at most {MAX_FILTER_VALUES} values per filter, not {count}",
                    {"field": name, "count": count, "limit": MAX_FILTER_VALUES},
                )
        forms = []
        for value in request.crime_form:
            code = TAXONOMY.resolve(value)
            if code is None:
                raise BadRequest(
                    f"unknown crime form {value!r}; GET /v1/crime-forms lists them", {"crime_form": value}
                )
            forms.append(code)
        for value in request.doc_type:
            if value not in ("case", "resolution"):
                raise BadRequest(f"doc_type must be 'case' or 'resolution', not {value!r}", {"doc_type": value})
        codes = []
        for value in request.country:
            try:
                codes.append(countries.normalize(value))
            except ValueError as exc:
                raise BadRequest(str(exc), {"country": value}) from None
        for name in ("year_from", "year_to"):
            year = getattr(request, name)
            if year is not None and not MIN_YEAR <= year <= MAX_YEAR:
                # a JSON body is not bounded by the GET route's checks; an engine must never see it
                raise InvalidParameter(f"{name} must be between {MIN_YEAR} and {MAX_YEAR}", {name: year})
        if request.year_from is not None and request.year_to is not None and request.year_from > request.year_to:
            raise BadRequest(
                f"year_from ({request.year_from}) is after year_to ({request.year_to})",
                {"year_from": request.year_from, "year_to": request.year_to},
            )
        return Filters(
            crime_form=tuple(dict.fromkeys(forms)),
            doc_type=tuple(dict.fromkeys(request.doc_type)),
            country=tuple(dict.fromkeys(codes)),
            court=tuple(dict.fromkeys(c.strip() for c in request.court if c.strip())),
            charge=tuple(dict.fromkeys(c.strip().removesuffix("罪") for c in request.charge if c.strip())),
            year_from=request.year_from,
            year_to=request.year_to,
        )

    def _dress(
        self, engine_hits: list[EngineHit], needles: list[str], explained: list[tuple[str, str | None]] | None = None
    ) -> list[Hit]:
        records = self._records_of(engine_hits)
        hits = []
        for engine_hit in engine_hits:
            record = records.get(engine_hit.record_id)
            if record is None:  # deleted between the index answer and the lookup
                continue
            hit = dress_hit(record, engine_hit.score, needles, self.segmenter)
            if explained is not None:
                hit.explanation = explain_hit(record, explained)
            hits.append(hit)
        return hits

    def _records_of(self, engine_hits: list[EngineHit]) -> dict[str, Record]:
        """The records of these hits: those the engine sent along, the rest looked up at once."""
        records = {h.record_id: h.record for h in engine_hits if h.record is not None}
        missing = [h.record_id for h in engine_hits if h.record_id not in records]
        if missing:
            records.update(self.engine.get_many(missing))
        return records

    def _facet_buckets(
        self, raw: dict[str, list[tuple[str, int]]], filters: Filters
    ) -> dict[str, list[FacetBucket]]:
        out: dict[str, list[FacetBucket]] = {}
        for name, buckets in raw.items():
            selected = set(getattr(filters, name, ()) or ())
            counts = dict(buckets)
            if name == "crime_form":
                # Every form is listed, in taxonomy order, so the chips never move around.
                out[name] = [
                    FacetBucket(value=f.code, label=f.zh, count=counts.get(f.code, 0), selected=f.code in selected)
                    for f in TAXONOMY.forms
                ]
                continue
            if name == "year":
                ordered = sorted(buckets, key=lambda b: -int(b[0]))
                out[name] = [FacetBucket(value=v, label=f"{v}年", count=c) for v, c in ordered]
                continue
            rows = [FacetBucket(value=v, label=_facet_label(name, v), count=c, selected=v in selected) for v, c in buckets]
            for value in selected - counts.keys():  # a selected value stays visible at 0
                rows.append(FacetBucket(value=value, label=_facet_label(name, value), count=0, selected=True))
            out[name] = rows
        return out

    # ---- single records ----------------------------------------------------------------
    def get(self, record_id: str) -> Record:
        record = self.engine.get(record_id)
        if record is None:
            raise NotFound(f"no record with id {record_id!r}", {"id": record_id})
        return record

    def related(self, record_id: str, size: int = 10) -> list[Hit]:
        """Records similar to this one, by the similar-case method (its own text as the facts)."""
        from indexing.similar.search import related_cases  # the similar package builds on this module

        return list(related_cases(self, self.get(record_id), size).hits)

    def similar(self, request: "SimilarRequest") -> "SimilarResult":
        """Similar-case search (类案检索): pasted facts in, ranked similar cases with reasons out."""
        from indexing.similar.search import similar_cases

        return similar_cases(self, request)

    def _search_as_similar(self, request: SearchRequest, offset: int) -> SearchResult:
        """A long plain-text query: the similar-case answer in the shape of a search answer."""
        from indexing.similar.models import SimilarRequest
        from indexing.similar.search import similar_cases

        fields = request.model_dump(include={"crime_form", "doc_type", "country", "court", "charge",
                                             "year_from", "year_to", "size", "cursor"})
        found = similar_cases(self, SimilarRequest(text=request.q, **fields), offset)
        return SearchResult(
            query=request.q,
            total=found.total,
            page=None if request.cursor else request.page,
            size=request.size,
            sort="relevance",
            match="similar",
            took_ms=found.took_ms,
            hits=list(found.hits),
            facets={},
            next_cursor=found.next_cursor,
        )

    def doc_freqs(self, words: AbstractSet[str], chars: AbstractSet[str] = frozenset()) -> DocFreqs:
        """Document frequencies of words and characters in the index (cached for a minute)."""
        return self._doc_freqs(words, chars)

    def records_of(self, engine_hits: list[EngineHit]) -> dict[str, Record]:
        """The records of engine hits, looked up only where the engine did not send them."""
        return self._records_of(engine_hits)

    def crime_form_counts(self) -> dict[str, int]:
        """Number of records carrying each crime form (a sub-form counts for its parent)."""
        query = EngineQuery(
            match=MatchAll(),
            size=1,
            facets=(FacetRequest("crime_form", len(TAXONOMY.forms)),),
        )
        return dict(self.engine.search(query).facets.get("crime_form", []))


_EXPLAIN_FIELDS = ("title", "summary", "full_text", "charges", "keywords", "legal_basis", "court", "case_number")


def explain_words(node: Node, expansions: list[Expansion]) -> list[tuple[str, str | None]]:
    """(word, the query word it stands for) pairs to look for in a hit; None = the user's own."""
    words: list[tuple[str, str | None]] = [(w, None) for w in highlight_needles(node)]
    for expansion in expansions:
        words += [(fold(e), expansion.term) for e in expansion.expansions]
        words += [(c, expansion.term) for c in expansion.charges]
    return list(dict.fromkeys(words))


def explain_hit(record: Record, words: list[tuple[str, str | None]]) -> list[MatchedWord]:
    """Where each query word (or synonym) occurs in the hit, field by field.

    Checked on the record's own text, folded like the index, so it reads the same on both
    engines; a resolution's paragraphs are its `full_text`, as in the index.
    """
    texts: dict[str, str] = {}
    if isinstance(record, CaseDigest):
        for name in _EXPLAIN_FIELDS:
            value = getattr(record, name)
            texts[name] = "；".join(value) if isinstance(value, list) else (value or "")
    else:
        texts = {
            "title": record.title,
            "summary": record.summary or "",
            "full_text": "\n".join(p.text for p in record.paragraphs),
        }
    folded = {name: fold(text) for name, text in texts.items() if text}
    charges = set(record.charges) if isinstance(record, CaseDigest) else set()
    out = []
    for word, for_word in words:
        fields = [name for name, text in folded.items() if word and word in text]
        if word in charges and "charges" not in fields:
            fields.append("charges")
        if fields:
            out.append(MatchedWord(word=word, for_word=for_word, fields=fields))
    return out


def highlight_needles(node: Any) -> list[str]:
    """Folded strings to mark in hits: the query's words and phrases.

    A run cut into several words (`Words`) is marked where the text spells it, and by those
    of its words that are more than one character: a lone character (为 of 为他人谋取利益)
    is marked only where the user typed it as a word of its own.
    """
    needles = []
    for term in positive_terms(node):
        if isinstance(term, Term):
            needles.append(term.word)
        elif isinstance(term, Words):
            needles.append(term.text)
            needles.extend(p for p in term.parts if len(p) > 1)
        else:
            needles.append("".join(term.chars))
    return list(dict.fromkeys(needles))


def dress_hit(record: Record, score: float, needles: list[str], segmenter: Segmenter) -> Hit:
    """A search hit for a record; a resolution's matching paragraphs are its `parts`."""
    badges = [
        CrimeFormBadge(code=t.code, label=TAXONOMY.get(t.code).zh, source=t.source)  # type: ignore[union-attr]
        for t in record.crime_forms
    ]
    title_html = marked(record.title, needles, segmenter)
    if isinstance(record, CaseDigest):
        highlights = snippets(record.summary, needles, segmenter)
        if record.full_text and not match_spans(record.summary, needles, segmenter):
            highlights = snippets(record.full_text, needles, segmenter) or highlights
        return Hit(
            id=record.id,
            doc_type="case",
            title=record.title,
            title_html=title_html,
            court=record.court,
            country=record.country,
            country_name=countries.chinese_name(record.country) if record.country else None,
            date=record.decision_date,
            case_number=record.case_number,
            crime_forms=badges,
            charges=record.charges,
            highlights=highlights,
            score=round(score, 4),
            url=f"/v1/cases/{record.id}",
        )
    parts = matching_parts(record, needles, segmenter)
    best = record.paragraph(parts[0].anchor) if parts else None
    ref = ResolutionRef(
        id=record.id,
        number=record.number,
        body=record.body,
        paragraph=ParagraphRef(kind=best.kind, number=best.number, anchor=best.anchor, label=best.label)
        if best
        else None,
        url=f"/v1/resolutions/{record.id}" + (f"#{best.anchor}" if best else ""),
    )
    summary = record.summary or record.paragraphs[0].text
    if match_spans(summary, needles, segmenter) or not parts:
        highlights = snippets(summary, needles, segmenter)
    else:  # the summary holds no query word: the best paragraph's snippet says why it matched
        highlights = parts[0].highlights
    return Hit(
        id=record.id,
        doc_type="resolution",
        title=record.title,
        title_html=title_html,
        court=record.body,
        date=record.adoption_date,
        case_number=f"第{record.number}号决议",
        crime_forms=badges,
        highlights=highlights,
        score=round(score, 4),
        url=ref.url,
        resolution=ref,
        parts=parts,
    )


def query_chars(node: Node) -> set[str]:
    """The character tokens of the query's words (what their character runs would match)."""
    return {c for word in query_words(node) for c in Segmenter.chars(word)}


def _with_fallbacks(node: Node, dfs: DocFreqs) -> Node:
    """Give words a character-run alternative where it can add recall at a bounded cost.

    A word in more than `CHAR_FALLBACK_MAX_DF` of the documents gains nothing from it, and a
    run whose rarest character is in most documents would make the engine check positions in
    most documents, the slowest query there is.
    """
    limit = CHAR_FALLBACK_MAX_DF * max(dfs.total, 1)
    return with_fallbacks(
        node, lambda word: dfs.words.get(word, 0) <= limit and _rare_enough(Segmenter.chars(word), dfs)
    )


def _rare_enough(chars: tuple[str, ...] | list[str], dfs: DocFreqs) -> bool:
    """Whether a character run is cheap to match: its rarest character is not too common."""
    if not chars:  # text without letters, digits or Han (e.g. "__") has no run to match
        return False
    rarest = min((dfs.chars.get(c, 0) for c in chars), default=0)
    return rarest <= CHAR_RUN_MAX_DF * max(dfs.total, 1)


def _facet_size(name: str, size: int) -> int:
    return {"crime_form": 100, "doc_type": 10, "year": 300}.get(name, size)


def _facet_label(name: str, value: str) -> str:
    if name == "country":
        return countries.chinese_name(value)
    if name == "doc_type":
        return {"case": "案例", "resolution": "决议"}.get(value, value)
    return value


def _fingerprint(request: SearchRequest, sort: str) -> str:
    key = request.model_dump(exclude={"page", "cursor", "facet_size"})
    key["sort"] = sort
    return hashlib.sha256(json.dumps(key, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
