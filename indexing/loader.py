"""Loading JSONL files of records into an engine, reporting bad lines and keeping the rest.

Reading is a generator of (location, record-or-rejection); writing goes to the engine in
batches. A malformed line never stops a load: it is reported with its file and line number,
the field and the reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from indexing.engines.base import Record
from indexing.errors import CasedigestError
from indexing.enrich import with_inferred_forms
from indexing.field_map import FieldMap, FieldMapError
from indexing.records import RecordError, parse_record
from indexing.writes import Writer


@dataclass
class Rejection:
    source: str
    line: int
    field: str
    reason: str
    id: str | None = None
    original: Any = None

    def describe(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.field}: {self.reason}"


@dataclass
class Duplicate:
    source: str
    line: int
    id: str
    first_line: int

    def describe(self) -> str:
        return f"{self.source}:{self.line}: id {self.id!r} already appeared on line {self.first_line}; the last one is kept"


@dataclass
class LoadReport:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    ids: set[str] = field(default_factory=set)  # every id read successfully (for sync loads)

    def summary(self) -> dict[str, int]:
        return {
            "read": self.read, "inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
            "rejected": self.rejected, "duplicate_ids": len(self.duplicates),
        }


class TooManyRejections(CasedigestError):
    code = "too_many_rejections"
    status = 400


def read_records(path: Path, field_map: FieldMap | None = None) -> Iterator[tuple[int, Record | Rejection]]:
    """Yield (line number, record or rejection) for each non-blank line of a JSONL file."""
    source = str(path)
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield 0, Rejection(source, 0, "(file)", f"cannot read the file: {exc.strerror or exc}")
        return
    with handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield number, Rejection(source, number, "(line)", f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                                        original=raw[:200].decode("utf-8", "replace"))
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                yield number, Rejection(source, number, "(line)", f"not valid JSON ({exc.msg}, column {exc.colno})",
                                        original=text[:2000])
                continue
            try:
                mapped = field_map.apply(data) if field_map is not None and isinstance(data, dict) else data
                record = with_inferred_forms(parse_record(mapped))
            except RecordError as exc:
                yield number, Rejection(source, number, exc.field, exc.reason, exc.record_id, data)
                continue
            except FieldMapError as exc:
                yield number, Rejection(source, number, "(mapping)", str(exc), original=data)
                continue
            yield number, record


def load_files(
    paths: Iterable[Path],
    writer: Writer,
    field_map: FieldMap | None = None,
    batch_size: int = 1000,
    dry_run: bool = False,
    progress: Callable[[LoadReport], None] | None = None,
    on_reject: Callable[[Rejection], None] | None = None,
    max_errors: int | None = None,
    encoding: str | None = None,
) -> LoadReport:
    """Load every file through `writer`; returns what was read, written and rejected.

    Good records load whatever the bad ones do; each rejection is passed to `on_reject` as
    it happens (so a reject file is complete even if the load is killed). With `max_errors`,
    the load stops with `TooManyRejections` once more lines than that were rejected.
    """
    report = LoadReport()
    batch: list[Record] = []

    def flush() -> None:
        if batch and not dry_run:
            for outcome in writer.upsert(batch):
                setattr(report, outcome, getattr(report, outcome) + 1)
        batch.clear()
        if progress is not None:
            progress(report)

    for path in paths:
        first_line: dict[str, int] = {}
        for line, item in read_records(Path(path), field_map):
            if isinstance(item, Rejection):
                if item.line:
                    report.read += 1
                report.rejected += 1
                report.rejections.append(item)
                if on_reject is not None:
                    on_reject(item)
                if max_errors is not None and report.rejected > max_errors:
                    flush()
                    raise TooManyRejections(
                        f"stopped after {report.rejected} rejected lines (--max-errors {max_errors})",
                        {"summary": report.summary()},
                    )
                continue
            report.read += 1
            if item.id in first_line:
                report.duplicates.append(Duplicate(str(path), line, item.id, first_line[item.id]))
            first_line[item.id] = line
            report.ids.add(item.id)
            batch.append(item)
            if len(batch) >= batch_size:
                flush()
    flush()
    finish = getattr(writer.engine, "finish_writes", None)
    if callable(finish) and not dry_run:
        finish()
    return report
