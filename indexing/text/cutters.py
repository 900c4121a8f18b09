"""The two word cutters behind `Segmenter`: jieba (the reference) and a native one.

Both cut folded text into words exactly as jieba 0.42.1 does with HMM off and the legal
dictionary added word by word; the native cutter does it about ten times faster and releases
the interpreter lock while it cuts, so threads can share the work.

The native cutter is jieba's algorithm in Rust (the `nazrin` bindings over the jieba-rs
crate). Out of the box it cuts some text differently from jieba, for three reasons, each
undone here:

1. jieba-rs embeds a dictionary one line short of jieba's (`B超`): the native cutter loads
   jieba's own dictionary file, so both know the same words with the same frequencies.
2. jieba adds a user word's frequency to its total even when the word was already in the
   dictionary (it never subtracts the old frequency); jieba-rs replaces it. The total sets
   the cost of every extra word in a path, so with the legal dictionary jieba's total is
   larger and it keeps words such as 三车 and 对开 whole where jieba-rs cuts them. The native
   cutter adds the difference as the frequency of a "ballast" entry that no text can match.
3. jieba-rs treats more code points as Han (CJK extension blocks, compatibility ideographs,
   U+9FD6–U+9FFF) than jieba's `[\u4E00-\u9FD5]`; jieba cuts the text around each of them and
   yields it alone, so the native cutter does the same before handing the rest to jieba-rs.

`tests/test_segmenter_identity.py` checks that both cutters give the same words on every real
case and fixture.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Iterable, Protocol

import jieba

jieba.setLogLevel(60)  # jieba logs its dictionary loading at INFO; keep start-up quiet

# Code points jieba-rs cuts as Han and jieba does not (see point 3 above).
_HAN_ONLY_NATIVE = re.compile(
    "([\u3400-\u4dbf\u9fd6-\u9fff\uf900-\ufaff"
    "\U00020000-\U0002a6df\U0002a700-\U0002ebef\U0002f800-\U0002fa1f])"
)

# Holds the total difference (point 2). A key with a space can never be looked up: jieba-rs
# only looks up runs of Han, ASCII letters, digits and `+#&._%-`.
_BALLAST_WORD = " total "


class WordCutter(Protocol):
    """Cuts folded text into words (punctuation and spaces included) and knows the dictionary."""

    def cut(self, text: str) -> list[str]: ...

    def frequency(self, word: str) -> int: ...

    def frequencies(self) -> dict[str, int]: ...


def jieba_dictionary_path() -> Path:
    return Path(os.path.dirname(jieba.__file__)) / "dict.txt"


def read_user_words(path: Path) -> list[tuple[str, int | None]]:
    """`word [frequency]` lines of a user dictionary; `#` starts a comment line."""
    words: list[tuple[str, int | None]] = []
    for line in path.read_text("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, _, freq = line.partition(" ")
        words.append((word, int(freq) if freq.strip().isdigit() else None))
    return words


class JiebaCutter:
    """The reference: jieba itself."""

    def __init__(self, user_words: Iterable[tuple[str, int | None]]) -> None:
        self._tokenizer = jieba.Tokenizer()
        self._tokenizer.initialize()
        for word, freq in user_words:
            self._tokenizer.add_word(word, freq)

    def cut(self, text: str) -> list[str]:
        return list(self._tokenizer.cut(text, HMM=False))

    def frequency(self, word: str) -> int:
        return int(self._tokenizer.FREQ.get(word, 0))

    def frequencies(self) -> dict[str, int]:
        # jieba's table also holds every prefix of a word, with frequency 0
        return {w: f for w, f in self._tokenizer.FREQ.items() if f > 0}


class NativeCutter:
    """jieba-rs (through `nazrin`), set up to cut exactly as `JiebaCutter` does."""

    def __init__(self, user_words: Iterable[tuple[str, int | None]]) -> None:
        import nazrin  # imported here: only the native setting loads the extension

        reference = jieba_dictionary_path()
        self._freq: dict[str, int] = {}
        self._prefixes: set[str] | None = None  # built only to suggest a frequency
        reference_total = 0  # jieba's total: every line counts, even a repeated word
        fields = reference.read_text("utf-8").split()
        for word, freq_text in zip(fields[0::3], fields[1::3]):
            freq = int(freq_text)
            self._freq[word] = freq
            reference_total += freq
        self._nazrin = nazrin.Nazrin()
        self._nazrin.load_userdict(str(reference))
        self._native_total = sum(self._freq.values())  # jieba-rs: the sum over distinct words
        self._reference_total = reference_total
        for word, freq in user_words:
            if freq is None:
                self._balance()  # jieba suggests from the words and total it has so far
                freq = self._suggest_frequency(word)
            self._native_total += freq - self._freq.get(word, 0)
            self._reference_total += freq
            self._freq[word] = freq
            if self._prefixes is not None:
                self._prefixes.update(word[:end] for end in range(1, len(word)))
            self._nazrin.add_word(word, freq)
        self._balance()

    def _balance(self) -> None:
        """Make jieba-rs's total equal to jieba's (point 2 above)."""
        self._ballast = max(self._reference_total - self._native_total, 0)
        self._nazrin.add_word(_BALLAST_WORD, self._ballast)

    def entries(self) -> list[tuple[str, int]]:
        """Every word jieba-rs holds here with its frequency, the ballast included: what
        another jieba-rs (the native token streams) needs to cut exactly as this one does."""
        return [*self._freq.items(), (_BALLAST_WORD, self._ballast)]

    def _suggest_frequency(self, word: str) -> int:
        """jieba's `suggest_freq(word, tune=False)`, the frequency it gives a word added without one."""
        total = self._reference_total
        share = 1.0
        for part in self.cut(word):
            share *= self._reference_frequency(part) / float(total)
        return max(int(share * total) + 1, self._freq.get(word, 1))

    def _reference_frequency(self, part: str) -> int:
        """`jieba.FREQ.get(part, 1)`: jieba's table holds every prefix of a word at 0."""
        if part in self._freq:
            return self._freq[part]
        if self._prefixes is None:
            self._prefixes = {w[:end] for w in self._freq for end in range(1, len(w))}
        return 0 if part in self._prefixes else 1

    def cut(self, text: str) -> list[str]:
        if _HAN_ONLY_NATIVE.search(text) is None:
            return self._nazrin.cut(text, False)
        words: list[str] = []
        # split with a group: the pieces alternate text, lone character, text, …
        for index, piece in enumerate(_HAN_ONLY_NATIVE.split(text)):
            if index % 2:
                words.append(piece)
            elif piece:
                words.extend(self._nazrin.cut(piece, False))
        return words

    def frequency(self, word: str) -> int:
        return self._freq.get(word, 0)

    def frequencies(self) -> dict[str, int]:
        return {w: f for w, f in self._freq.items() if f > 0}
