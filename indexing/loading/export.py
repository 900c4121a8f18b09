"""Export formats of a whole result set: JSON lines (one record each) and CSV (flat rows).

Both stream: each function turns an iterator of records into an iterator of text chunks, so
an export of any size never sits in memory. Both load back unchanged (`casedigest load`).
"""

from __future__ import annotations

import csv
import io
from typing import Iterable, Iterator, Literal

from indexing.engines.base import Record
from indexing.loading.flat import COLUMNS, flatten
from indexing.records.model import record_to_json

ExportFormat = Literal["csv", "jsonl"]
MEDIA_TYPES = {"csv": "text/csv; charset=utf-8", "jsonl": "application/x-ndjson; charset=utf-8"}


def jsonl_chunks(records: Iterable[Record]) -> Iterator[str]:
    for record in records:
        yield record_to_json(record) + "\n"


def csv_chunks(records: Iterable[Record]) -> Iterator[str]:
    """CSV with a header row; UTF-8 with a BOM so spreadsheet programs read the Chinese."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=COLUMNS, lineterminator="\r\n")
    buffer.write("\ufeff")
    writer.writeheader()
    for record in records:
        writer.writerow(flatten(record))
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()


def export_chunks(records: Iterable[Record], fmt: ExportFormat) -> Iterator[str]:
    return csv_chunks(records) if fmt == "csv" else jsonl_chunks(records)
