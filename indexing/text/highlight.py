"""Highlighted snippets cut from the original text, matched words wrapped in <mark>.

A mark covers whole words of the text as the segmenter cuts it, never a substring that
happens to occur: a query word marks a word of the text equal to it, or a longer word the
index finds it in (器官 in 人体器官: the whole word is marked), and a needle of several words
(为他人谋取利益) marks a run of the text's words that spells it. So a lone character is marked
only where it is itself a query word and a word of the text (`应` never lights up in 应当),
and a mark never straddles a word boundary (公海上 holds no word 海上).

Matching runs on folded text, which has the same length as the original, so offsets carry
over and the snippet shows the text exactly as written (traditional characters, full-width
forms and all), with nothing inserted between words. Snippets start and end between words,
never inside a marked one. All record text is HTML-escaped; only the <mark> tags are markup.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache
from html import escape

import jieba

from indexing.text.folding import fold
from indexing.text.segmenter import MAX_SUBWORD, Segmenter

_ELLIPSIS = "…"
# A character of the runs jieba segments one at a time (its own default pattern).
_RUN_CHAR = re.compile(jieba.re_han_default.pattern.strip("()").removesuffix("+"))
_RUNS = re.compile(f"(?:{_RUN_CHAR.pattern})+")


def match_spans(text: str, needles: list[str], segmenter: Segmenter) -> list[tuple[int, int]]:
    """Merged [start, end) spans of the words of `text` that match the folded needles."""
    folded = fold(text)
    present = [n for n in dict.fromkeys(needles) if n and n in folded]  # cheap: most texts hold none
    if not present:
        return []
    # One pattern of every needle: a page's hits share it, so it is compiled once per query.
    pattern = _needle_pattern(tuple(n for n in dict.fromkeys(needles) if n))
    # Only the runs of text a needle occurs in are segmented (see `_run`), not the whole text.
    starts = [found.start() for found in pattern.finditer(folded)]
    runs = [(m.start(), m.end()) for m in _RUNS.finditer(folded)
            if bisect_left(starts, m.start()) < bisect_left(starts, m.end())]
    singles = {n for n in present if len(_needle_words(segmenter, n)) == 1}
    several = [parts for n in present if len(parts := _needle_words(segmenter, n)) > 1]
    found_spans: list[tuple[int, int]] = []
    for run_start, run_end in runs:
        tokens = _word_spans(segmenter, folded[run_start:run_end])
        words = [folded[run_start + s : run_start + e] for s, e in tokens]
        tokens = [(run_start + s, run_start + e) for s, e in tokens]
        # Each word is looked up among the one-word needles (itself, or a sub-word of it),
        # rather than each needle tried against each word: a similar-case page has 80 needles.
        for (s, e), word in zip(tokens, words):
            if word in singles or _holds_needle(segmenter, word, singles):
                found_spans.append((s, e))
        for parts in several:
            size = len(parts)
            for i in range(len(tokens) - size + 1):
                if words[i] == parts[0] and words[i : i + size] == parts and _adjacent(tokens[i : i + size]):
                    found_spans.append((tokens[i][0], tokens[i + size - 1][1]))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(found_spans):
        if merged and start < merged[-1][1]:  # touching words stay two marks
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _run(folded: str, position: int) -> tuple[int, int]:
    """The run of word characters around `position`, as jieba cuts text into runs first.

    jieba segments each such run on its own, so segmenting one run gives exactly the words
    segmenting the whole text would give there, at a fraction of the cost on a long text.
    """
    start = end = position
    while start > 0 and _RUN_CHAR.match(folded, start - 1):
        start -= 1
    while end < len(folded) and _RUN_CHAR.match(folded, end):
        end += 1
    return start, end


@lru_cache(maxsize=256)
def _needle_pattern(needles: tuple[str, ...]) -> re.Pattern[str]:
    """One pattern finding every occurrence of any needle (overlapping ones too)."""
    return re.compile("(?=(?:" + "|".join(re.escape(n) for n in needles) + "))")


def _holds_needle(segmenter: Segmenter, word: str, needles: set[str]) -> bool:
    """Whether the index finds one of `needles` inside `word` (`Segmenter.index_words`' sub-words)."""
    if len(word) <= 2:
        return False
    for size in range(2, min(len(word), MAX_SUBWORD + 1)):
        for start in range(len(word) - size + 1):
            part = word[start : start + size]
            if part in needles and segmenter.is_word(part):
                return True
    return False


def _adjacent(tokens: list[tuple[int, int]]) -> bool:
    return all(a[1] == b[0] for a, b in zip(tokens, tokens[1:]))


@lru_cache(maxsize=4096)
def _needle_words(segmenter: Segmenter, needle: str) -> list[str]:
    return segmenter.words(needle)


@lru_cache(maxsize=4096)
def _word_spans(segmenter: Segmenter, folded: str) -> list[tuple[int, int]]:
    # A page marks the same texts several times (title, snippets, parts): segment once.
    return segmenter.word_spans(folded)


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


def marked(text: str, needles: list[str], segmenter: Segmenter) -> str:
    """The whole text as HTML, its matching words marked."""
    return mark(text, match_spans(text, needles, segmenter))


def snippets(
    text: str, needles: list[str], segmenter: Segmenter, limit: int = 3, width: int = 110
) -> list[str]:
    """Up to `limit` snippets around the densest matches, in text order.

    With no match, the opening of the text is returned (unmarked) so a hit still shows
    something readable. Every snippet starts and ends between two words.
    """
    spans = match_spans(text, needles, segmenter)
    if not spans:
        if not text:
            return []
        end = _word_end(segmenter, fold(text), min(width, len(text)))
        return [escape(text[:end]) + (_ELLIPSIS if end < len(text) else "")]
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
    folded = fold(text)
    out = []
    for start, end in sorted(chosen):
        # Widen to word boundaries: a snippet never begins or ends inside a (marked) word.
        start = _word_start(segmenter, folded, start)
        end = _word_end(segmenter, folded, end)
        piece = mark(text, spans, start, end)
        out.append((_ELLIPSIS if start > 0 else "") + piece + (_ELLIPSIS if end < len(text) else ""))
    return out


def _word_start(segmenter: Segmenter, folded: str, position: int) -> int:
    """`position`, moved back to the start of the word it falls in."""
    return _word_around(segmenter, folded, position, 0)


def _word_end(segmenter: Segmenter, folded: str, position: int) -> int:
    """`position`, moved forward to the end of the word it falls in."""
    return _word_around(segmenter, folded, position, 1)


def _word_around(segmenter: Segmenter, folded: str, position: int, edge: int) -> int:
    """The start (`edge` 0) or end (1) of the word `position` falls inside; else `position`."""
    if not 0 < position < len(folded):
        return position
    run_start, run_end = _run(folded, position)
    for span in _word_spans(segmenter, folded[run_start:run_end]):
        if run_start + span[0] < position < run_start + span[1]:
            return run_start + span[edge]
    return position
