"""Translation of the engine-neutral query tree and filters into Elasticsearch query DSL."""

from __future__ import annotations

import base64
import json
from typing import Any, Sequence


from indexing.query import ranking
from indexing.engines.units import CHAR_FIELDS, WORD_FIELDS
from indexing.errors import InvalidCursor
from indexing.query.model import (
    And,
    AtLeast,
    Boosted,
    ChargeIs,
    Filters,
    MatchAll,
    Node,
    Not,
    Or,
    Phrase,
    Term,
    Words,
)
from indexing.text.segmenter import Segmenter


FILTER_FIELDS = {
    "crime_form": "crime_forms",
    "doc_type": "doc_type",
    "country": "country",
    "court": "court",
    "charge": "charges",
    "year": "year",
}


def bool_query(
    must: Sequence[dict[str, Any]] = (), filter: Sequence[dict[str, Any]] = (), must_not: Sequence[dict[str, Any]] = ()
) -> dict[str, Any]:
    """A bool query of these clauses, or the single clause itself when that is all there is."""
    if len(must) == 1 and not filter and not must_not:
        return must[0]
    clauses = {"must": list(must), "filter": list(filter), "must_not": list(must_not)}
    return {"bool": {k: v for k, v in clauses.items() if v}}


def boost(query: dict[str, Any], weight: float) -> dict[str, Any]:
    return {"bool": {"must": [query], "boost": weight}}


def filters_query(filters: Filters) -> dict[str, Any] | None:
    clauses: list[dict[str, Any]] = []
    for name in ("crime_form", "doc_type", "country", "court", "charge"):
        values = getattr(filters, name)
        if values:
            clauses.append({"terms": {FILTER_FIELDS[name]: list(values)}})
    if filters.year_from is not None or filters.year_to is not None:
        bounds = {k: v for k, v in (("gte", filters.year_from), ("lte", filters.year_to)) if v is not None}
        clauses.append({"range": {"year": bounds}})
    return {"bool": {"filter": clauses}} if clauses else None


def encode_after(position: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode()


def decode_after(after: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(after.encode()))
        if not isinstance(data, dict) or "sa" not in data:
            raise ValueError
        return data
    except ValueError:
        raise InvalidCursor("cursor is not one this service issued") from None


class Compiler:
    """Compiles the engine-neutral tree into Elasticsearch query DSL."""

    def node(self, node: Node) -> dict[str, Any]:
        if isinstance(node, MatchAll):
            return {"match_all": {}}
        if isinstance(node, Term):
            return self._term(node)
        if isinstance(node, Words):
            every = {"bool": {"must": [self._term(Term(p, node.scope)) for p in node.parts]}}
            if not node.fallback:
                return every
            return {"bool": {"should": [every, *self._char_fallback(node.text, node.scope)], "minimum_should_match": 1}}
        if isinstance(node, Phrase):
            fields = [node.scope] if node.scope in CHAR_FIELDS else list(CHAR_FIELDS)
            return {"bool": {"should": [
                boost(self._char_run(f, node.chars), ranking.WORD_WEIGHTS[f]) for f in fields
            ], "minimum_should_match": 1}}
        if isinstance(node, And):
            must = [self.node(c) for c in node.clauses if not isinstance(c, Not)]
            must_not = [self.node(c.clause) for c in node.clauses if isinstance(c, Not)]
            return {"bool": {"must": must or [{"match_all": {}}], "must_not": must_not}}
        if isinstance(node, Or):
            return {"bool": {"should": [self.node(c) for c in node.clauses], "minimum_should_match": 1}}
        if isinstance(node, Not):
            return {"bool": {"must": [{"match_all": {}}], "must_not": [self.node(node.clause)]}}
        if isinstance(node, Boosted):
            return boost(self.node(node.clause), node.weight)
        if isinstance(node, AtLeast):
            return {"bool": {"should": [self.node(c) for c in node.clauses], "minimum_should_match": node.minimum}}
        if isinstance(node, ChargeIs):
            return {"term": {"charges": node.charge}}
        raise TypeError(f"unknown query node {node!r}")

    def _term(self, term: Term) -> dict[str, Any]:
        fields = [term.scope] if term.scope else list(WORD_FIELDS)
        should = [{"term": {f"{f}_w": {"value": term.word, "boost": ranking.WORD_WEIGHTS[f]}}} for f in fields]
        if term.fallback:
            should += self._char_fallback(term.word, term.scope)
        return {"bool": {"should": should, "minimum_should_match": 1}}

    def _char_fallback(self, text: str, scope: str | None) -> list[dict[str, Any]]:
        chars = Segmenter.chars(text)
        fields = [f for f in ([scope] if scope else CHAR_FIELDS) if f in CHAR_FIELDS]
        return [boost(self._char_run(f, chars), ranking.CHAR_FALLBACK_WEIGHT) for f in fields]

    @staticmethod
    def _char_run(field: str, chars: Sequence[str]) -> dict[str, Any]:
        if len(chars) == 1:
            return {"term": {f"{field}_c": chars[0]}}
        return {"match_phrase": {f"{field}_c": {"query": " ".join(chars)}}}
