"""The resolution parser, on the real CTOC COP resolution 6/1 and on small synthetic texts."""

from __future__ import annotations

import re

import pytest

from conftest import SEED
from indexing.records.model import RecordError, Resolution, Source
from indexing.records.resolution_parser import (
    DEFAULT_BODY,
    ResolutionFormatError,
    parse_resolution_footnotes,
    parse_resolution_text,
)

BODY = "《联合国打击跨国有组织犯罪公约》缔约方会议"


@pytest.fixture(scope="module")
def seed_text() -> str:
    return SEED.read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def seed(seed_text: str) -> Resolution:
    return parse_resolution_text(seed_text, record_id="ctoc-cop-6-1")


def _operative(resolution: Resolution, number: int) -> str:
    paragraph = resolution.paragraph(f"p{number}")
    assert paragraph is not None
    return paragraph.text


@pytest.mark.real_data
def test_seed_heading_fields(seed: Resolution) -> None:
    assert seed.number == "6/1"
    assert seed.title == "确保有效实施《联合国打击跨国有组织犯罪公约》及其各项议定书"
    assert seed.body == BODY
    assert seed.summary is None
    assert seed.adoption_date is None


@pytest.mark.real_data
def test_seed_operative_paragraphs_are_1_to_21(seed: Resolution) -> None:
    numbers = [p.number for p in seed.paragraphs if p.kind == "operative"]
    assert numbers == list(range(1, 22))


@pytest.mark.real_data
def test_seed_preambular_paragraphs(seed: Resolution) -> None:
    preambular = [p for p in seed.paragraphs if p.kind == "preambular"]
    # 12 on the first page, 5 after its footnotes; the opening line naming the body is not one.
    assert [p.number for p in preambular] == list(range(1, 18))
    assert preambular[0].text.startswith("回顾其题为")
    assert preambular[11].text.startswith("承认《公约》为")
    # The first page ends on a whole paragraph, so the next page starts a new one.
    assert preambular[12].text.startswith("还承认技术援助")
    assert preambular[-1].text.startswith("认可审议")
    assert all(p.text != BODY + "，" for p in preambular)


@pytest.mark.real_data
def test_seed_paragraphs_are_clean(seed: Resolution) -> None:
    for paragraph in seed.paragraphs:
        assert "<sup>" not in paragraph.text, paragraph.anchor
        assert "---" not in paragraph.text, paragraph.anchor
        assert "联合国，《条约汇编》" not in paragraph.text, paragraph.anchor
        assert not re.match(r"\d+\s*[.．]", paragraph.text), paragraph.anchor


@pytest.mark.real_data
def test_seed_paragraph_7_is_rejoined_across_the_page_break(seed: Resolution) -> None:
    text = _operative(seed, 7)
    assert text.startswith("请联合国毒品和犯罪问题办公室继续提供技术援助")
    assert "以便根据会员国在打击跨国有组织犯罪方面的需要" in text
    assert text.endswith("提供支持并予以补充；")


@pytest.mark.real_data
def test_seed_paragraph_15_is_rejoined_across_the_page_break(seed: Resolution) -> None:
    text = _operative(seed, 15)
    assert "继续交流经验和做法方面的信息" in text
    assert "CTOC/COP/WG" not in text


@pytest.mark.real_data
def test_seed_paragraph_16_names_new_crime_forms(seed: Resolution) -> None:
    text = _operative(seed, 16)
    for form in ("网络犯罪", "海盗", "环境犯罪", "贩运文化财产", "贩运器官", "伪药"):
        assert form in text
    assert "的报告，报告中涉及" in text


@pytest.mark.real_data
def test_seed_paragraph_12_has_no_footnote_text(seed: Resolution) -> None:
    text = _operative(seed, 12)
    assert "所载建议；欣见" in text
    assert "补充议定书》关键概念的工作；" in text
    assert "CTOC/COP/WG.4/2011/8" not in text
    assert "第39574号" not in text


@pytest.mark.real_data
def test_seed_footnotes(seed_text: str) -> None:
    footnotes = parse_resolution_footnotes(seed_text)
    assert sorted(footnotes) == list(range(1, 9))
    assert footnotes[2] == "大会第64/293号决议。"
    assert footnotes[5] == "CTOC/COP/WG.4/2011/8，第46-51段。"
    assert footnotes[8] == "CTOC/COP/2012/7。"


