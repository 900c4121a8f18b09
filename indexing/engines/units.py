"""Records turned into index units: the flat, pre-segmented documents both engines index.

Segmentation happens here, in Python, once, so the embedded engine and Elasticsearch index
exactly the same tokens (Elasticsearch only splits them on spaces). Every record is exactly
one unit, so whatever an engine counts (totals, facets, pages) is a count of records. A
record with citable parts (a resolution's paragraphs) holds their text in `full_text`; the
search core finds the parts that match when it dresses a hit (`indexing/passages.py`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from indexing.records.crime_forms import TAXONOMY
from indexing.text.folding import fold
from indexing.records.model import CaseDigest, Resolution, date_sort_key, date_year
from indexing.text.segmenter import Segmenter

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
    """The index units of one record: always exactly one, whose id is the record's."""
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
    unit = IndexUnit(
        unit_id=record.id,
        record_id=record.id,
        doc_type="resolution",
        crime_forms=forms,
        country=None,
        court=record.body,
        charges=[],
        year=date_year(record.adoption_date),
        sort_date=date_sort_key(record.adoption_date),
    )
    texts = {
        "title": f"{record.title} 第{record.number}号决议",
        "summary": record.summary or "",
        # The paragraphs are the resolution's body, as a case's full text is its body.
        "full_text": "\n".join(p.text for p in record.paragraphs),
        "keywords": "；".join(record.keywords),
        "legal_basis": "；".join(record.legal_basis),
        "court": record.body,
    }
    return [_texts_to_tokens(unit, segmenter, texts)]


def unit_ids(record: CaseDigest | Resolution) -> set[str]:
    """The ids of a record's index units (without segmenting anything)."""
    return {record.id}
