"""The demo records shipped in fixtures/, loaded on a fresh install."""

from __future__ import annotations

from pathlib import Path

from indexing.engines.base import Engine
from indexing.loading.loader import load_files
from indexing.loading.writes import Writer


def load_fixtures_if_empty(engine: Engine, folder: Path) -> int:
    """Load fixtures/*.jsonl when the engine holds no record; returns how many were loaded."""
    if sum(engine.count_records().values()) > 0:
        return 0
    files = sorted(folder.glob("*.jsonl"))
    if not files:
        return 0
    report = load_files(files, Writer(engine, "fixtures"))
    return report.inserted + report.updated
