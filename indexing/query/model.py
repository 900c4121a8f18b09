"""Engine-neutral query tree, filters and the request/result types of the engine protocol.

The search core builds these from a user's request; each engine compiles them into its own
query language (tantivy queries, Elasticsearch DSL). Nothing here knows about an engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Literal, Union

if TYPE_CHECKING:
    from indexing.records.model import CaseDigest, Resolution

# Field groups a query term can be scoped to. `None` scope means every text field.
TEXT_SCOPES = ("title", "summary", "full_text", "charges", "court", "keywords", "legal_basis", "case_number")


@dataclass(frozen=True)
class Term:
    """One jieba word the document must contain (as a word, or as characters in a row)."""

    word: str
    scope: str | None = None
    # Also match the word's characters in a row (set by the core where it can add recall).
    fallback: bool = False


@dataclass(frozen=True)
class Words:
    """A run of characters typed without spaces that jieba cuts into several words.

    It matches a document holding every one of the words, or the whole run as consecutive
    characters (the document may have cut the same characters differently).
    """

    text: str
    parts: tuple[str, ...]
    scope: str | None = None
    # Also match `text` as characters in a row (set by the core where it can add recall).
    fallback: bool = False


@dataclass(frozen=True)
class Phrase:
    """Characters that must appear contiguously (an exact phrase)."""

    chars: tuple[str, ...]
    scope: str | None = None


@dataclass(frozen=True)
class And:
    clauses: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    clauses: tuple["Node", ...]


@dataclass(frozen=True)
class Not:
    clause: "Node"


@dataclass(frozen=True)
class MatchAll:
    pass


@dataclass(frozen=True)
class Boosted:
    """A clause whose score is multiplied by `weight` (a synonym below the user's own word)."""

    clause: "Node"
    weight: float


@dataclass(frozen=True)
class AtLeast:
    """At least `minimum` of the clauses must match (graceful AND: best partial matches)."""

    clauses: tuple["Node", ...]
    minimum: int


@dataclass(frozen=True)
class ChargeIs:
    """The record carries exactly this charge (charge-aware ranking)."""

    charge: str


Node = Union[Term, Words, Phrase, And, Or, Not, MatchAll, Boosted, AtLeast, ChargeIs]


def positive_terms(node: Node) -> list[Term | Words | Phrase]:
    """Terms and phrases that count towards a match (not under a NOT), in query order."""
    if isinstance(node, (Term, Words, Phrase)):
        return [node]
    if isinstance(node, (And, Or, AtLeast)):
        return [t for clause in node.clauses for t in positive_terms(clause)]
    if isinstance(node, Boosted):
        return positive_terms(node.clause)
    return []


def query_words(node: Node) -> set[str]:
    """Every jieba word of the query, negated ones included."""
    if isinstance(node, Term):
        return {node.word}
    if isinstance(node, Words):
        return set(node.parts)
    if isinstance(node, (And, Or, AtLeast)):
        return set().union(*(query_words(c) for c in node.clauses))
    if isinstance(node, (Not, Boosted)):
        return query_words(node.clause)
    return set()


def phrase_texts(node: Node) -> set[str]:
    """The text of every unscoped phrase of the query (to look up as one word's frequency)."""
    if isinstance(node, Phrase):
        return {"".join(node.chars)} if node.scope is None else set()
    if isinstance(node, (And, Or, AtLeast)):
        return set().union(*(phrase_texts(c) for c in node.clauses))
    if isinstance(node, (Not, Boosted)):
        return phrase_texts(node.clause)
    return set()


def match_share(node: Node, dfs: DocFreqs) -> float:
    """An estimate of the share of index units the match covers, from summary frequencies.

    A word counts by its own frequency, a phrase by the frequency of the same characters cut
    as one word (every such unit holds the phrase), AND, OR and NOT as if independent. What
    cannot be estimated (scoped terms, charges, "at least") makes the estimate 0: an engine
    reads a high share as "nearly everything matches" and may count facets another way.
    """
    share = _share(node, dfs, max(dfs.total, 1))
    return 0.0 if share is None else share


def _share(node: Node, dfs: DocFreqs, total: int) -> float | None:
    if isinstance(node, MatchAll):
        return 1.0
    if isinstance(node, Term):
        return dfs.words.get(node.word, 0) / total if node.scope is None else None
    if isinstance(node, Words):
        if node.scope is not None:
            return None
        return math.prod(dfs.words.get(p, 0) / total for p in node.parts)
    if isinstance(node, Phrase):
        return dfs.words.get("".join(node.chars), 0) / total if node.scope is None else None
    if isinstance(node, Boosted):
        return _share(node.clause, dfs, total)
    if isinstance(node, Not):
        inner = _share(node.clause, dfs, total)
        return None if inner is None else 1.0 - inner
    if isinstance(node, And):
        shares = [_share(c, dfs, total) for c in node.clauses]
        return None if any(s is None for s in shares) else math.prod(s for s in shares if s is not None)
    if isinstance(node, Or):
        # an unknown alternative only adds matches: the known ones give a lower estimate
        return 1.0 - math.prod(1.0 - s for c in node.clauses if (s := _share(c, dfs, total)) is not None)
    return None


def with_fallbacks(node: Node, worthwhile: Callable[[str], bool]) -> Node:
    """The tree with `fallback` set on every term for which `worthwhile(word)` holds.

    A character-run alternative adds recall (a document may cut the same characters into
    other words) but costs a phrase query; the core decides once, for both engines.
    """
    if isinstance(node, Term):
        return replace(node, fallback=len(node.word) > 1 and not node.word.isascii() and worthwhile(node.word))
    if isinstance(node, Words):
        return replace(node, fallback=any(worthwhile(p) for p in node.parts))
    if isinstance(node, And):
        return And(tuple(with_fallbacks(c, worthwhile) for c in node.clauses))
    if isinstance(node, Or):
        return Or(tuple(with_fallbacks(c, worthwhile) for c in node.clauses))
    if isinstance(node, AtLeast):
        return AtLeast(tuple(with_fallbacks(c, worthwhile) for c in node.clauses), node.minimum)
    if isinstance(node, Not):
        return Not(with_fallbacks(node.clause, worthwhile))
    if isinstance(node, Boosted):
        return Boosted(with_fallbacks(node.clause, worthwhile), node.weight)
    return node


FilterName = Literal["crime_form", "doc_type", "country", "court", "charge", "year"]
FACET_NAMES: tuple[FilterName, ...] = ("crime_form", "doc_type", "country", "court", "charge", "year")


@dataclass(frozen=True)
class Filters:
    """Exact-value filters: OR within a field, AND across fields."""

    crime_form: tuple[str, ...] = ()
    doc_type: tuple[str, ...] = ()
    country: tuple[str, ...] = ()
    court: tuple[str, ...] = ()
    charge: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None

    def active(self) -> list[FilterName]:
        names: list[FilterName] = [
            n for n in ("crime_form", "doc_type", "country", "court", "charge") if getattr(self, n)
        ]
        if self.year_from is not None or self.year_to is not None:
            names.append("year")
        return names

    def without(self, name: FilterName) -> "Filters":
        if name == "year":
            return replace(self, year_from=None, year_to=None)
        return replace(self, **{name: ()})


@dataclass(frozen=True)
class FacetRequest:
    name: FilterName
    size: int


@dataclass(frozen=True)
class EngineQuery:
    """What the core asks an engine: match, filter, rank, page and count."""

    match: Node
    filters: Filters = Filters()
    # Extra scoring-only clauses (e.g. a phrase boost): they never change what matches.
    boosts: tuple[tuple[Node, float], ...] = ()
    exclude_records: tuple[str, ...] = ()
    only_records: tuple[str, ...] = ()  # when given, match among these records only
    sort: Literal["relevance", "date"] = "relevance"
    offset: int = 0
    size: int = 10
    after: str | None = None  # an engine's own deep-paging position from a previous page
    facets: tuple[FacetRequest, ...] = ()
    # Return each hit's record with it when the engine can do so without another request
    # (Elasticsearch keeps it beside the index unit); hits without one are looked up.
    with_records: bool = False
    # Return each hit's labels (`RecordLabels`: charges, crime forms, statute articles) and
    # nothing of its text: what ranking many candidates needs, at a fraction of a record's cost.
    with_labels: bool = False
    # False: the engine need not count every match, so it may skip the documents that cannot
    # reach the page; `total` is then only at least the hits returned (the page is the same).
    count_total: bool = True
    # The core's estimate of the share of index units `match` covers (`match_share`): a hint
    # for counting facets; the answer must not depend on it.
    match_share: float = 0.0


@dataclass(frozen=True)
class RecordLabels:
    """A record's labels without its text: what similar-case ranking reads of each candidate."""

    doc_type: str
    charges: tuple[str, ...]
    crime_forms: tuple[str, ...]  # the record's own crime-form codes (no ancestors added)
    legal_basis: tuple[str, ...]

    @classmethod
    def of(cls, record: CaseDigest | Resolution) -> "RecordLabels":
        """The labels of a full record (what an engine's projection must agree with)."""
        return cls(
            doc_type=record.doc_type,
            charges=tuple(getattr(record, "charges", ())),  # a resolution has none
            crime_forms=tuple(record.crime_form_codes),
            legal_basis=tuple(record.legal_basis),
        )

    @classmethod
    def from_stored(cls, stored: dict[str, Any]) -> "RecordLabels":
        """The labels of a stored record's JSON form (or the part of it an engine projected)."""
        return cls(
            doc_type=stored.get("doc_type") or "case",
            charges=tuple(stored.get("charges") or ()),
            crime_forms=tuple(tag["code"] for tag in stored.get("crime_forms") or ()),
            legal_basis=tuple(stored.get("legal_basis") or ()),
        )


@dataclass(frozen=True)
class EngineHit:
    unit_id: str  # the record's id: every record is one index unit
    record_id: str
    score: float
    record: CaseDigest | Resolution | None = field(default=None, compare=False, repr=False)
    labels: RecordLabels | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class DocFreqs:
    """How many index units there are, and how many hold each word or character in their summary."""

    total: int
    words: dict[str, int]
    chars: dict[str, int] = field(default_factory=dict)


@dataclass
class EngineResult:
    total: int
    hits: list[EngineHit]
    facets: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    next_after: str | None = None
