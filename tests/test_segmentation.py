"""Folding and segmentation: the same tokens at index and query time."""

from __future__ import annotations

import pytest

from indexing.text.folding import fold
from indexing.text.segmenter import Segmenter


@pytest.mark.parametrize(
    "text, folded",
    [
        ("臺灣網絡詐騙", "台湾网络诈骗"),
        ("販賣毒品", "贩卖毒品"),
        ("ＡＢＣ１２３", "abc123"),
        ("DNA Test", "dna test"),
        ("（测试）“引号”：", '(测试)"引号":'),
    ],
)
def test_fold(text: str, folded: str) -> None:
    assert fold(text) == folded
    assert len(fold(text)) == len(text)  # offsets in folded text are offsets in the original


def test_fold_changes_every_table_character_and_only_those() -> None:
    from indexing.text.folding import fold_table

    table = fold_table()
    every = "".join(chr(cp) for cp in sorted(table))
    assert fold(every) == every.translate(table)  # the fast path agrees with the table
    kept = "被告人于2015年在北京市朝阳区盗窃手机，价值人民币3000元。abc"
    assert fold(kept + every + kept) == kept.translate(table) + every.translate(table) + kept.translate(table)


def test_legal_dictionary_keeps_terms_whole(segmenter: Segmenter) -> None:
    assert segmenter.words("组织出卖人体器官") == ["组织出卖人体器官"]
    assert "走私文物" in segmenter.words("被告人走私文物出境")
    assert segmenter.is_word("黑社会性质组织")


@pytest.mark.parametrize(
    "document, query",
    [("组织出卖人体器官", "器官"), ("组织出卖人体器官", "人体器官"), ("走私文物罪", "文物"), ("电信网络诈骗", "网络诈骗")],
)
def test_words_inside_long_words_are_indexed(segmenter: Segmenter, document: str, query: str) -> None:
    assert set(segmenter.query_words(query)) <= set(segmenter.index_words(fold(document)))


def test_single_characters_are_not_words_of_long_terms(segmenter: Segmenter) -> None:
    tokens = segmenter.index_words(fold("组织出卖人体器官"))
    assert "器" not in tokens and "官" not in tokens


def test_query_and_index_agree_on_traditional_text(segmenter: Segmenter) -> None:
    assert segmenter.query_words("販賣毒品") == segmenter.words(fold("贩卖毒品"))


def test_chars_keep_latin_and_digit_runs(segmenter: Segmenter) -> None:
    assert Segmenter.chars(fold("2015年ＡＴＭ机")) == ["2015", "年", "atm", "机"]
