"""The similar-case method: key terms → weighted OR over the index → charge vote → re-rank.

1. The facts' key terms (`keyterms`, chosen by tf·idf) make one weighted OR query (BM25 per
   term, times the term's count in the facts), the same tree on both engines. The engine
   sends back only each candidate's labels; full records are read for the page shown.
2. The first candidates vote on the charges, crime forms and statute articles of the facts
   (`charge_vote`); a record whose own charges are known (related cases) uses them instead.
3. Candidates are re-ranked by their text score (relative to the best) plus how much of the
   predicted charge mass they carry, so a case of the same conduct outranks one that only
   shares words.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

from indexing.records.crime_forms import TAXONOMY
from indexing.engines.base import Record
from indexing.errors import BadRequest
from indexing.text.folding import fold
from indexing.query.model import Boosted, ChargeIs, DocFreqs, EngineQuery, Filters, Node, Or, RecordLabels, Term
from indexing.records.model import CaseDigest, Resolution
from indexing.text.segmenter import Segmenter
from indexing.core.feedback import charge_agreement
from indexing.query import ranking
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

# Weight of the predicted-charge agreement against the text score (which is scaled to 0..1),
# and what a candidate loses for a charge the facts give (almost) no vote: a case of theft
# plus robbery is less alike to plain theft facts than a case of theft alone. Search's charge
# feedback uses the same weights (`query/ranking.py`); a benchmark may set these to tune them.
CHARGE_WEIGHT = ranking.FEEDBACK_CHARGE_WEIGHT
EXTRA_CHARGE_PENALTY = ranking.FEEDBACK_EXTRA_CHARGE_PENALTY
# Fields the key terms are looked for in (None: every text field, with the usual field weights).
FIELDS: tuple[str, ...] | None = ("summary", "full_text")
# How many of the best text matches are re-ranked (and voted on); pages end there.
CANDIDATES = MAX_RESULTS
# How much of a key term's idf goes into its query weight. BM25 already weighs each match by
# the term's idf; adding it again squared it, so a rare incidental word (a place, a name) that
# one long candidate happened to hold outweighed the conduct words all same-charge cases share.
# Once (0.0) wins on both corpora of bench/similar.py's tune split (digests nDCG@10 0.740 → 0.761,
# long 0.718 → 0.787 before the boilerplate share was raised).
QUERY_IDF_POWER = 0.0
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
    clauses: list[Node] = [Boosted(_term(t.word), round(boost(t), 4)) for t in terms]
    if terms:
        clauses += [Boosted(ChargeIs(c), round(max(boost(t) for t in terms), 4)) for c in charges]
    query = EngineQuery(
        match=Or(tuple(clauses)),
        filters=filters,
        exclude_records=tuple(exclude),
        size=CANDIDATES,
        with_labels=True,
        count_total=False,  # only the best CANDIDATES are ranked: no need to count every match
    )
    return Plan(terms, query)


def boost(term: KeyTerm) -> float:
    """A key term's weight in the engine query: its count in the facts, times its idf to `QUERY_IDF_POWER`.

    BM25 already multiplies each matching term by its idf; the key term's own weight holds
    the idf once more, which squares it (see `QUERY_IDF_POWER`).
    """
    count = 1 + math.log(term.tf)
    return count * (term.weight / count) ** QUERY_IDF_POWER


def _term(word: str) -> Term | Or:
    if FIELDS is None:
        return Term(word)
    return Or(tuple(Term(word, field) for field in FIELDS))


@dataclass(frozen=True)
class Candidate:
    """A text match as ranking sees it: its score and its labels, not its text."""

    score: float
    unit_id: str
    record_id: str
    labels: RecordLabels


@dataclass(frozen=True)
class Ranked:
    record_id: str
    unit_id: str
    similarity: float


def rank(candidates: Sequence[Candidate], charges: Sequence[Prediction]) -> list[Ranked]:
    """Re-rank candidates by text score and charge agreement (`core.feedback.charge_agreement`)."""
    similarity = charge_agreement(
        [(c.score, c.labels.charges) for c in candidates], charges, CHARGE_WEIGHT, EXTRA_CHARGE_PENALTY
    )
    out = [Ranked(c.record_id, c.unit_id, round(s, 4)) for c, s in zip(candidates, similarity)]
    out.sort(key=lambda r: (-r.similarity, r.record_id))
    return out


def predictions(
    candidates: Sequence[Candidate], text: str = "", modelled: Sequence[Prediction] = ()
) -> tuple[list[Prediction], list[Prediction], list[Prediction]]:
    """Charges, crime forms and statute articles of the facts `text`.

    Charges: the nearest candidates' vote blended with the charge model's `modelled` charges
    (`charge_model`); crime forms: those of the predicted charges blended with the vote.
    """
    voted = vote([(c.score, c.labels.charges) for c in candidates])
    charges = blend(modelled, voted)
    forms = blend(forms_of_charges(charges, text), vote([(c.score, c.labels.crime_forms) for c in candidates]),
                  FORMS_FROM_CHARGES_WEIGHT)
    # a resolution's legal basis names instruments, not statute articles of a case
    articles = vote([(c.score, c.labels.legal_basis if c.labels.doc_type == "case" else ()) for c in candidates])
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
