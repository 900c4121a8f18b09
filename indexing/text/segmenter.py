"""Chinese word segmentation with jieba's algorithm and the legal user dictionary.

One `Segmenter` is built at start-up (loading the dictionaries takes about a second) and is
used identically at index and query time. All input is folded first (`folding.fold`).

Three token streams are produced:
- `index_words`: the words plus every dictionary word inside a longer word, so a query
  for 器官 finds 人体器官 and 文物 finds 走私文物 (recall inside long words);
- `query_words`: the words only, so a query never matches on a lone shared character;
- `chars`: one token per Han character (and per run of other letters or digits), used for
  exact phrases and as a low-weight sub-word fallback.

Words are cut by the native cutter (jieba-rs, about ten times faster) or by jieba itself, the
reference; both give the same words (`indexing/text/cutters.py`, checked by a test on every real
case), so an index built with one is searched correctly with the other.

With the native cutter, the two index streams (`index_text`, `chars_text`) are built by the
project's own extension (`indexing/text/native/`, built by `scripts/build_native.sh`) when it is
installed: the same strings in one call that releases the interpreter lock, with about 40%
less CPU than the Python code around the cutter (index units of 20,000 real cases: 0.13–0.15
against 0.22–0.24 ms per case, `bench/load_stages.py` and README). Without it the Python code below builds them; a test
checks both give jieba's streams on every real case.

HMM new-word discovery is off on both sides: it guesses words from context, so the same
string could be cut differently in a query and in a document.
"""

from __future__ import annotations

import re
from functools import cache
from itertools import compress
from importlib import resources
from pathlib import Path
from typing import Literal, Protocol

from indexing.text.cutters import JiebaCutter, NativeCutter, WordCutter, read_user_words
from indexing.text.folding import fold

_WORD_CHAR = re.compile(r"\w")
# Han characters, the supplementary planes included: Extension B and later hold characters
# of real names (𠮷), and a query made only of them must still yield character tokens.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af"
# One token per Han character; one per run of other letters and digits (Latin with
# diacritics, Cyrillic, kana …), a decimal point inside a number kept.
_CHAR_TOKENS = re.compile(rf"[{_HAN}]|[^\W_{_HAN}]+(?:[.][0-9]+)?")
MAX_SUBWORD = 8  # longest dictionary word looked for inside a longer word
# Words seen while indexing, each with the dictionary words inside it, space-joined; bounded,
# as a load of millions of cases meets ever more distinct names and numbers.
_EXPANSION_CACHE_SIZE = 300_000

CutterName = Literal["native", "jieba"]


