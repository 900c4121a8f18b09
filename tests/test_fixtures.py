"""The demo fixtures in `fixtures/` are valid records and cover what the demos need."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from indexing.records.crime_forms import TAXONOMY
from indexing.records.model import CaseDigest, Resolution, parse_record

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
CASES_FILE = FIXTURES / "cases.jsonl"
RESOLUTIONS_FILE = FIXTURES / "resolutions.jsonl"

# "CTOC/COP 第6/1号决议 第16段": a case citing one operative paragraph of a resolution.
RESOLUTION_CITATION = re.compile(r"^CTOC/COP 第(\d+/\d+)号决议 第(\d+)段$")


def _lines(path: Path) -> list[tuple[int, str]]:
    text = path.read_text(encoding="utf-8")
    return [(n, line) for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def _parse_all(path: Path) -> list[CaseDigest | Resolution]:
    return [parse_record(json.loads(line)) for _, line in _lines(path)]


@pytest.fixture(scope="module")
def cases() -> list[CaseDigest]:
    records = _parse_all(CASES_FILE)
    assert all(isinstance(r, CaseDigest) for r in records)
    return records  # type: ignore[return-value]


@pytest.fixture(scope="module")
def resolutions() -> list[Resolution]:
    records = _parse_all(RESOLUTIONS_FILE)
    assert all(isinstance(r, Resolution) for r in records)
    return records  # type: ignore[return-value]


@pytest.mark.parametrize("path", [CASES_FILE, RESOLUTIONS_FILE], ids=lambda p: p.name)
def test_every_line_is_a_valid_record(path: Path) -> None:
    lines = _lines(path)
    assert lines, f"{path.name} is empty"
    for number, line in lines:
        data = json.loads(line)
        assert isinstance(data, dict), f"{path.name}:{number} is not a JSON object"
        parse_record(data)  # raises RecordError naming the field at fault


def test_ids_are_unique_across_both_files(
    cases: list[CaseDigest], resolutions: list[Resolution]
) -> None:
    ids = Counter(r.id for r in [*cases, *resolutions])
    assert [i for i, n in ids.items() if n > 1] == []


def test_enough_cases_and_resolutions(
    cases: list[CaseDigest], resolutions: list[Resolution]
) -> None:
    assert len(cases) >= 66
    assert len(resolutions) >= 3


def test_every_crime_form_is_covered(cases: list[CaseDigest]) -> None:
    counts: Counter[str] = Counter()
    for case in cases:
        counts.update(TAXONOMY.with_ancestors(case.crime_form_codes))
    assert len(TAXONOMY.codes) == 19
    for form in TAXONOMY.forms:
        wanted = 1 if form.parent else 3
        assert counts[form.code] >= wanted, f"{form.code}: {counts[form.code]} < {wanted}"


def test_some_cases_leave_crime_forms_to_inference(cases: list[CaseDigest]) -> None:
    untagged = [c for c in cases if not c.crime_forms]
    assert len(untagged) >= 5
    assert all(c.charges for c in untagged), "an untagged case needs charges to infer from"


def test_countries_courts_and_years(cases: list[CaseDigest]) -> None:
    assert len({c.country for c in cases if c.country}) >= 6
    assert len({c.court for c in cases if c.court}) >= 10
    years = [c.year for c in cases if c.year is not None]
    assert len(years) == len(cases), "every demo case has a decision date"
    assert min(years) <= 1996
    assert max(years) >= 2024
    assert all(1995 <= y <= 2025 for y in years)


def test_traditional_chinese_records_for_folding_demo(cases: list[CaseDigest]) -> None:
    hant = [c for c in cases if c.language == "zh-Hant"]
    assert len(hant) >= 3
    assert any("販賣" in c.summary for c in hant)


def test_resolution_paragraphs_are_numbered_from_one(resolutions: list[Resolution]) -> None:
    for resolution in resolutions:
        for kind in ("preambular", "operative"):
            numbers = [p.number for p in resolution.paragraphs if p.kind == kind]
            assert numbers == list(range(1, len(numbers) + 1)), (resolution.id, kind)


def test_cited_resolution_paragraphs_exist(
    cases: list[CaseDigest], resolutions: list[Resolution]
) -> None:
    by_number = {r.number: r for r in resolutions}
    citations = [
        (case.id, match)
        for case in cases
        for basis in case.legal_basis
        if (match := RESOLUTION_CITATION.match(basis))
    ]
    assert citations, "some cases should cite a resolution paragraph"
    for case_id, match in citations:
        number, paragraph = match.groups()
        resolution = by_number.get(number)
        assert resolution is not None, f"{case_id} cites unknown resolution {number}"
        assert resolution.paragraph(f"p{paragraph}") is not None, (case_id, match.group(0))


def test_resolution_6_1_paragraph_16_names_emerging_crimes(
    resolutions: list[Resolution],
) -> None:
    resolution = next(r for r in resolutions if r.number == "6/1")
    paragraph = resolution.paragraph("p16")
    assert paragraph is not None
    for term in ("网络犯罪", "文化财产", "人体器官", "海盗", "野生动植物", "林木", "渔业", "伪造医疗产品"):
        assert term in paragraph.text, term
