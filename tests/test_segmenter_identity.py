"""The native cutter gives exactly jieba's tokens: words, sub-words and characters.

jieba stays the reference (`CASEDIGEST_SEGMENTER=jieba`); the native cutter is used only
because these tests show it cuts every real case and every fixture the same way, with the
legal dictionary. `indexing/text/cutters.py` says why the two differed before and what undoes it.
Each test runs on both ways the native setting builds the index streams: the project's
extension (`indexing/text/native/`; skipped when it is not built) and the Python code around
the native cutter.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import CAIL, CAIL_MAP, ROOT
from indexing.engines.units import units_for
from indexing.loading.field_map import FieldMap
from indexing.text.folding import fold
from indexing.loading.loader import read_records
from indexing.loading.readers import Rejection
from indexing.engines.base import Record
from indexing.text.segmenter import Segmenter, legal_dictionary_path


@pytest.fixture(scope="module")
def reference() -> Segmenter:
    return Segmenter(cutter="jieba")


STREAMS = ("extension", "python")


def native_segmenter(streams: str, dictionary: Path | None = None) -> Segmenter:
    segmenter = Segmenter(dictionary, "native", native_streams=streams == "extension")
    if streams == "extension" and not segmenter.native_streams:
        pytest.skip("the native streams are not built (scripts/build_native.sh)")
    return segmenter


@pytest.fixture(scope="module", params=STREAMS)
def native(request: pytest.FixtureRequest) -> Segmenter:
    return native_segmenter(request.param)


class Remembered:
    """The reference's streams, each text cut once however many native setups it is compared with."""

    def __init__(self, segmenter: Segmenter) -> None:
        self.segmenter = segmenter
        self._seen: dict[tuple[str, str], object] = {}

    def stream(self, name: str, text: str) -> object:
        if (name, text) not in self._seen:
            self._seen[name, text] = getattr(self.segmenter, name)(text)
        return self._seen[name, text]


@pytest.fixture(scope="module")
def remembered(reference: Segmenter) -> Remembered:
    return Remembered(reference)


def _records(path: Path, field_map: FieldMap | None = None) -> list[Record]:
    items = [item for _, item in read_records(path, field_map)]
    assert items and not any(isinstance(item, Rejection) for item in items), path
    return [item for item in items if not isinstance(item, Rejection)]


def _texts(record: Record) -> list[str]:
    texts = [record.title, record.summary or "", *record.keywords, *record.legal_basis]
    texts += [getattr(record, name, None) or "" for name in ("full_text", "court", "case_number", "body")]
    texts += [*getattr(record, "charges", []), *(p.text for p in getattr(record, "paragraphs", []))]
    return [fold(t) for t in texts if t]


def _differences(records: list[Record], native: Segmenter, reference: Remembered, units: bool = True) -> list[str]:
    """One line per record whose streams (or index units) differ, naming the first difference.

    The streams: the query words, and the two strings the engines index (words with their
    sub-words, characters), compared token by token.
    """
    found = []
    for record in records:
        for text in _texts(record):
            for stream in ("words", "index_text", "chars_text"):
                mine, theirs = getattr(native, stream)(text), reference.stream(stream, text)
                if isinstance(mine, str) and isinstance(theirs, str):
                    mine, theirs = mine.split(" "), theirs.split(" ")
                if mine != theirs:
                    at = next((i for i, (a, b) in enumerate(zip(mine, theirs)) if a != b), min(len(mine), len(theirs)))
                    found.append(f"{record.id} {stream}: native {mine[at:at + 3]} jieba {theirs[at:at + 3]}")
                    break
        if units and units_for(record, native) != units_for(record, reference.segmenter):
            found.append(f"{record.id}: index units differ")
    return found


@pytest.mark.slow
@pytest.mark.real_data
def test_native_cuts_every_real_case_as_jieba_does(native: Segmenter, remembered: Remembered) -> None:
    records = _records(CAIL, FieldMap.load(CAIL_MAP))
    assert len(records) == 4496
    # the index units are these streams per field; comparing them too would double the run
    assert _differences(records, native, remembered, units=False) == []


@pytest.mark.parametrize("name", ["cases.jsonl", "resolutions.jsonl"])
def test_native_cuts_every_fixture_as_jieba_does(native: Segmenter, remembered: Remembered, name: str) -> None:
    assert _differences(_records(ROOT / "fixtures" / name), native, remembered) == []


def test_both_cutters_know_the_same_dictionary(native: Segmenter, reference: Segmenter) -> None:
    assert native._freq == reference._freq
    assert native.is_word("黑社会性质组织") and native.is_word("B超")  # B超: the word jieba-rs's own dictionary lacks