@pytest.mark.real_data
def test_windows_line_endings_parse_the_same(seed_text: str, seed: Resolution) -> None:
    windows = "\ufeff" + seed_text.replace("\n", "\r\n")
    assert parse_resolution_text(windows, record_id="ctoc-cop-6-1") == seed
    assert parse_resolution_footnotes(windows) == parse_resolution_footnotes(seed_text)


@pytest.mark.real_data
def test_arguments_override_and_fill_fields(seed_text: str) -> None:
    source = Source(name="UNODC", url="https://www.unodc.org/")
    resolution = parse_resolution_text(
        seed_text,
        record_id="r-6-1",
        body="缔约方会议",
        adoption_date="2012-10-19",
        source=source,
    )
    assert (resolution.body, resolution.adoption_date, resolution.source) == (
        "缔约方会议",
        "2012-10-19",
        source,
    )


SMALL = """\
## 第1/1号决议

### 测试标题

大会，

回顾以往的决议，

1. 决定甲；

2. 请乙。
"""


def test_small_text() -> None:
    resolution = parse_resolution_text(SMALL, record_id="r-1-1")
    assert resolution.body == "大会"
    assert [(p.anchor, p.text) for p in resolution.paragraphs] == [
        ("pp1", "回顾以往的决议，"),
        ("p1", "决定甲；"),
        ("p2", "请乙。"),
    ]


def test_body_defaults_without_an_opening_line() -> None:
    text = SMALL.replace("大会，\n", "")
    assert parse_resolution_text(text, record_id="r").body == DEFAULT_BODY


def test_trailing_date_and_meeting_lines_are_not_paragraph_text() -> None:
    text = SMALL + "\n第5次全体会议\n2012年10月19日\n"
    resolution = parse_resolution_text(text, record_id="r")
    assert resolution.adoption_date == "2012-10-19"
    assert _operative(resolution, 2) == "请乙。"


def test_preambular_paragraph_cut_by_a_page_break_is_rejoined() -> None:
    text = SMALL.replace("回顾以往的", "回顾以\n\n---\n\n<sup>1</sup> 注。\n\n往的")
    paragraphs = parse_resolution_text(text, record_id="r").paragraphs
    assert [p.text for p in paragraphs if p.kind == "preambular"] == ["回顾以往的决议，"]


def test_missing_number_heading_is_an_error() -> None:
    with pytest.raises(ResolutionFormatError, match="no resolution number heading"):
        parse_resolution_text(SMALL.replace("## 第1/1号决议", "## 决议"), record_id="r")


def test_missing_title_is_an_error() -> None:
    with pytest.raises(ResolutionFormatError, match="no title heading") as caught:
        parse_resolution_text(SMALL.replace("### 测试标题", ""), record_id="r")
    assert caught.value.line == 1


def test_no_operative_paragraphs_is_an_error() -> None:
    text = SMALL.split("1. ")[0]
    with pytest.raises(ResolutionFormatError, match="no operative paragraphs"):
        parse_resolution_text(text, record_id="r")


def test_gap_in_operative_numbers_is_an_error() -> None:
    with pytest.raises(ResolutionFormatError, match="expected 2") as caught:
        parse_resolution_text(SMALL.replace("2. 请乙", "3. 请乙"), record_id="r")
    assert caught.value.line == 11
    assert str(caught.value).startswith("line 11: operative paragraph 3")


def test_operative_numbers_must_start_at_1() -> None:
    with pytest.raises(ResolutionFormatError, match="line 9: operative paragraph 2 comes first"):
        parse_resolution_text(SMALL.replace("1. 决定甲", "2. 决定甲"), record_id="r")


def test_second_resolution_heading_is_an_error() -> None:
    with pytest.raises(ResolutionFormatError, match="second resolution heading"):
        parse_resolution_text(SMALL + "\n## 第1/2号决议\n", record_id="r")


def test_bad_record_id_is_a_record_error() -> None:
    with pytest.raises(RecordError) as caught:
        parse_resolution_text(SMALL, record_id="not/an/id")
    assert caught.value.field == "id"
