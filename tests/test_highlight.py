"""Highlighting: marks cover whole words of the text as segmented; snippets cut between words."""

from __future__ import annotations

import random
import re

import pytest

from indexing.text.folding import fold
from indexing.text.highlight import marked, match_spans, snippets
from indexing.text.segmenter import Segmenter


def test_a_mark_is_a_word_of_the_text(segmenter: Segmenter) -> None:
    # folded: traditional text, simplified needle; 贩卖毒品 is one word, so all of it is marked
    assert match_spans("販賣毒品", ["贩卖"], segmenter) == [(0, 4)]
    assert match_spans("诈骗诈骗", ["诈骗"], segmenter) == [(0, 2), (2, 4)]  # touching words stay two marks
    assert match_spans("abc", [], segmenter) == [] and match_spans("abc", [""], segmenter) == []


@pytest.mark.parametrize(
    ("text", "needles", "expected"),
    [
        # a lone character of a long needle is not a query word: 为 is marked only inside the run
        ("被告人为他人谋取利益，为此收受财物", ["为他人谋取利益", "他人", "谋取", "利益"],
         "被告人<mark>为他人谋取利益</mark>，为此收受财物"),
        # a one-character query word marks only a word that is that character, never 应当
        ("被告人应当承担责任", ["应"], "被告人应当承担责任"),
        # no word 海上 in 公海上 (公海 + 上): nothing straddles the boundary
        ("在公海上航行的船舶", ["海上"], "在公海上航行的船舶"),
        # a word found inside a longer word (as the index finds it) marks the whole word
        ("被告人充分利用其身份", ["利用"], "被告人<mark>充分利用</mark>其身份"),
        ("非法买卖人体器官", ["器官"], "非法买卖<mark>人体器官</mark>"),
        ("邹某某走私文物案", ["走私", "文物"], "邹某某<mark>走私文物</mark>案"),
    ],
)
def test_marks_from_the_issue(segmenter: Segmenter, text: str, needles: list[str], expected: str) -> None:
    assert marked(text, needles, segmenter) == expected


def test_a_snippet_never_cuts_a_marked_word(segmenter: Segmenter) -> None:
    # the window's natural end (60 characters from its start) falls inside 甲基苯丙胺
    text = "被告人" + "贩卖毒品" * 12 + "甲基苯丙胺" + "，" + "其他事实" * 20
    for width in range(50, 70):
        for piece in snippets(text, ["毒品", "甲基苯丙胺"], segmenter, limit=3, width=width):
            assert "甲基苯丙</mark>" not in piece and "<mark>基苯丙胺" not in piece
            plain = piece.replace("<mark>", "").replace("</mark>", "")
            assert not plain.rstrip("…").endswith(("甲基", "甲基苯", "甲基苯丙"))


def _word_bounds(segmenter: Segmenter, text: str) -> set[int]:
    """Offsets between words (or at punctuation): where a mark or a snippet may begin or end."""
    inside = {i for s, e in segmenter.word_spans(fold(text)) for i in range(s + 1, e)}
    return set(range(len(text) + 1)) - inside


def test_marks_and_snippets_sit_on_word_boundaries(segmenter: Segmenter) -> None:
    rng = random.Random(7)
    alphabet = "诈骗取财电话短信被告人应当为他利益，。"
    needles_pool = ["诈骗", "电话", "被告人", "应", "他人", "利益"]
    for _ in range(200):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 300)))
        needles = rng.sample(needles_pool, rng.randint(1, len(needles_pool)))
        bounds = _word_bounds(segmenter, text)
        words = {fold(text)[s:e] for s, e in segmenter.word_spans(fold(text))}
        spans = match_spans(text, needles, segmenter)
        for s, e in spans:
            assert s in bounds and e in bounds
            assert text[s:e] in words or any(n in text[s:e] for n in needles)
        for piece in snippets(text, needles, segmenter, limit=2, width=60):
            plain = re.sub("</?mark>", "", piece)
            start = text.find(plain.strip("…"))
            assert start >= 0  # cut from the text as written, nothing inserted
            assert start in bounds and start + len(plain.strip("…")) in bounds
