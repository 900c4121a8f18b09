"""The index definition: versioned mappings in mappings/, and index units as documents."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


from indexing.engines.units import IndexUnit
from indexing.errors import EngineUnavailable


MAPPINGS_DIR = Path(__file__).resolve().parents[3] / "mappings"


def latest_mapping() -> tuple[int, dict[str, Any]]:
    """The highest-numbered index definition in mappings/ and its version."""
    files = sorted(MAPPINGS_DIR.glob("cases-v*.json"), key=lambda p: int(p.stem.split("-v")[1]))
    if not files:
        raise EngineUnavailable(f"no index definition (cases-v*.json) in {MAPPINGS_DIR}")
    definition = json.loads(files[-1].read_text("utf-8"))
    return int(definition["version"]), definition


def unit_source(unit: IndexUnit) -> dict[str, Any]:
    source: dict[str, Any] = {
        "unit_id": unit.unit_id,
        "record_id": unit.record_id,
        "doc_type": unit.doc_type,
        "crime_forms": unit.crime_forms,
        "country": unit.country,
        "court": unit.court,
        "charges": unit.charges,
        "year": unit.year,
        "sort_date": unit.sort_date,
    }
    for name, tokens in unit.words.items():
        source[f"{name}_w"] = tokens
    for name, tokens in unit.chars.items():
        source[f"{name}_c"] = tokens
    return source
