"""Record validation: errors name the field and the reason."""

from __future__ import annotations

import pytest

from indexing.records.model import CaseDigest, RecordError, Resolution, parse_record

BASE = {"id": "r-1", "title": "测试案", "summary": "摘要"}


def test_minimal_case_and_defaults() -> None:
    record = parse_record(BASE)
    assert isinstance(record, CaseDigest) and record.language == "zh-Hans" and record.crime_forms == []


def test_labels_and_codes_become_curated_tags() -> None:
    record = parse_record({**BASE, "crime_forms": ["毒品犯罪", "Wildlife crime", "drugs"], "country": "chn"})
    assert [(t.code, t.source) for t in record.crime_forms] == [("drugs", "curated"), ("environment.wildlife", "curated")]
    assert record.country == "CN"


@pytest.mark.parametrize("value, year", [("2015", 2015), ("2015-04", 2015), ("2015-04-14", 2015), (1999, 1999)])
def test_partial_dates(value: object, year: int) -> None:
    assert parse_record({**BASE, "decision_date": value}).year == year  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "change, field, reason",
    [
        ({"summary": None}, "summary", "valid string"),
        ({"summary": ""}, "summary", "at least 1 character"),
        ({"id": "京01/12号"}, "id", "must not contain '/'"),
        ({"id": "a\tb"}, "id", "printable"),
        ({"id": "号" * 129}, "id", "at most 128 characters"),
        ({"decision_date": "2015-02-30"}, "decision_date", "not a real date"),
        ({"decision_date": "14/04/2015"}, "decision_date", "YYYY, YYYY-MM or YYYY-MM-DD"),
        ({"crime_forms": ["space piracy"]}, "crime_forms.0.code", "unknown crime form"),
        ({"country": "Atlantis"}, "country", "not an ISO 3166-1 country code"),
        ({"language": "en"}, "language", "zh-Hans"),
        ({"source": {"name": "x", "url": "ftp://x"}}, "source.url", "http(s) URL"),
        ({"colour": "red"}, "colour", "not a field"),
        ({"doc_type": "memo"}, "doc_type", "'case' or 'resolution'"),
    ],
)
def test_errors_name_field_and_reason(change: dict, field: str, reason: str) -> None:
    data = {**BASE, **change}
    if change.get("summary") is None and "summary" in change:
        del data["summary"]
        reason = "is required"
    with pytest.raises(RecordError) as raised:
        parse_record(data)
    assert raised.value.field == field
    assert reason in raised.value.reason
    assert raised.value.record_id == data.get("id")


def test_resolution_paragraphs_and_anchors() -> None:
    record = parse_record({
        "id": "res-1", "doc_type": "resolution", "body": "缔约方会议", "number": "6/1", "title": "决议",
        "paragraphs": [{"kind": "preambular", "number": 1, "text": "回顾"}, {"kind": "operative", "number": 16, "text": "关切"}],
    })
    assert isinstance(record, Resolution)
    assert [p.anchor for p in record.paragraphs] == ["pp1", "p16"] and record.paragraph("p16").label == "第16段"
    with pytest.raises(RecordError) as raised:
        parse_record({**record.model_dump(), "paragraphs": [{"kind": "operative", "number": 1, "text": "a"}] * 2})
    assert "appears twice" in raised.value.reason


def test_content_hash_tracks_content() -> None:
    assert parse_record(BASE).content_hash() == parse_record(dict(BASE)).content_hash()
    assert parse_record(BASE).content_hash() != parse_record({**BASE, "summary": "另一个摘要"}).content_hash()


@pytest.mark.parametrize("record_id", ["（2019）京01刑初12号", "(2019)京01刑初12号之一", "demo-cn-2019-001", "案 12", "ctoc:6.1"])
def test_case_numbers_and_ascii_codes_are_ids(record_id: str) -> None:
    assert parse_record({**BASE, "id": record_id}).id == record_id
