"""Query rewriting for practitioners' words: synonyms, charge names, and graceful AND.

- **Expansion**: a word in the legal synonym dictionary (`data/synonyms.toml`, e.g. 醉驾) also
  matches the words judgments use (醉酒驾驶) at a lower weight than the user's own word, and
  the charges it names (危险驾驶) in the charges field.
- **Charge-aware**: a query word that is a PRC charge name (`data/charges.txt`) also matches
  records carrying that charge, boosted.
- **Graceful AND**: when requiring every word finds too little, the best partial matches are
  offered instead (`relaxations`: most of the words, then any of them), and the response says so.

All weights live in `ranking.py` so both engines rank alike.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from indexing.query import ranking
from indexing.text.folding import fold
from indexing.query.model import (
    And,
    AtLeast,
    Boosted,
    ChargeIs,
    Node,
    Not,
    Or,
    Phrase,
    Term,
    Words,
)
from indexing.text.segmenter import Segmenter


@dataclass(frozen=True)
class SynonymEntry:
    term: str
    expansions: tuple[str, ...]
    charges: tuple[str, ...] = ()


@dataclass(frozen=True)
class Expansion:
    """What a user's word was expanded to (reported in the response)."""

    term: str
    expansions: tuple[str, ...] = ()
    charges: tuple[str, ...] = ()


@dataclass(frozen=True)
class Vocabulary:
    """The synonym dictionary and the charge names, keyed by folded text."""

    version: str
    synonyms: dict[str, SynonymEntry] = field(default_factory=dict)
    charges: frozenset[str] = frozenset()


@lru_cache(maxsize=1)
def load_vocabulary() -> Vocabulary:
    data_dir = resources.files("indexing").joinpath("data")
    data = tomllib.loads(data_dir.joinpath("synonyms.toml").read_text("utf-8"))
    synonyms: dict[str, SynonymEntry] = {}
    for item in data.get("entry", []):
        entry = SynonymEntry(
            term=item["term"], expansions=tuple(item.get("expansions", ())), charges=tuple(item.get("charges", ()))
        )
        synonyms[fold(entry.term)] = entry
    charges = frozenset(
        line.strip() for line in data_dir.joinpath("charges.txt").read_text("utf-8").splitlines() if line.strip()
    )
    return Vocabulary(version=str(data.get("version", "")), synonyms=synonyms, charges=charges)


class Rewriter:
    """Expands a parsed query with the vocabulary; builds the partial-match fallback."""

    def __init__(self, segmenter: Segmenter, vocabulary: Vocabulary | None = None) -> None:
        self.segmenter = segmenter
        self.vocabulary = vocabulary or load_vocabulary()

    def expand(self, node: Node) -> tuple[Node, list[Expansion]]:
        """The query with synonyms and charge names added; the list of what was added."""
        applied: list[Expansion] = []
        return self._expand(node, applied), applied

    def _expand(self, node: Node, applied: list[Expansion]) -> Node:
        if isinstance(node, (Term, Words)):
            return self._expand_word(node, applied)
        if isinstance(node, And):
            return And(tuple(self._expand(c, applied) for c in node.clauses))
        if isinstance(node, Or):
            return Or(tuple(self._expand(c, applied) for c in node.clauses))
        return node  # phrases are exact by request; excluded words stay as typed

    def _expand_word(self, node: Term | Words, applied: list[Expansion]) -> Node:
        text = node.word if isinstance(node, Term) else node.text
        bare = text.removesuffix("罪") if len(text) > 2 else text
        entry = self.vocabulary.synonyms.get(text) or self.vocabulary.synonyms.get(bare)
        expansions = entry.expansions if entry else ()
        charges = list(entry.charges) if entry else []
        if bare in self.vocabulary.charges and bare not in charges:
            charges.insert(0, bare)
        if not expansions and not charges:
            return node
        scope = node.scope
        alternatives: list[Node] = [node]
        for phrase in expansions:
            alternatives.append(Boosted(self.word_node(phrase, scope), ranking.SYNONYM_WEIGHT))
        if scope in (None, "charges"):
            alternatives += [Boosted(ChargeIs(c), ranking.CHARGE_WEIGHT) for c in charges]
        applied.append(Expansion(text, tuple(expansions), tuple(charges) if scope in (None, "charges") else ()))
        return Or(tuple(alternatives))

    def word_node(self, text: str, scope: str | None) -> Node:
        folded = fold(text)
        words = self.segmenter.words(folded)
        if len(words) == 1:
            return Term(words[0], scope)
        return Words("".join(Segmenter.chars(folded)), tuple(words), scope)


def relax(node: Node, minimum_share: float = ranking.PARTIAL_MINIMUM_SHARE) -> Node | None:
    """Best partial matches for a query of several words; None when there is nothing to relax.

    Every positive word becomes optional, with `minimum_share` of them required (rounded up,
    at least one); excluded words stay excluded.
    """
    clauses = node.clauses if isinstance(node, And) else (node,)
    positive: list[Node] = []
    negative: list[Node] = []
    for clause in clauses:
        if isinstance(clause, Not):
            negative.append(clause)
        elif isinstance(clause, Words):
            positive += [Term(p, clause.scope) for p in clause.parts]
        else:
            positive.append(clause)
    if len(positive) < 2 or any(isinstance(c, Phrase) for c in positive) and len(positive) == 1:
        return None
    minimum = max(1, math.ceil(len(positive) * minimum_share))
    partial: Node = AtLeast(tuple(positive), minimum)
    return And((partial, *negative)) if negative else partial


def relaxations(node: Node) -> list[Node]:
    """The partial-match queries to try in turn, strictest first (empty: nothing to relax).

    First `ranking.PARTIAL_MINIMUM_SHARE` of the words, then any one of them: when even the
    first finds less than a page (a narrow filter, a rare pairing of words), records holding
    one of the words are better than an empty page. Each finds a superset of the one before,
    and the engine's score still ranks the records holding more of the words first.
    """
    rungs: list[Node] = []
    for share in (ranking.PARTIAL_MINIMUM_SHARE, 0.0):
        relaxed = relax(node, share)
        if relaxed is not None and relaxed not in rungs:
            rungs.append(relaxed)
    return rungs
