"""Fill in what a record may arrive without: crime forms inferred from charges or text."""

from __future__ import annotations

from indexing.records.crime_form_inference import infer_crime_forms
from indexing.records.model import CaseDigest, CrimeFormTag, Resolution


def with_inferred_forms(record: CaseDigest | Resolution) -> CaseDigest | Resolution:
    """The record itself if it carries crime forms; otherwise a copy with inferred ones.

    Inferred forms are marked `inferred`, so users and librarians can tell them from curated
    ones; a curated list, even a partial one, is never second-guessed.
    """
    if record.crime_forms:
        return record
    if isinstance(record, CaseDigest):
        charges = record.charges
        text = "\n".join([record.title, record.summary, record.full_text or ""])
    else:
        charges = []
        text = "\n".join([record.title, record.summary or "", *(p.text for p in record.paragraphs)])
    codes = infer_crime_forms(charges, text)
    if not codes:
        return record
    tags = [CrimeFormTag(code=code, source="inferred") for code in codes]
    return record.model_copy(update={"crime_forms": tags})
