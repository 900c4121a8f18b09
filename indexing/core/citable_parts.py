"""The citable parts of a hit that match the query: a resolution's numbered paragraphs.

A record with citable parts is indexed, counted and ranked as one record; which of its parts
match is found here, when the hit is dressed, by marking each part's words the way snippets
are marked (`indexing/text/highlight.py`). Any record type with addressable parts (a statute's
articles, later) fits the same shape: an anchor, a label and the part's text.
"""

from __future__ import annotations

from pydantic import BaseModel

from indexing.text.folding import fold
from indexing.text.highlight import match_spans, snippets
from indexing.records.model import Resolution
from indexing.text.segmenter import Segmenter

MAX_PARTS = 3  # matching parts shown inside one hit


class MatchedPart(BaseModel):
    """One part of a record that holds query words, with its marked snippet and link."""

    kind: str  # a resolution paragraph's "preambular" or "operative" (a statute's "article", later)
    number: int
    anchor: str
    label: str
    highlights: list[str]
    url: str


def matching_parts(
    record: Resolution, needles: list[str], segmenter: Segmenter, limit: int = MAX_PARTS
) -> list[MatchedPart]:
    """Up to `limit` paragraphs holding query words, the best first.

    A paragraph ranks by how many different query words it holds, then by how many times;
    ties keep the resolution's own order.
    """
    ranked: list[tuple[int, int, int]] = []  # (-distinct words, -marks, position)
    for position, paragraph in enumerate(record.paragraphs):
        spans = match_spans(paragraph.text, needles, segmenter)
        if spans:
            folded = fold(paragraph.text)
            distinct = len({folded[s:e] for s, e in spans})
            ranked.append((-distinct, -len(spans), position))
    out = []
    for _, _, position in sorted(ranked)[:limit]:
        paragraph = record.paragraphs[position]
        out.append(
            MatchedPart(
                kind=paragraph.kind,
                number=paragraph.number,
                anchor=paragraph.anchor,
                label=paragraph.label,
                highlights=snippets(paragraph.text, needles, segmenter, limit=1),
                url=f"/v1/resolutions/{record.id}#{paragraph.anchor}",
            )
        )
    return out
