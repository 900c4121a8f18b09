"""Chinese word segmentation with jieba and the legal user dictionary.

One `Segmenter` is built at start-up (loading the dictionaries takes about a second) and is
used identically at index and query time. All input is folded first (`folding.fold`).

Three token streams are produced:
- `index_words`: jieba's words plus every dictionary word inside a longer word, so a query
  for 器官 finds 人体器官 and 文物 finds 走私文物 (recall inside long words);
- `query_words`: jieba's words only, so a query never matches on a lone shared character;
- `chars`: one token per Han character (and per run of other letters or digits), used for
  exact phrases and as a low-weight sub-word fallback.

HMM new-word discovery is off on both sides: it guesses words from context, so the same
string could be cut differently in a query and in a document.
"""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import jieba

from indexing.folding import fold

_WORD_CHAR = re.compile(r"\w")
# Han characters, the supplementary planes included: Extension B and later hold characters
# of real names (𠮷), and a query made only of them must still yield character tokens.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U000323af"
# One token per Han character; one per run of other letters and digits (Latin with
# diacritics, Cyrillic, kana …), a decimal point inside a number kept.
_CHAR_TOKENS = re.compile(rf"[{_HAN}]|[^\W_{_HAN}]+(?:[.][0-9]+)?")
MAX_SUBWORD = 8  # longest dictionary word looked for inside a longer word

jieba.setLogLevel(60)  # jieba logs its dictionary loading at INFO; keep start-up quiet


def legal_dictionary_path() -> Path:
    return Path(str(resources.files("indexing").joinpath("data/legal_dict.txt")))


class Segmenter:
    """jieba with the legal dictionary; thread-safe for reading once initialized."""

    def __init__(self, user_dictionary: Path | None = None) -> None:
        self.dictionary_path = user_dictionary or legal_dictionary_path()
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        self._load_words(self.dictionary_path)

    def _load_words(self, path: Path) -> None:
        for line in path.read_text("utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            word, _, freq = line.partition(" ")
            self._tokenizer.add_word(word, int(freq) if freq.strip().isdigit() else None)

    def is_word(self, token: str) -> bool:
        return self._tokenizer.FREQ.get(token, 0) > 0

    def words(self, text: str) -> list[str]:
        """jieba's words of already-folded text, without punctuation or spaces."""
        return [w for w in self._tokenizer.cut(text, HMM=False) if _WORD_CHAR.search(w)]

    def word_spans(self, folded: str) -> list[tuple[int, int]]:
        """[start, end) offsets of the words `words` returns, in already-folded text."""
        spans = []
        offset = 0
        for piece in self._tokenizer.cut(folded, HMM=False):
            if _WORD_CHAR.search(piece):
                spans.append((offset, offset + len(piece)))
            offset += len(piece)
        return spans

    def query_words(self, text: str) -> list[str]:
        """Words of a query term, folded and segmented."""
        return self.words(fold(text))

    def index_words(self, folded: str) -> list[str]:
        """Words for the index: each word followed by the dictionary words inside it."""
        tokens: list[str] = []
        freq = self._tokenizer.FREQ
        for word in self.words(folded):
            tokens.append(word)
            length = len(word)
            if length <= 2:
                continue
            for size in range(2, min(length, MAX_SUBWORD + 1)):
                for start in range(0, length - size + 1):
                    part = word[start : start + size]
                    if freq.get(part, 0) > 0:
                        tokens.append(part)
        return tokens

    @staticmethod
    def chars(folded: str) -> list[str]:
        """Character tokens of folded text: each Han character, each run of other letters/digits."""
        return _CHAR_TOKENS.findall(folded)
