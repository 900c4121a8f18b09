"""Highlighting: spans found on folded text, the densest windows chosen, nothing inserted."""

from __future__ import annotations

import random

from indexing.folding import fold
from indexing.highlight import match_spans, snippets


def test_overlapping_needles_merge_into_one_span() -> None:
    assert match_spans("他诈骗取财", ["诈骗", "骗取"]) == [(1, 4)]
    assert match_spans("诈骗诈骗", ["诈骗"]) == [(0, 4)]  # adjacent occurrences touch and merge
    assert match_spans("販賣毒品", ["贩卖"]) == [(0, 2)]  # needles are folded, the text is folded here
    assert match_spans("abc", []) == [] and match_spans("abc", [""]) == []


def _reference_spans(text: str, needles: list[str]) -> list[tuple[int, int]]:
    folded = fold(text)
    spans = sorted((i, i + len(n)) for n in set(needles) if n for i in range(len(folded)) if folded.startswith(n, i))
    merged: list[tuple[int, int]] = []
    for s, e in spans:
        if merged and s <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(e, merged[-1][1]))
        else:
            merged.append((s, e))
    return merged


def _reference_windows(text: str, spans: list[tuple[int, int]], width: int) -> list[tuple[int, int, int]]:
    windows = []
    for s, _ in spans:
        start = max(0, s - width // 3)
        end = min(len(text), start + width)
        start = max(0, end - width)
        windows.append((sum(1 for a, b in spans if a >= start and b <= end), start, end))
    return windows


def test_spans_and_snippets_agree_with_a_brute_force_reading() -> None:
    rng = random.Random(7)
    alphabet = "诈骗取财电话短信被告人，。"
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 400)))
        needles = ["诈骗", "骗取", "电话", "被告人", "人"][: rng.randint(1, 5)]
        spans = match_spans(text, needles)
        assert spans == _reference_spans(text, needles)
        if not spans:
            continue
        best = max(_reference_windows(text, spans, 60))[0]
        shown = snippets(text, needles, limit=1, width=60)[0]
        assert shown.count("<mark>") >= min(best, 1)
        # the chosen window holds as many whole matches as the best window does
        plain = shown.replace("<mark>", "").replace("</mark>", "").strip("…")
        start = text.find(plain)
        assert start >= 0  # cut from the text as written, nothing inserted
        inside = sum(1 for a, b in spans if a >= start and b <= start + len(plain))
        assert inside == best
