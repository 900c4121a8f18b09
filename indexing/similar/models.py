"""Request and answer of a similar-case search, as every front door sees them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel

from indexing.core.models import Hit, SearchFilters

# The longest fact text accepted: a full judgment fits; anything longer is not one case's facts.
MAX_TEXT_CHARS = 20_000
# Similar-case search ranks a bounded pool of the best candidates; pages go no further.
MAX_RESULTS = 200


class SimilarRequest(SearchFilters):
    """Pasted facts and the same filters as a search."""

    text: str
    size: int = 10
    cursor: str | None = None
    explain: bool = False  # also list, per hit, where each shared term occurs


class WeightedTerm(BaseModel):
    word: str
    weight: float


class PredictedLabel(BaseModel):
    value: str
    label: str
    confidence: float


class WhySimilar(BaseModel):
    """Why a case is similar: the key terms, charges and statute articles it shares with the facts."""

    shared_terms: list[WeightedTerm]
    shared_charges: list[str]
    shared_articles: list[str]


class SimilarHit(Hit):
    similarity: float
    why: WhySimilar


class SimilarResult(BaseModel):
    match: Literal["similar"] = "similar"
    text_chars: int
    total: int  # candidates ranked (at most MAX_RESULTS)
    size: int
    took_ms: float
    key_terms: list[WeightedTerm]
    predicted_charges: list[PredictedLabel]
    predicted_crime_forms: list[PredictedLabel]
    hits: list[SimilarHit]
    next_cursor: str | None = None