@cache
def _word_char_bits() -> bytes:
    """One bit per code point, set where `_WORD_CHAR` matches: Python's own `\\w`, handed to the
    native streams so they keep and drop tokens exactly as this module does."""
    bits = bytearray(0x110000 // 8)
    everything = "".join(map(chr, range(0x110000)))
    for match in _WORD_CHAR.finditer(everything):
        code = match.start()
        bits[code >> 3] |= 1 << (code & 7)
    return bytes(bits)


class StreamBuilder(Protocol):
    """`casedigest_native.StreamBuilder`: this module's two index streams, built natively."""

    def index_text(self, folded: str) -> str: ...

    def chars_text(self, folded: str) -> str: ...


def _stream_builder(cutter: WordCutter) -> StreamBuilder | None:
    """The native streams over `cutter`'s dictionary, or None when the extension is not built."""
    if not isinstance(cutter, NativeCutter):
        return None
    try:
        from casedigest_native import StreamBuilder as NativeStreams
    except ImportError:
        return None
    built: StreamBuilder = NativeStreams(cutter.entries(), list(cutter.frequencies()), _word_char_bits())
    return built


def legal_dictionary_path() -> Path:
    return Path(str(resources.files("indexing").joinpath("data/legal_dict.txt")))


class Segmenter:
    """Word cutter with the legal dictionary; thread-safe for reading once initialized."""

    def __init__(
        self, user_dictionary: Path | None = None, cutter: CutterName = "native", native_streams: bool = True
    ) -> None:
        """`native_streams=False` keeps the Python streams even when the extension is built."""
        self.dictionary_path = user_dictionary or legal_dictionary_path()
        self.cutter_name: CutterName = cutter
        user_words = read_user_words(self.dictionary_path)
        self._cutter: WordCutter = NativeCutter(user_words) if cutter == "native" else JiebaCutter(user_words)
        # the native cutter lets other threads run while it cuts, so threads can share a load
        self.releases_lock = cutter == "native"
        self._freq = self._cutter.frequencies()
        self._expansions: dict[str, str] = {}
        self._native = _stream_builder(self._cutter) if native_streams else None
        self.native_streams = self._native is not None

    def is_word(self, token: str) -> bool:
        return token in self._freq

    def words(self, text: str) -> list[str]:
        """The words of already-folded text, without punctuation or spaces."""
        tokens = self._cutter.cut(text)
        # `compress` over `map` keeps the per-token test in C: this runs on every word loaded
        return list(compress(tokens, map(_WORD_CHAR.search, tokens)))

    def word_spans(self, folded: str) -> list[tuple[int, int]]:
        """[start, end) offsets of the words `words` returns, in already-folded text."""
        spans = []
        offset = 0
        for piece in self._cutter.cut(folded):
            if _WORD_CHAR.search(piece):
                spans.append((offset, offset + len(piece)))
            offset += len(piece)
        return spans

    def query_words(self, text: str) -> list[str]:
        """Words of a query term, folded and segmented."""
        return self.words(fold(text))

    def index_words(self, folded: str) -> list[str]:
        """Words for the index: each word followed by the dictionary words inside it."""
        text = self.index_text(folded)
        return text.split(" ") if text else []

    def index_text(self, folded: str) -> str:
        """`index_words` joined by spaces, as the engines take them (the fast path of a load).

        Natively when the extension is built. Otherwise every token is looked up in a cache of
        its expansion (the word and the dictionary words inside it, or nothing for punctuation),
        so the per-token work runs in C.
        """
        if self._native is not None:
            return self._native.index_text(folded)
        tokens = self._cutter.cut(folded)
        expansions = self._expansions
        try:
            # Most texts of a load hold only words seen before: one pass, no set of tokens.
            return " ".join(filter(None, map(expansions.__getitem__, tokens)))
        except KeyError:
            pass
        missing = set(tokens).difference(expansions)
        if len(expansions) + len(missing) > _EXPANSION_CACHE_SIZE:
            expansions.clear()
        for token in missing:
            expansions[token] = self._expansion(token)
        try:
            return " ".join(filter(None, map(expansions.__getitem__, tokens)))
        except KeyError:  # another thread emptied the cache in between
            return " ".join(filter(None, map(self._expansion, tokens)))

    def _expansion(self, token: str) -> str:
        if _WORD_CHAR.search(token) is None:
            return ""  # punctuation and spaces are not indexed
        return " ".join((token, *self._words_inside(token)))

    def _words_inside(self, word: str) -> tuple[str, ...]:
        """Dictionary words of 2 to `MAX_SUBWORD` characters inside `word`, shortest first."""
        length = len(word)
        if length <= 2:
            return ()
        freq = self._freq
        return tuple(
            part
            for size in range(2, min(length, MAX_SUBWORD + 1))
            for start in range(0, length - size + 1)
            if (part := word[start : start + size]) in freq
        )

    def chars_text(self, folded: str) -> str:
        """`chars` joined by spaces, as the engines take them (natively when the extension is built)."""
        if self._native is not None:
            return self._native.chars_text(folded)
        return " ".join(_CHAR_TOKENS.findall(folded))

    @staticmethod
    def chars(folded: str) -> list[str]:
        """Character tokens of folded text: each Han character, each run of other letters/digits."""
        return _CHAR_TOKENS.findall(folded)
