"""Loading JSONL files of records into an engine, reporting bad lines and keeping the rest.

Reading is a generator of (location, record-or-rejection); writing goes to the engine in
batches. A malformed line never stops a load: it is reported with its file and line number,
the field and the reason.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from indexing.engines.base import Engine, Record
from indexing.enrich import with_inferred_forms
from indexing.field_map import FieldMap, FieldMapError
from indexing.records import RecordError, parse_record


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
class LoadReport:
    read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejections: list[Rejection] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if k != "rejections"}


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
    engine: Engine,
    field_map: FieldMap | None = None,
    batch_size: int = 1000,
    dry_run: bool = False,
    progress: Callable[[LoadReport], None] | None = None,
) -> LoadReport:
    """Load every file into the engine; returns what was read, written and rejected."""
    report = LoadReport()
    batch: list[Record] = []

    def flush() -> None:
        if batch and not dry_run:
            for outcome in engine.upsert(batch):
                setattr(report, outcome, getattr(report, outcome) + 1)
        batch.clear()
        if progress is not None:
            progress(report)

    for path in paths:
        for _, item in read_records(Path(path), field_map):
            if isinstance(item, Rejection):
                if item.line:
                    report.read += 1
                report.rejected += 1
                report.rejections.append(item)
                continue
            report.read += 1
            batch.append(item)
            if len(batch) >= batch_size:
                flush()
    flush()
    finish = getattr(engine, "finish_writes", None)
    if callable(finish) and not dry_run:
        finish()
    return report
