"""Key terms of a fact text: jieba words weighted by tf·idf against the index's own frequencies.

Procedural boilerplate that nearly every judgment holds (公诉机关指控, 被告人, 经审理查明 …) is
not a hand-written list: a word found in more than `BOILERPLATE_SHARE` of the index units is
boilerplate for this collection, whatever the collection is.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from typing import Callable, Iterable

from indexing.query.model import DocFreqs

# A word in more than this share of the index units says nothing about which case is alike.
# Half, not less: in a collection of full judgments a charge's own words (毒品, 盗窃) are in a
# fifth or more of the units, and dropping them lost most of what made long candidates alike
# (bench/similar.py, long corpus, tune split: nDCG@10 0.787 at 0.2, 0.794 at 0.5; digests alike).
BOILERPLATE_SHARE = 0.5
# ... once the share is of enough units to tell: in a collection of a few dozen records every
# word is in a large share of them, and none is boilerplate yet.
BOILERPLATE_MIN_UNITS = 20

# How many key terms a query keeps: enough for a 2,000-character text to keep its specific
# conduct words, few enough that the OR query stays fast on both engines.
MAX_TERMS = 80

# Numbers, dates and amounts differ between every two cases (the weight is in the words).
_NUMERIC = re.compile(r"^[0-9a-z.]*[0-9][0-9a-z.]*$")


@dataclass(frozen=True)
class KeyTerm:
    """One word of the facts and the weight it gets in the similar-case query."""

    word: str
    weight: float
    tf: int
    df: int


def candidate_words(words: Iterable[str]) -> Counter[str]:
    """Term counts of segmented, folded text, without single characters and numbers."""
    return Counter(w for w in words if len(w) > 1 and not _NUMERIC.match(w))


def idf(df: int, total: int) -> float:
    """BM25's idf: never negative, large for rare words."""
    return math.log(1 + (total - df + 0.5) / (df + 0.5))


def key_terms(
    counts: Counter[str], doc_freqs: Callable[[set[str]], DocFreqs], limit: int | None = None
) -> list[KeyTerm]:
    """The `limit` best words of a text, by (1 + ln tf) · idf, boilerplate and unknown words dropped.

    A word no index unit holds cannot make any case similar, so it is left out of the query
    (it would only cost a lookup).
    """
    if not counts:
        return []
    dfs = doc_freqs(set(counts))
    total = max(dfs.total, 1)
    # read at call time, so a benchmark can tune it
    ceiling = max(BOILERPLATE_SHARE * total, BOILERPLATE_MIN_UNITS)
    terms = []
    for word, tf in counts.items():
        df = dfs.words.get(word, 0)
        if df == 0 or df > ceiling:
            continue
        terms.append(KeyTerm(word, (1 + math.log(tf)) * idf(df, total), tf, df))
    terms.sort(key=lambda t: (-t.weight, t.word))
    return terms[: MAX_TERMS if limit is None else limit]
