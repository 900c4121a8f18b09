"""Loading files of records (JSONL, CSV, XLSX) into an engine, reporting bad rows, keeping the rest.

Reading is a generator of (location, record-or-rejection); writing goes to the engine in
batches. A malformed line never stops a load: it is reported with its file and line number,
the field and the reason.
"""

from __future__ import annotations

import queue
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, TypeVar

from indexing.engines.base import Record
from indexing.errors import CasedigestError
from indexing.records.enrich import with_inferred_forms
from indexing.loading.field_map import FieldMap, FieldMapError
from indexing.loading.flat import is_flat_row, unflatten
from indexing.loading.readers import Rejection, Row, iter_rows
from indexing.records.model import CaseDigest, RecordError, parse_record
from indexing.loading.writes import Writer

T = TypeVar("T")


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
    ids: set[str] = field(default_factory=set)  # every id read successfully, with `keep_ids` (sync loads)
    # Ids of the cases read without charges: their charges are predicted after the load.
    uncharged: set[str] = field(default_factory=set)

    def summary(self) -> dict[str, int]:
        return {
            "read": self.read, "inserted": self.inserted, "updated": self.updated, "unchanged": self.unchanged,
            "rejected": self.rejected, "duplicate_ids": len(self.duplicates),
        }


class TooManyRejections(CasedigestError):
    code = "too_many_rejections"
    status = 400


def read_records(
    path: Path, field_map: FieldMap | None = None, encoding: str | None = None, sheet: str | None = None
) -> Iterator[tuple[int, Record | Rejection]]:
    """Yield (line, record or rejection) for each row of a JSONL, CSV/TSV or XLSX file.

    Without a field map, a row of casedigest's own flat columns (a CSV export) is read back
    with `flat.unflatten`; any other row must already be a record.
    """
    for row in iter_rows(Path(path), encoding=encoding, sheet=sheet):
        item = row if isinstance(row, Rejection) else record_from_row(row, field_map)
        yield row.line, item


def record_from_row(row: Row, field_map: FieldMap | None = None) -> Record | Rejection:
    """The record a row describes (mapped, validated, crime forms inferred), or its rejection."""
    try:
        return with_inferred_forms(parse_record(_mapped(row, field_map)))
    except RecordError as exc:
        return Rejection(row.source, row.line, exc.field, exc.reason, exc.record_id, row.data)
    except FieldMapError as exc:
        return Rejection(row.source, row.line, "(mapping)", str(exc), original=row.data)


# Bits of the filter `last_occurrences` marks each id in: a fixed 16 MB, whatever the file's size.
_SEEN_BITS = 1 << 27


def last_occurrences(
    paths: list[Path], field_map: FieldMap | None = None, encoding: str | None = None, sheet: str | None = None
) -> dict[str, tuple[int, int]]:
    """For every record id that may occur more than once in the files, where it last occurs:
    (file number, line). An id missing from the answer occurs once.

    Only the id is read (no validation, no inference): about a tenth of the cost of reading
    the records. A row with an id that is rejected later still counts as a place. Memory
    does not grow with the files: each id sets one bit of a fixed filter, and only an id
    whose bit was already set (a repeat, or now and then another id on the same bit) is kept.
    """
    seen = bytearray(_SEEN_BITS // 8)
    last: dict[str, tuple[int, int]] = {}
    for number, path in enumerate(paths):
        for row in iter_rows(path, encoding=encoding, sheet=sheet):
            if isinstance(row, Rejection):
                continue
            try:
                mapped = _mapped(row, field_map)
            except FieldMapError:
                continue
            record_id = mapped.get("id")
            if not isinstance(record_id, str):
                continue
            bit = hash(record_id) % _SEEN_BITS
            if seen[bit >> 3] & (1 << (bit & 7)):
                last[record_id] = (number, row.line)
            else:
                seen[bit >> 3] |= 1 << (bit & 7)
    return last


def _mapped(row: Row, field_map: FieldMap | None) -> dict[str, Any]:
    if field_map is not None:
        return field_map.apply(row.data)
    if not row.source.lower().endswith((".jsonl", ".ndjson")) and is_flat_row(row.data):
        return unflatten(row.data)
    return row.data


# Records read and validated ahead of the writes, in a thread: the engine's writes leave the
# interpreter lock free for much of their time (the native cutter, tantivy's indexing thread,
# SQLite), and reading the next batch meanwhile uses it. Two batches of the default size.
READ_AHEAD = 2000
_DONE = object()


def read_ahead(items: Iterator[T], size: int) -> Iterator[T]:
    """`items`, produced by a thread up to `size` ahead of the consumer.

    An exception in the producer is raised to the consumer where it would have occurred.
    A consumer that stops early (an exception, `TooManyRejections`) stops the producer.
    """
    ready: queue.Queue[Any] = queue.Queue(maxsize=size)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                ready.put(item, timeout=0.2)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put(item):
                    return
            put(_DONE)
        except BaseException as exc:  # handed to the consumer
            put(_Failed(exc))
        finally:
            close = getattr(items, "close", None)
            if callable(close):
                close()  # the file being read

    producer = threading.Thread(target=produce, name="casedigest-read", daemon=True)
    producer.start()
    try:
        while (item := ready.get()) is not _DONE:
            if isinstance(item, _Failed):
                raise item.error
            yield item
    finally:
        stop.set()
        producer.join()


@dataclass
class _Failed:
    error: BaseException


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
    sheet: str | None = None,
    keep_ids: bool = False,
) -> LoadReport:
    """Load every file through `writer`; returns what was read, written and rejected.

    With `keep_ids`, the report also holds every id read (for a load that deletes what the
    files no longer hold); otherwise memory does not grow with the number of records.

    Good records load whatever the bad ones do; each rejection is passed to `on_reject` as
    it happens (so a reject file is complete even if the load is killed). With `max_errors`,
    the load stops with `TooManyRejections` once more lines than that were rejected.
    """
    report = LoadReport()
    batch: list[Record] = []
    files = [Path(p) for p in paths]
    # An id repeated in the files is written once, as its last occurrence, so a reload of the
    # same files finds every record unchanged. Only ids that may repeat are remembered (an id
    # of a million-case file is not), except in a dry run, which does not read ahead for them.
    last = {} if dry_run else last_occurrences(files, field_map, encoding, sheet)
    held: dict[str, Record] = {}

    def flush() -> None:
        if batch and not dry_run:
            for outcome in writer.upsert(batch):
                setattr(report, outcome, getattr(report, outcome) + 1)
        batch.clear()
        if progress is not None:
            progress(report)

    for number, path in enumerate(files):
        first_line: dict[str, int] = {}
        for line, item in read_ahead(read_records(path, field_map, encoding, sheet), READ_AHEAD):
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
            if dry_run or item.id in last:
                if item.id in first_line:
                    report.duplicates.append(Duplicate(str(path), line, item.id, first_line[item.id]))
                first_line[item.id] = line
            if keep_ids:
                report.ids.add(item.id)
            if isinstance(item, CaseDigest) and not item.charges:
                report.uncharged.add(item.id)
            if last.get(item.id, (number, line)) != (number, line):
                # A later line of this id replaces it, unless that line is rejected: then the
                # last good one is written at the end.
                held[item.id] = item
                continue
            held.pop(item.id, None)
            batch.append(item)
            if len(batch) >= batch_size:
                flush()
    batch.extend(held.values())
    flush()
    finish = getattr(writer.engine, "finish_writes", None)
    if callable(finish) and not dry_run:
        finish()
    return report
