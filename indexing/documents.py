"""Records turned into index units: the flat, pre-segmented documents both engines index.

Segmentation happens here, in Python, once, so the embedded engine and Elasticsearch index
exactly the same tokens (Elasticsearch only splits them on spaces). A case digest is one
unit; a resolution is one unit for its title and summary plus one unit per paragraph, so a
paragraph can be found and cited on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from indexing.crime_forms import TAXONOMY
from indexing.folding import fold
from indexing.records import CaseDigest, Resolution, date_sort_key, date_year
from indexing.segmenter import Segmenter

# Text fields indexed as words (`<name>_w`) and, for the long ones, as characters (`<name>_c`).
WORD_FIELDS = ("title", "summary", "full_text", "charges", "court", "keywords", "legal_basis", "case_number")
CHAR_FIELDS = ("title", "summary", "full_text")


@dataclass
class IndexUnit:
    unit_id: str
    record_id: str
    doc_type: str
    crime_forms: list[str]
    country: str | None
    court: str | None
    charges: list[str]
    year: int | None
    sort_date: int
    words: dict[str, str] = field(default_factory=dict)  # field → space-joined word tokens
    chars: dict[str, str] = field(default_factory=dict)  # field → space-joined char tokens

    @property
    def text_size(self) -> int:
        return sum(len(v) for v in self.chars.values())


def _texts_to_tokens(unit: IndexUnit, segmenter: Segmenter, texts: dict[str, str]) -> IndexUnit:
    for name, text in texts.items():
        if not text:
            continue
        folded = fold(text)
        unit.words[name] = segmenter.index_text(folded)
        if name in CHAR_FIELDS:
            unit.chars[name] = segmenter.chars_text(folded)
    return unit


def units_for(record: CaseDigest | Resolution, segmenter: Segmenter) -> list[IndexUnit]:
    """The index units of one record (one for a case, 1 + paragraphs for a resolution)."""
    forms = TAXONOMY.with_ancestors(record.crime_form_codes)
    if isinstance(record, CaseDigest):
        unit = IndexUnit(
            unit_id=record.id,
            record_id=record.id,
            doc_type="case",
            crime_forms=forms,
            country=record.country,
            court=record.court,
            charges=record.charges,
            year=record.year,
            sort_date=date_sort_key(record.decision_date),
        )
        texts = {
            "title": record.title,
            "summary": record.summary,
            "full_text": record.full_text or "",
            "charges": "；".join(record.charges),
            "court": record.court or "",
            "keywords": "；".join(record.keywords),
            "legal_basis": "；".join(record.legal_basis),
            "case_number": record.case_number or "",
        }
        return [_texts_to_tokens(unit, segmenter, texts)]

    def resolution_unit(unit_id: str) -> IndexUnit:
        return IndexUnit(
            unit_id=unit_id,
            record_id=record.id,
            doc_type="resolution",
            crime_forms=forms,
            country=None,
            court=record.body,
            charges=[],
            year=date_year(record.adoption_date),
            sort_date=date_sort_key(record.adoption_date),
        )

    head = _texts_to_tokens(
        resolution_unit(record.id),
        segmenter,
        {
            "title": f"{record.title} 第{record.number}号决议",
            "summary": record.summary or "",
            "keywords": "；".join(record.keywords),
            "legal_basis": "；".join(record.legal_basis),
            "court": record.body,
        },
    )
    units = [head]
    for paragraph in record.paragraphs:
        units.append(
            _texts_to_tokens(
                resolution_unit(paragraph_unit_id(record.id, paragraph.anchor)),
                segmenter,
                {"summary": paragraph.text},
            )
        )
    return units


def paragraph_unit_id(record_id: str, anchor: str) -> str:
    return f"{record_id}#{anchor}"


def unit_ids(record: CaseDigest | Resolution) -> set[str]:
    """The ids of a record's index units (without segmenting anything)."""
    if isinstance(record, Resolution):
        return {record.id, *(paragraph_unit_id(record.id, p.anchor) for p in record.paragraphs)}
    return {record.id}


def split_unit_id(unit_id: str) -> tuple[str, str | None]:
    """`ctoc-6-1#p16` → (`ctoc-6-1`, `p16`); a case id → (id, None)."""
    record_id, _, anchor = unit_id.partition("#")
    return record_id, anchor or None
