"""Highlighted snippets cut from the original text, matched words wrapped in <mark>.

Matching runs on folded text, which has the same length as the original, so offsets carry
over and the snippet shows the text exactly as written (traditional characters, full-width
forms and all), with nothing inserted between words. All record text is HTML-escaped; only
the <mark> tags are markup.
"""

from __future__ import annotations

import re
from functools import lru_cache
from html import escape

from indexing.folding import fold

_ELLIPSIS = "…"


def match_spans(text: str, needles: list[str]) -> list[tuple[int, int]]:
    """Merged [start, end) spans of every occurrence of the folded needles in `text`.

    Occurrences may overlap (诈骗 and 骗取 in 诈骗取): the pattern looks ahead from every
    position for the longest needle starting there, and overlapping spans are merged.
    """
    pattern = _needle_pattern(tuple(sorted({n for n in needles if n}, key=lambda n: (-len(n), n))))
    if pattern is None:
        return []
    merged: list[tuple[int, int]] = []
    for found in pattern.finditer(fold(text)):
        start, end = found.start(), found.start() + len(found.group(1))
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


@lru_cache(maxsize=256)
def _needle_pattern(needles: tuple[str, ...]) -> re.Pattern[str] | None:
    """One pattern finding, at each position, the longest needle that starts there."""
    if not needles:
        return None
    return re.compile("(?=(" + "|".join(re.escape(n) for n in needles) + "))")


def mark(text: str, spans: list[tuple[int, int]], start: int = 0, end: int | None = None) -> str:
    """HTML of text[start:end] with the spans inside it wrapped in <mark>."""
    end = len(text) if end is None else end
    out: list[str] = []
    cursor = start
    for s, e in spans:
        if e <= start or s >= end:
            continue
        s, e = max(s, start), min(e, end)
        out.append(escape(text[cursor:s]))
        out.append(f"<mark>{escape(text[s:e])}</mark>")
        cursor = e
    out.append(escape(text[cursor:end]))
    return "".join(out)


def snippets(text: str, needles: list[str], limit: int = 3, width: int = 110) -> list[str]:
    """Up to `limit` snippets around the densest matches, in text order.

    With no match, the opening of the text is returned (unmarked) so a hit still shows
    something readable.
    """
    spans = match_spans(text, needles)
    if not spans:
        return [escape(text[:width]) + (_ELLIPSIS if len(text) > width else "")] if text else []
    windows: list[tuple[int, int, int]] = []  # (matches, start, end)
    # Spans are sorted and disjoint, and a window's start and end only grow from one span to
    # the next: two pointers slide over the spans once.
    first_inside = past_end = 0
    for s, _ in spans:
        start = max(0, s - width // 3)
        end = min(len(text), start + width)
        start = max(0, end - width)
        while spans[first_inside][0] < start:
            first_inside += 1
        past_end = max(past_end, first_inside)
        while past_end < len(spans) and spans[past_end][1] <= end:
            past_end += 1
        windows.append((past_end - first_inside, start, end))
    chosen: list[tuple[int, int]] = []
    for _, start, end in sorted(windows, key=lambda w: (-w[0], w[1])):
        if all(end <= cs or start >= ce for cs, ce in chosen):
            chosen.append((start, end))
        if len(chosen) == limit:
            break
    out = []
    for start, end in sorted(chosen):
        piece = mark(text, spans, start, end)
        out.append((_ELLIPSIS if start > 0 else "") + piece + (_ELLIPSIS if end < len(text) else ""))
    return out
