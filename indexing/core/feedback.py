"""Charge feedback: the head of a relevance ranking, re-ranked by the charges it is about.

The first results of a search vote on the charges the query is about (pseudo-relevance
feedback over the records' own charges), each record by how close its score comes to the
best one (`head_vote`). Within the first `HEAD` results, a record carrying the voted charges
moves up and a record carrying a charge that got no vote moves down: a query of 虚构 事实 骗取
is about 诈骗 even though 骗取 is also a word of another charge's name. The same agreement
score (`charge_agreement`) orders the candidates of a similar-case search, so both read the
collection the same way.

Only the order within the head changes: what matches, the total and the facets do not, and
positions after the head keep the engine's order (so pages never repeat or skip a record).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Sequence

from indexing.query.ranking import (
    FEEDBACK_CHARGE_WEIGHT,
    FEEDBACK_EXTRA_CHARGE_PENALTY,
    FEEDBACK_UNVOTED,
    FEEDBACK_VOTE_SHARPNESS,
)
from indexing.similar.charge_vote import Prediction

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


def head_vote(scored: Sequence[tuple[float, Sequence[str]]]) -> list[Prediction]:
    """The charges the head of a ranking is about: each charge's share of the head's vote.

    Every record of the head votes with (its score / the best score) ** `FEEDBACK_VOTE_SHARPNESS`.
    By score and not by rank: a few typed words leave many records with nearly the same score,
    and among those the order is an accident that a vote fading by rank would turn into the
    verdict (殴打 轻伤: 寻衅滋事 and 故意伤害 alternate in the head, and the two that happened to
    come first decided for 寻衅滋事); where the scores do fall away, the vote follows them.
    """
    best = max((score for score, _ in scored), default=0.0)
    if best <= 0:
        return []
    weights: dict[str, float] = defaultdict(float)
    total = 0.0
    for score, charges in scored:
        weight = (max(score, 0.0) / best) ** FEEDBACK_VOTE_SHARPNESS
        total += weight
        for charge in dict.fromkeys(charges):
            weights[charge] += weight
    ranked = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Prediction(charge, round(weight / total, 4)) for charge, weight in ranked]


def rerank(scored: Sequence[tuple[float, Sequence[str]]]) -> list[int]:
    """The order (indices into `scored`, best first) the head takes after the charge vote.

    Ties keep the engine's order, so a head whose records carry no charges stays as it was.
    """
    predicted = head_vote(scored)
    if not predicted:
        return list(range(len(scored)))
    new = charge_agreement(scored, predicted)
    return sorted(range(len(scored)), key=lambda i: (-new[i], i))
