"""Query planning shared by the core's front doors: character fallbacks where cheap, facet sizes, fingerprints."""

from __future__ import annotations


import hashlib
import json


from indexing.query.model import (
    DocFreqs,
    Node,
    query_words,
    with_fallbacks,
)
from indexing.query.ranking import CHAR_FALLBACK_MAX_DF, CHAR_RUN_MAX_DF
from indexing.text.segmenter import Segmenter

from indexing.core.models import SearchRequest


def query_chars(node: Node) -> set[str]:
    """The character tokens of the query's words (what their character runs would match)."""
    return {c for word in query_words(node) for c in Segmenter.chars(word)}


def fallbacks_where_cheap(node: Node, dfs: DocFreqs) -> Node:
    """Give words a character-run alternative where it can add recall at a bounded cost.

    A word in more than `CHAR_FALLBACK_MAX_DF` of the documents gains nothing from it, and a
    run whose rarest character is in most documents would make the engine check positions in
    most documents, the slowest query there is.
    """
    limit = CHAR_FALLBACK_MAX_DF * max(dfs.total, 1)
    return with_fallbacks(
        node, lambda word: dfs.words.get(word, 0) <= limit and rare_enough(Segmenter.chars(word), dfs)
    )


def rare_enough(chars: tuple[str, ...] | list[str], dfs: DocFreqs) -> bool:
    """Whether a character run is cheap to match: its rarest character is not too common."""
    if not chars:  # text without letters, digits or Han (e.g. "__") has no run to match
        return False
    rarest = min((dfs.chars.get(c, 0) for c in chars), default=0)
    return rarest <= CHAR_RUN_MAX_DF * max(dfs.total, 1)


def facet_size_for(name: str, size: int) -> int:
    return {"crime_form": 100, "doc_type": 10, "year": 300}.get(name, size)


def search_fingerprint(request: SearchRequest, sort: str) -> str:
    key = request.model_dump(exclude={"page", "cursor", "facet_size"})
    key["sort"] = sort
    return hashlib.sha256(json.dumps(key, sort_keys=True, ensure_ascii=False).encode()).hexdigest()[:16]
