"""Charge feedback: the head of a relevance ranking, re-ranked by the charges it is about.

The first results of a search vote, weighted by score and rank, on the charges the query is
about (`similar.charge_vote.vote`: pseudo-relevance feedback over the records' own charges).
Within the first `HEAD` results, a record carrying the voted charges moves up and a record
carrying a charge that got no vote moves down: a query of 虚构 事实 骗取 is about 诈骗 even
though 骗取 is also a word of another charge's name. The same re-ranking orders the
candidates of a similar-case search, so both read the collection the same way.

Only the order within the head changes: what matches, the total and the facets do not, and
positions after the head keep the engine's order (so pages never repeat or skip a record).
"""

from __future__ import annotations

from typing import Sequence

from indexing.query.ranking import FEEDBACK_CHARGE_WEIGHT, FEEDBACK_EXTRA_CHARGE_PENALTY, FEEDBACK_UNVOTED
from indexing.similar.charge_vote import Prediction, vote

# How many of the first results are re-ranked (one full page at the largest page size).
HEAD = 100


def charge_agreement(
    scored: Sequence[tuple[float, Sequence[str]]],
    predicted: Sequence[Prediction],
    weight: float = FEEDBACK_CHARGE_WEIGHT,
    penalty: float = FEEDBACK_EXTRA_CHARGE_PENALTY,
) -> list[float]:
    """Each (score, charges) item's new score: its score relative to the best, plus agreement.

    Agreement is the predicted charge mass the item carries (at most 1), times `weight`; an
    item carrying a charge that the vote gave (almost) nothing loses `penalty` × `weight`.
    """
    if not scored:
        return []
    best = max(score for score, _ in scored) or 1.0
    mass = {p.value: p.confidence for p in predicted}
    out = []
    for score, charges in scored:
        agreement = sum(mass.get(c, 0.0) for c in charges)
        extra = any(mass.get(c, 0.0) < FEEDBACK_UNVOTED for c in charges)
        out.append(score / best + weight * min(agreement, 1.0) - penalty * weight * extra)
    return out


def rerank(scored: Sequence[tuple[float, Sequence[str]]]) -> list[int]:
    """The order (indices into `scored`, best first) the head takes after the charge vote.

    Ties keep the engine's order, so a head whose records carry no charges stays as it was.
    """
    predicted = vote(scored)
    if not predicted:
        return list(range(len(scored)))
    new = charge_agreement(scored, predicted)
    return sorted(range(len(scored)), key=lambda i: (-new[i], i))
