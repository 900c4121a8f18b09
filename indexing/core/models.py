"""What a search asks and answers: the request and response models of the core, and their limits."""

from __future__ import annotations


from typing import Literal

from pydantic import BaseModel, Field

from indexing.core.citable_parts import MatchedPart


MAX_PAGE_SIZE = 100
MIN_YEAR, MAX_YEAR = 1800, 2100  # the years a record's date may have (`records.py`)
MAX_PAGE_DEPTH = 10_000  # beyond this, page with the cursor
MAX_FILTER_VALUES = 50  # values of one filter in one request (each costs the engine and the page)


class SearchFilters(BaseModel):
    """The filters of a search or of a similar-case search: OR within a field, AND across fields."""

    crime_form: list[str] = Field(default_factory=list)
    doc_type: list[str] = Field(default_factory=list)
    country: list[str] = Field(default_factory=list)
    court: list[str] = Field(default_factory=list)
    charge: list[str] = Field(default_factory=list)
    year_from: int | None = None
    year_to: int | None = None


class SearchRequest(SearchFilters):
    """A search as a user asks it; every field is optional."""

    q: str = ""
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