def test_native_keeps_jiebas_larger_total(native: Segmenter, reference: Segmenter) -> None:
    # jieba's total counts a user word again when the dictionary already had it; with the
    # smaller total jieba-rs would cut 三车, 兴达 and 对开 in two
    text = "造成三车部件受损，唐山市丰南区兴达物资有限公司对开路段"
    assert native.words(text) == reference.words(text)
    assert {"三车", "兴达", "对开"} <= set(native.words(text))


@pytest.fixture(scope="module")
def rare_han_dictionary(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The legal dictionary with user words made of characters that jieba does not call Han."""
    dictionary = tmp_path_factory.mktemp("dictionary") / "words.txt"
    extra = "㐀某村 50\n鿖鿗法院 50\n\U00020000文物 50\n\uf900人 50\n"
    dictionary.write_text(legal_dictionary_path().read_text("utf-8") + extra, "utf-8")
    return dictionary


@pytest.fixture(scope="module", params=STREAMS)
def with_rare_han(rare_han_dictionary: Path, request: pytest.FixtureRequest) -> tuple[Segmenter, Segmenter]:
    """Both cutters with that dictionary."""
    return native_segmenter(request.param, rare_han_dictionary), Segmenter(rare_han_dictionary, "jieba")


@pytest.mark.parametrize(
    "text",
    [
        "被告人在㐀某村贩卖毒品",  # CJK extension A: jieba yields each such character alone
        "鿖鿗法院审理",  # U+9FD6–U+9FFF, outside jieba's Han class
        "走私\U00020000文物a\U0002a6d6b2015年",  # supplementary-plane ideographs between words and Latin runs
        "罪犯\uf900人",  # a compatibility ideograph
    ],
)
def test_native_cuts_around_characters_jieba_does_not_call_han(
    with_rare_han: tuple[Segmenter, Segmenter], text: str
) -> None:
    # jieba never matches a word holding such a character; jieba-rs would, unless cut around it
    native, reference = with_rare_han
    assert native.words(text) == reference.words(text)
    assert native.index_text(text) == reference.index_text(text)
    assert native.chars_text(text) == reference.chars_text(text)


@pytest.mark.parametrize("streams", STREAMS)
def test_words_added_without_a_frequency_get_jiebas_suggestion(tmp_path: Path, streams: str) -> None:
    # after the legal dictionary, jieba's total is larger than jieba-rs's, and jieba suggests
    # from its own cut of the word: 兴达 whole gives another frequency than 兴 + 达
    dictionary = tmp_path / "words.txt"
    extra = "# no frequencies: jieba suggests one from the words it has\n兴达\n三车\n对开\n三车部件\n电诈窝点 9\n"
    dictionary.write_text(legal_dictionary_path().read_text("utf-8") + extra, "utf-8")
    native, reference = native_segmenter(streams, dictionary), Segmenter(dictionary, "jieba")
    text = "造成三车部件受损，丰南兴达对开路段的电诈窝点"
    assert native._freq == reference._freq
    assert native.words(text) == reference.words(text)
    assert native.index_text(text) == reference.index_text(text)


@pytest.mark.parametrize(
    "text",
    [
        "2015年3月查获甲基苯丙胺3.5克，价值1,200.50元，版本v1.2.3，3..5与.5",
        "user_name_1 与 abc_def、__init__",  # `_` is a word character but never part of a character token
        "Café naïve Ñandú e\u0301 Москва カタカナ ひらがな 한국어",  # letters with marks, other scripts
        "①②③ Ⅻ x² ٣٤٥ ߀",  # numbers that are not decimal digits, other decimal digits
        "𠮷野家 \U00020000\U0002a6d6 \U000323af\U000323b0 㐀",  # Han beyond the basic block
        "，。！？“”《》　\t\n",  # punctuation and space only: no token at all
        "",
    ],
)
def test_native_streams_of_unusual_text(native: Segmenter, reference: Segmenter, text: str) -> None:
    folded = fold(text)
    assert native.index_text(folded) == reference.index_text(folded)
    assert native.chars_text(folded) == reference.chars_text(folded)
    assert native.index_text(text) == reference.index_text(text)  # unfolded text too: same code points, same answer
    assert native.chars_text(text) == reference.chars_text(text)


def test_without_the_extension_the_python_streams_are_used(reference: Segmenter, monkeypatch: pytest.MonkeyPatch) -> None:
    # an extension that is not built cannot be imported: the native setting still works, in Python
    monkeypatch.setitem(sys.modules, "casedigest_native", None)
    segmenter = Segmenter(cutter="native")
    assert not segmenter.native_streams
    text = fold("造成三车部件受损，唐山市丰南区兴达物资有限公司对开路段，走私文物3.5克")
    assert segmenter.index_text(text) == reference.index_text(text)
    assert segmenter.chars_text(text) == reference.chars_text(text)
