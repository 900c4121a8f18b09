"""Character folding applied identically to indexed text and to queries.

Folding maps traditional to simplified characters, full-width to half-width forms and Latin
(with diacritics too), Greek and Cyrillic letters to lower case. It works character by
character and never changes the length of a string, so an offset in folded text is the same
offset in the original: highlights are cut from the original text without any mapping.
"""

from __future__ import annotations

import re
from functools import lru_cache

import opencc

# CJK Unified Ideographs, Extension A and the compatibility block: every character OpenCC
# may convert one to one.
_CJK_RANGES = ((0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF))

# Punctuation a Chinese keyboard produces where the query syntax expects ASCII.
_PUNCTUATION = {
    "“": '"', "”": '"', "「": '"', "」": '"', "『": '"', "』": '"',
    "‘": "'", "’": "'", "　": " ", "：": ":", "（": "(", "）": ")", "－": "-",
}


@lru_cache(maxsize=1)
def fold_table() -> dict[int, str]:
    """Build the translation table once (about 0.1 s); later calls reuse it."""
    table: dict[int, str] = {}
    converter = opencc.OpenCC("t2s")
    chars = [chr(cp) for start, end in _CJK_RANGES for cp in range(start, end + 1)]
    converted = converter.convert("\n".join(chars)).split("\n")
    if len(converted) == len(chars):
        for original, simplified in zip(chars, converted):
            if len(simplified) == 1 and simplified != original:
                table[ord(original)] = simplified
    for cp in range(0xFF01, 0xFF5F):  # full-width ASCII variants
        table[cp] = chr(cp - 0xFEE0)
    for original, replacement in _PUNCTUATION.items():
        table[ord(original)] = replacement
    for cp in range(ord("A"), ord("Z") + 1):
        table[cp] = chr(cp + 32)
    for cp in range(0xFF21, 0xFF3B):  # full-width capitals fold straight to lower case
        table[cp] = chr(cp - 0xFEE0 + 32)
    for cp in range(0x00C0, 0x0530):  # Latin with diacritics, Greek, Cyrillic: É→é, Ǆ→ǆ
        lower = chr(cp).lower()
        if len(lower) == 1 and lower != chr(cp):  # İ lowers to two characters: left as it is
            table[cp] = lower
    return table


@lru_cache(maxsize=1)
def _foldable() -> re.Pattern[str]:
    """Every character the table changes, as one character class."""
    return re.compile("[" + "".join(re.escape(chr(cp)) for cp in sorted(fold_table())) + "]")


@lru_cache(maxsize=1)
def _replacements() -> dict[str, str]:
    """The table keyed by character, so a match is looked up without `ord`."""
    return {chr(cp): folded for cp, folded in fold_table().items()}


def fold(text: str) -> str:
    """Traditional→simplified, full→half width, Latin lower case; same length as `text`.

    The regular expression skips, in C, the characters that stay as they are (most of a
    simplified Chinese text); `str.translate` would look each one up in the table.
    """
    replacements = _replacements()
    return _foldable().sub(lambda m: replacements[m.group()], text)
