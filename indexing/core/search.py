"""The search core: one `SearchService.search(request) -> SearchResult` for every front door.

The JSON API, the CLI, the web page and export all call this; they differ only in how they
render the result. The core validates the request, parses the query, asks the engine, and
dresses the hits (records, highlights, resolution paragraphs, facet labels).
"""

from __future__ import annotations

import time
from dataclasses import replace
from functools import cached_property
from typing import TYPE_CHECKING, AbstractSet, Iterator, Literal


from indexing.records import countries
from indexing.records.crime_forms import TAXONOMY
from indexing.core.cursor import CursorCodec, Position
from indexing.engines.base import Engine, Record
from indexing.errors import BadRequest, InvalidCursor, InvalidParameter, NotFound
from indexing.query.model import (
    FACET_NAMES,
    DocFreqs,
    EngineHit,
    EngineQuery,
    EngineResult,
    FacetRequest,
    Filters,
    MatchAll,
    Node,
    Phrase,
    match_share,
    phrase_texts,
    query_words,
)
from indexing.query.parser import is_long_plain_text, parse_query
from indexing.query.rewrite import Rewriter, relaxations
from indexing.query.ranking import MIN_STRICT_RESULTS, PHRASE_BOOST
from indexing.text.segmenter import Segmenter
from indexing.core.models import (
    MAX_FILTER_VALUES,
    MAX_PAGE_DEPTH,
    MAX_PAGE_SIZE,
    MAX_YEAR,
    MIN_YEAR,
    ExpansionView,
    FacetBucket,
    Hit,
    SearchFilters,
    SearchRequest,
    SearchResult,
)
from indexing.core.planning import facet_size_for, search_fingerprint, fallbacks_where_cheap, query_chars, rare_enough
from indexing.core.feedback import HEAD, rerank
from indexing.core.dressing import dress_hit, explain_hit, explain_words, facet_label, highlight_needles

if TYPE_CHECKING:
    from indexing.similar.charge_model import ChargePredictor
    from indexing.similar.models import SimilarRequest, SimilarResult

