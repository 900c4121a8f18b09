"""Charge prediction from facts: a weighted vote of the charges of the nearest cases.

No model to train or keep in step with the index: the neighbours are the similar-case
query's own first candidates, so a record added a second ago already votes.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Sequence

# How many of the nearest cases vote, and how fast a neighbour's vote fades with its rank.
VOTERS = 25
RANK_DECAY = 0.85


@dataclass(frozen=True)
class Prediction:
    """A predicted label (a charge, a crime form, a statute article) with a confidence in 0..1."""

    value: str
    confidence: float


def vote(neighbours: Sequence[tuple[float, Sequence[str]]], voters: int | None = None) -> list[Prediction]:
    """Labels of the best-scored neighbours, each weighted by its score and rank.

    `neighbours` are (score, labels) pairs, best first. A label's confidence is the share of
    the total vote weight whose neighbours carry it, so it reads as "how many of the nearest
    cases, weighted, were charged with this".
    """
    weights: dict[str, float] = defaultdict(float)
    total = 0.0
    for rank, (score, labels) in enumerate(neighbours[: VOTERS if voters is None else voters]):
        weight = max(score, 0.0) * RANK_DECAY**rank
        total += weight
        for label in dict.fromkeys(labels):
            weights[label] += weight
    if total <= 0:
        return []
    ranked = sorted(weights.items(), key=lambda kv: (-kv[1], kv[0]))
    return [Prediction(label, round(w / total, 4)) for label, w in ranked]
