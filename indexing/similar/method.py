"""The similar-case method: key terms → weighted OR over the index → charge vote → re-rank.

1. The facts' key terms (`keyterms`) make one weighted OR query (BM25 per term, times the
   term's tf·idf weight), the same tree on both engines.
2. The first candidates vote on the charges, crime forms and statute articles of the facts
   (`charge_vote`); a record whose own charges are known (related cases) uses them instead.
3. Candidates are re-ranked by their text score (relative to the best) plus how much of the
   predicted charge mass they carry, so a case of the same conduct outranks one that only
   shares words.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from indexing.records.crime_forms import TAXONOMY
from indexing.engines.base import Record
from indexing.errors import BadRequest
from indexing.text.folding import fold
from indexing.query.model import Boosted, ChargeIs, DocFreqs, EngineQuery, Filters, Node, Or, Term
from indexing.records.model import CaseDigest, Resolution
from indexing.text.segmenter import Segmenter
from indexing.similar.charge_model import FORMS_FROM_CHARGES_WEIGHT, blend, forms_of_charges
from indexing.similar.charge_vote import Prediction, vote
from indexing.similar.keyterms import KeyTerm, candidate_words, key_terms
from indexing.similar.models import (
    MAX_RESULTS,
    MAX_TEXT_CHARS,
    PredictedLabel,
    WeightedTerm,
    WhySimilar,
)

# Weight of the predicted-charge agreement against the text score (which is scaled to 0..1).
CHARGE_WEIGHT = 1.5
# A candidate's charges that the facts give (almost) no vote to count against it: a case of
# theft plus robbery is less alike to plain theft facts than a case of theft alone.
EXTRA_CHARGE_PENALTY = 0.6
UNVOTED = 0.05
# Fields the key terms are looked for in (None: every text field, with the usual field weights).
FIELDS: tuple[str, ...] | None = ("summary", "full_text")
# How many of the best text matches are re-ranked (and voted on); pages end there.
CANDIDATES = MAX_RESULTS
# Predictions below this confidence are not shown as reasons.
SHOWN_CONFIDENCE = 0.2


@dataclass(frozen=True)
class Plan:
    """What the facts come to before any candidate is ranked."""

    terms: list[KeyTerm]
    query: EngineQuery


def record_text(record: Record) -> str:
    """The text of a record that stands for its facts (title, summary, full text, paragraphs)."""
    parts = [record.title, record.summary or ""]
    if isinstance(record, CaseDigest) and record.full_text:
        parts.append(record.full_text)
    if isinstance(record, Resolution):
        parts += [p.text for p in record.paragraphs]
    return "\n".join(parts)


def plan(
    text: str,
    segmenter: Segmenter,
    doc_freqs: Callable[[set[str]], DocFreqs],
    filters: Filters,
    exclude: Sequence[str] = (),
    charges: Sequence[str] = (),
) -> Plan:
    """The key terms of `text` and the engine query that finds its candidates.

    Known `charges` (a record's own, for related cases) also find candidates, weighted like
    the best key term: a case of the same charge told in other words is still related.
    """
    terms = key_terms(candidate_words(segmenter.words(fold(text))), doc_freqs)
    clauses: list[Node] = [Boosted(_term(t.word), round(t.weight, 4)) for t in terms]
    if terms:
        clauses += [Boosted(ChargeIs(c), round(terms[0].weight, 4)) for c in charges]
    query = EngineQuery(
        match=Or(tuple(clauses)),
        filters=filters,
        exclude_records=tuple(exclude),
        size=CANDIDATES,
        with_records=True,
    )
    return Plan(terms, query)


def _term(word: str) -> Term | Or:
    if FIELDS is None:
        return Term(word)
    return Or(tuple(Term(word, field) for field in FIELDS))


@dataclass(frozen=True)
class Ranked:
    record: Record
    unit_id: str
    similarity: float


def rank(
    candidates: Sequence[tuple[float, str, Record]], charges: Sequence[Prediction]
) -> list[Ranked]:
    """Re-rank (text score, unit id, record) candidates by text score and charge agreement."""
    if not candidates:
        return []
    best = max(score for score, _, _ in candidates) or 1.0
    mass = {p.value: p.confidence for p in charges}
    out = []
    for score, unit_id, record in candidates:
        own = record.charges if isinstance(record, CaseDigest) else []
        agreement = sum(mass.get(c, 0.0) for c in own)
        extra = sum(1 for c in own if mass.get(c, 0.0) < UNVOTED)
        similarity = score / best + CHARGE_WEIGHT * min(agreement, 1.0) - EXTRA_CHARGE_PENALTY * CHARGE_WEIGHT * min(extra, 1)
        out.append(Ranked(record, unit_id, round(similarity, 4)))
    out.sort(key=lambda r: (-r.similarity, r.record.id))
    return out


def predictions(
    candidates: Sequence[tuple[float, str, Record]], text: str = "", modelled: Sequence[Prediction] = ()
) -> tuple[list[Prediction], list[Prediction], list[Prediction]]:
    """Charges, crime forms and statute articles of the facts `text`.

    Charges: the nearest candidates' vote blended with the charge model's `modelled` charges
    (`charge_model`); crime forms: those of the predicted charges blended with the vote.
    """
    voted = vote([(s, r.charges if isinstance(r, CaseDigest) else []) for s, _, r in candidates])
    charges = blend(modelled, voted)
    forms = blend(forms_of_charges(charges, text), vote([(s, r.crime_form_codes) for s, _, r in candidates]),
                  FORMS_FROM_CHARGES_WEIGHT)
    articles = vote([(s, r.legal_basis if isinstance(r, CaseDigest) else []) for s, _, r in candidates])
    return charges, forms, articles


def why(record: Record, terms: Sequence[KeyTerm], charges: Sequence[Prediction], articles: Sequence[Prediction]) -> WhySimilar:
    """The key terms, (predicted or known) charges and statute articles a candidate shares with the facts."""
    folded = fold(record_text(record))
    shown_charges = {p.value for p in charges if p.confidence >= SHOWN_CONFIDENCE}
    shown_articles = {p.value for p in articles if p.confidence >= SHOWN_CONFIDENCE}
    own_charges = record.charges if isinstance(record, CaseDigest) else []
    own_articles = record.legal_basis if isinstance(record, CaseDigest) else []
    return WhySimilar(
        shared_terms=[WeightedTerm(word=t.word, weight=round(t.weight, 3)) for t in terms if t.word in folded],
        shared_charges=[c for c in own_charges if c in shown_charges],
        shared_articles=[a for a in own_articles if a in shown_articles],
    )


def labels(predictions: Sequence[Prediction], label: Callable[[str], str], at_least: int = 0) -> list[PredictedLabel]:
    """The predictions worth showing (at most 5); the first `at_least` whatever their confidence.

    A user weighing the charges of the facts wants the three likeliest even when the model
    hesitates; each comes with its confidence.
    """
    return [PredictedLabel(value=p.value, label=label(p.value), confidence=p.confidence)
            for rank, p in enumerate(predictions) if rank < at_least or p.confidence >= SHOWN_CONFIDENCE / 2][:5]


def form_label(code: str) -> str:
    form = TAXONOMY.get(code)
    return form.zh if form else code


def check_text(text: str) -> str:
    """The facts, stripped; a 400 when there are none or too many."""
    text = text.strip()
    if not text:
        raise BadRequest("text is empty: paste the facts of the case", {"text_chars": 0})
    if len(text) > MAX_TEXT_CHARS:
        raise TextTooLong(
            f"text has {len(text)} characters; similar-case search takes at most {MAX_TEXT_CHARS}",
            {"text_chars": len(text), "max_chars": MAX_TEXT_CHARS},
        )
    return text


class TextTooLong(BadRequest):
    code = "text_too_long"
    status = 413


def fingerprint(text: str, filters: Filters) -> str:
    key = json.dumps([text, repr(filters)], ensure_ascii=False)
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def timed() -> Callable[[], float]:
    started = time.perf_counter()
    return lambda: round((time.perf_counter() - started) * 1000, 2)