class SearchService:
    """The one search core over one engine."""

    def __init__(
        self,
        engine: Engine,
        segmenter: Segmenter,
        df_cache_seconds: float = 60.0,
        cursor_secret: str | None = None,
        charge_feedback: bool = True,
    ) -> None:
        self.engine = engine
        self.charge_feedback = charge_feedback  # off only to measure what it does (bench/)
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
        fingerprint = search_fingerprint(request, sort)
        position = self.cursors().decode(request.cursor, fingerprint) if request.cursor else None
        phrases = [p for p in parsed.phrase_boosts if p.scope is None]
        dfs = self._doc_freqs(query_words(node) | phrase_texts(node),
                              {c for p in phrases for c in p.chars} | query_chars(node))
        boosts = tuple(
            (Phrase(p.chars, field), weight)
            for p in phrases
            if rare_enough(p.chars, dfs)
            for field, weight in PHRASE_BOOST.items()
        )
        engine_query = EngineQuery(
            match=fallbacks_where_cheap(node, dfs),
            filters=filters,
            boosts=boosts,
            sort=sort,
            offset=offset,
            size=request.size,
            after=position.after if position else None,
            facets=tuple(FacetRequest(name, facet_size_for(name, request.facet_size)) for name in FACET_NAMES),
            with_records=True,
            match_share=match_share(node, dfs),
        )
        match_kind: Literal["all", "partial"] = position.match if position else "all"
        head_at = _head_position(sort, offset, position) if self.charge_feedback else None
        rungs = relaxations(node) if request.partial else []
        partial: Node | None = None
        if match_kind == "partial" and rungs:
            # a later page of partial matches: the same partial match the first page chose
            strict_total = self._count(engine_query)
            partial = self._partial_match(rungs, engine_query, dfs, strict_total)
        if partial is not None:
            result = self._page(replace(engine_query, match=partial), head_at)
        else:
            result = self._page(engine_query, head_at)
            if result.total < MIN_STRICT_RESULTS and rungs and position is None:
                # Graceful AND: too few records hold every word; offer the best partial matches.
                partial = self._partial_match(rungs, engine_query, dfs, result.total)
                if partial is not None:
                    result, match_kind = self._page(replace(engine_query, match=partial), head_at), "partial"
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

    def _page(self, query: EngineQuery, head_at: int | None) -> EngineResult:
        """One page of a search. From `head_at` on, the page is cut from the head of the
        ranking re-ranked by charge feedback (`core/feedback.py`); a page that runs past the
        head goes on in the engine's order, after the head's last record."""
        if head_at is None:
            return self.engine.search(query)
        # Only the labels of the head: the records of the page are read when it is dressed.
        head = self.engine.search(replace(query, offset=0, after=None, size=HEAD, with_records=False, with_labels=True))
        order = rerank([(h.score, h.labels.charges if h.labels else ()) for h in head.hits])
        hits = [head.hits[i] for i in order[head_at : head_at + query.size]]
        following = head_at + len(hits)
        next_after = f"{HEAD_CURSOR}{following}" if following < len(order) else head.next_after
        if len(hits) < query.size and head.next_after is not None:
            rest = self.engine.search(
                replace(query, offset=0, after=head.next_after, size=query.size - len(hits), facets=())
            )
            hits += rest.hits
            next_after = rest.next_after
        return EngineResult(total=head.total, hits=hits, facets=head.facets, next_after=next_after)

    def _count(self, query: EngineQuery) -> int:
        """How many records a query matches (no page, no facets)."""
        return self.engine.search(
            replace(query, offset=0, size=1, after=None, facets=(), boosts=(), with_records=False, with_labels=False)
        ).total

    def _partial_match(self, rungs: list[Node], query: EngineQuery, dfs: DocFreqs, strict_total: int) -> Node | None:
        """The partial match a search falls back to (None: no rung finds more than `strict_total`).

        The first rung (`rewrite.relaxations`, strictest first) that finds a page's worth
        (`MIN_STRICT_RESULTS`), else the one that finds the most. Decided by counts alone, so a
        later page and an export decide it the same way as the first page did.
        """
        chosen, best = None, strict_total
        for rung in rungs:
            match = fallbacks_where_cheap(rung, dfs)
            total = self._count(replace(query, match=match))
            if total > best:
                chosen, best = match, total
            if best >= MIN_STRICT_RESULTS:
                break
        return chosen

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
        match = fallbacks_where_cheap(node, dfs)
        rungs = relaxations(node) if request.partial else []
        if rungs:
            # the same records the search page lists: partial matches when too few hold every word
            strict = EngineQuery(match=match, filters=filters, size=1)
            strict_total = self._count(strict)
            if strict_total < MIN_STRICT_RESULTS:
                match = self._partial_match(rungs, strict, dfs, strict_total) or match

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

    def filters(self, request: SearchFilters) -> Filters:
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
            rows = [FacetBucket(value=v, label=facet_label(name, v), count=c, selected=v in selected) for v, c in buckets]
            for value in selected - counts.keys():  # a selected value stays visible at 0
                rows.append(FacetBucket(value=value, label=facet_label(name, value), count=0, selected=True))
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

    @cached_property
    def charge_predictor(self) -> "ChargePredictor":
        """The charge model of this index, trained from its own cases when first asked."""
        from indexing.similar.charge_model import ChargePredictor

        return ChargePredictor(self.engine.iter_records, self.engine.count_records, self.segmenter)

    def similar(self, request: "SimilarRequest") -> "SimilarResult":
        """Similar-case search (类案检索): pasted facts in, ranked similar cases with reasons out."""
        from indexing.similar.search import similar_cases

        return similar_cases(self, request)

    def _search_as_similar(self, request: SearchRequest, offset: int) -> SearchResult:
        """A long plain-text query: the similar-case answer in the shape of a search answer."""
        from indexing.similar.models import SimilarRequest
        from indexing.similar.search import similar_cases

        fields = request.model_dump(include={*SearchFilters.model_fields, "size", "cursor"})
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


# A cursor position inside the re-ranked head ("head:30"); engines' own positions never take
# this form (digits on the embedded engine, base64 on Elasticsearch), and cursors are signed.
HEAD_CURSOR = "head:"


def _head_position(sort: str, offset: int, position: Position | None) -> int | None:
    """Where in the re-ranked head a page starts; None when it is not in the head at all."""
    if sort != "relevance":
        return None
    if position is None:
        return offset if offset < HEAD else None
    if not position.after.startswith(HEAD_CURSOR):
        return None
    at = position.after[len(HEAD_CURSOR):]
    if not at.isascii() or not at.isdigit() or int(at) >= HEAD:
        raise InvalidCursor("cursor is not one this service issued", {"cursor": position.after[:100]})
    return int(at)

