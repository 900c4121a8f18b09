"""Similar-case search over the one search core: `similar_cases` and `related_cases`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Sequence

from indexing.engines.base import Record
from indexing.core.cursor import Position
from indexing.errors import BadRequest, InvalidCursor
from indexing.query.model import Filters
from indexing.records.model import CaseDigest
from indexing.core.models import MAX_PAGE_SIZE
from indexing.core.dressing import dress_hit
from indexing.similar import method
from indexing.similar.charge_vote import Prediction
from indexing.similar.models import MAX_RESULTS, SimilarHit, SimilarRequest, SimilarResult, WeightedTerm

if TYPE_CHECKING:
    from indexing.core.search import SearchService


def similar_cases(service: "SearchService", request: SimilarRequest, offset: int = 0) -> SimilarResult:
    """Cases similar to pasted facts, ranked, each with why; and what the facts predict.

    Pages go on with the answer's `next_cursor`; `offset` starts elsewhere without one (a
    search front door that pages by number).
    """
    elapsed = method.timed()
    text = method.check_text(request.text)
    if not 1 <= request.size <= MAX_PAGE_SIZE:
        raise BadRequest(f"size must be between 1 and {MAX_PAGE_SIZE}", {"size": request.size})
    filters = service.filters(request)
    owner = method.fingerprint(text, filters)
    if request.cursor:
        offset = _offset(service.cursors().decode(request.cursor, owner))
    return _run(service, text, filters, (), None, offset, request.size, owner, elapsed)


def related_cases(service: "SearchService", record: Record, size: int) -> SimilarResult:
    """Records similar to one record: its own text as the facts, its own charges as known."""
    elapsed = method.timed()
    if not 1 <= size <= MAX_PAGE_SIZE:
        raise BadRequest(f"size must be between 1 and {MAX_PAGE_SIZE}", {"size": size})
    known = [Prediction(c, 1.0) for c in record.charges] if isinstance(record, CaseDigest) and record.charges else None
    text = method.record_text(record)[: method.MAX_TEXT_CHARS]
    return _run(service, text, Filters(), (record.id,), known, 0, size, None, elapsed)


def _offset(position: Position) -> int:
    """The offset a (signed) similar-case cursor holds: within the ranked candidates."""
    after = position.after
    if not after.isascii() or not after.isdigit() or int(after) >= MAX_RESULTS:
        raise InvalidCursor("cursor is not one this service issued", {"cursor": after[:100]})
    return int(after)


def _run(
    service: "SearchService",
    text: str,
    filters: Filters,
    exclude: Sequence[str],
    known_charges: list[Prediction] | None,
    offset: int,
    size: int,
    owner: str | None,
    elapsed: Callable[[], float],
) -> SimilarResult:
    known = [p.value for p in known_charges or ()]
    plan = method.plan(text, service.segmenter, lambda words: service.doc_freqs(words), filters, exclude, known)
    candidates: list[method.Candidate] = []
    if plan.terms:
        seen: set[str] = set()
        for hit in service.engine.search(plan.query).hits:
            if hit.labels is not None and hit.record_id not in seen:
                seen.add(hit.record_id)
                candidates.append(method.Candidate(hit.score, hit.unit_id, hit.record_id, hit.labels))
    charges, forms, articles = method.predictions(candidates, text, service.charge_predictor.predict(text))
    ranked = method.rank(candidates, known_charges or charges)
    needles = [t.word for t in plan.terms]
    page = ranked[offset : offset + size]
    # Only the records of the page shown are read in full (the others were ranked by labels).
    records = service.engine.get_many([r.record_id for r in page])
    hits = []
    for item in page:
        record = records.get(item.record_id)
        if record is None:  # deleted since the index answered
            continue
        hit = dress_hit(record, item.similarity, needles, service.segmenter)
        hits.append(SimilarHit(**dict(hit), similarity=item.similarity,  # (its parts already validated)
                               why=method.why(record, plan.terms, known_charges or charges, articles)))
    following = offset + len(page)
    return SimilarResult(
        text_chars=len(text),
        total=len(ranked),
        size=size,
        took_ms=elapsed(),
        key_terms=[WeightedTerm(word=t.word, weight=round(t.weight, 3)) for t in plan.terms],
        predicted_charges=method.labels(charges, lambda c: c, at_least=3),
        predicted_crime_forms=method.labels(forms, method.form_label),
        hits=hits,
        next_cursor=(
            service.cursors().encode(Position(str(following), "all"), owner) if owner and following < len(ranked) else None
        ),
    )
