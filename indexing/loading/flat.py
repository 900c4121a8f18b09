"""Records as flat rows (CSV/XLSX) and back, so an export can be loaded again unchanged.

A flat row has one column per record field. Lists are joined with `；` (charge names contain
`、`, so that cannot be the separator), `source` becomes `source.name` and `source.url`, and a
resolution's paragraphs are one JSON column. Curated crime forms go in `crime_forms`; inferred
ones are shown in `crime_forms_inferred` for people and dropped on reload, where the same
inference gives them back.
"""

from __future__ import annotations

import json
from typing import Any

from indexing.records.model import CaseDigest, Resolution

LIST_SEPARATOR = "；"
LIST_FIELDS = ("crime_forms", "charges", "legal_basis", "keywords", "defendants")
COLUMNS = (
    "id", "doc_type", "title", "summary", "full_text", "country", "court", "decision_date", "case_number",
    "crime_forms", "crime_forms_inferred", "charges", "legal_basis", "keywords", "defendants", "outcome",
    "source.name", "source.url", "language", "body", "number", "adoption_date", "paragraphs",
)
_DISPLAY_ONLY = ("crime_forms_inferred",)


def flatten(record: CaseDigest | Resolution) -> dict[str, str]:
    """One row of `COLUMNS` (empty string for a missing value)."""
    data = record.model_dump(mode="json")
    row = {column: "" for column in COLUMNS}
    for key, value in data.items():
        if key == "crime_forms":
            row["crime_forms"] = LIST_SEPARATOR.join(t["code"] for t in value if t["source"] == "curated")
            row["crime_forms_inferred"] = LIST_SEPARATOR.join(t["code"] for t in value if t["source"] == "inferred")
        elif key == "predicted_charges":
            continue  # not the record's own data: a reload predicts them again
        elif key == "source":
            row["source.name"] = value["name"] if value else ""
            row["source.url"] = (value or {}).get("url") or ""
        elif key == "paragraphs":
            row["paragraphs"] = json.dumps(value, ensure_ascii=False)
        elif key in LIST_FIELDS:
            row[key] = LIST_SEPARATOR.join(value)
        elif value is not None:
            row[key] = str(value)
    return row


def is_flat_row(row: dict[str, Any]) -> bool:
    """Whether a row uses casedigest's own flat columns (an export), not a foreign layout."""
    return "id" in row and "title" in row and ("summary" in row or "paragraphs" in row)


def unflatten(row: dict[str, Any]) -> dict[str, Any]:
    """The record fields of a flat row (validation happens afterwards)."""
    data: dict[str, Any] = {}
    source: dict[str, Any] = {}
    for key, value in row.items():
        if value is None or value == "" or key in _DISPLAY_ONLY:
            continue
        if key.startswith("source."):
            source[key.removeprefix("source.")] = value
        elif key == "paragraphs" and isinstance(value, str):
            try:
                data["paragraphs"] = json.loads(value)
            except json.JSONDecodeError:
                data["paragraphs"] = value  # validation names the field
        elif key in LIST_FIELDS and isinstance(value, str):
            data[key] = [part.strip() for part in value.split(LIST_SEPARATOR) if part.strip()]
        else:
            data[key] = value
    if source:
        data["source"] = source
    return data
