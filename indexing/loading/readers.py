"""Reading librarians' files — JSONL, CSV/TSV and XLSX — as rows of named values.

`iter_rows(path)` yields one `Row` per data row, or a `Rejection` for a row (or a whole file)
that cannot be read; it never raises for a bad file. What a row *means* is decided later, by a
field map and record validation (`indexing.loading.loader`).

Formats, chosen by the file's extension:

* `.jsonl`, `.ndjson`, `.json-lines` — one JSON object per line, UTF-8 (a BOM is allowed);
  blank lines are skipped; `line` is the physical line number.
* `.csv`, `.tsv` — a header row naming the columns, then one row per record. The encoding is
  decided on the whole file: UTF-8 with BOM, UTF-8, then GB18030 (a superset of GBK and
  GB2312), unless `encoding` is given. `line` is the row number a spreadsheet shows when it
  opens the file (the header is row 1), which is the text line unless a cell holds a line break.
* `.xlsx` — the first sheet (or `sheet`), first non-empty row as headers; `line` is the
  spreadsheet row number. Date cells become `YYYY-MM-DD`, whole numbers `int`, other numbers text.

In tables, cells are trimmed and empty cells are left out of `Row.data` (never `""`), and rows
with no values at all are skipped. Problems that concern the whole file (cannot be opened, not
decodable, binary, bad header) are one `Rejection` with `line` 0 and field `(file)` or
`(header)`; problems of one row have that row's `line` and field `(line)` or `(row)`.
"""

from __future__ import annotations

import codecs
import csv
import json
import re
from dataclasses import dataclass
from datetime import date, datetime, time
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import orjson

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json-lines")
CSV_SUFFIXES = {".csv": ",", ".tsv": "\t"}
XLSX_SUFFIXES = (".xlsx",)
SUPPORTED_SUFFIXES = (*JSONL_SUFFIXES, *CSV_SUFFIXES, *XLSX_SUFFIXES)

# Tried in this order when a CSV file's encoding is not given.
CSV_ENCODINGS = ("utf-8-sig", "utf-8", "gb18030")

_SNIFF_BYTES = 8192
_LONG_DIGIT_RUN = re.compile(r"[0-9]{19}")  # a number orjson may not read as json does
# Summaries of several MB in one cell are real; the csv module's default limit is 128 KiB.
_CSV_FIELD_LIMIT = 2**31 - 1


@dataclass
class Rejection:
    """A row (or, with `line` 0, a whole file) that could not be read or accepted."""

    source: str
    line: int
    field: str
    reason: str
    id: str | None = None
    original: Any = None

    def describe(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return f"{where}: {self.field}: {self.reason}"


@dataclass(frozen=True)
class Row:
    """One data row: where it came from and its values by column name (or JSON key)."""

    source: str
    line: int
    data: dict[str, Any]


def iter_rows(path: Path, encoding: str | None = None, sheet: str | None = None) -> Iterator[Row | Rejection]:
    """Yield each row of a JSONL, CSV/TSV or XLSX file, or a `Rejection` for what cannot be read.

    `encoding` forces the text encoding of a JSONL or CSV file (ignored for XLSX); `sheet`
    picks an XLSX sheet by name (ignored for text files). An empty file yields nothing.
    """
    path = Path(path)
    source = str(path)
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        yield _file_rejection(source, f"unsupported file type {suffix or '(none)'!r}; "
                                      f"expected one of {', '.join(SUPPORTED_SUFFIXES)}"
                                      + ("; save an .xls workbook as .xlsx" if suffix == ".xls" else ""))
        return
    if suffix in JSONL_SUFFIXES:
        yield from _jsonl_rows(path, source, encoding)
    elif suffix in CSV_SUFFIXES:
        yield from _csv_rows(path, source, CSV_SUFFIXES[suffix], encoding)
    else:
        yield from _xlsx_rows(path, source, sheet)


def _file_rejection(source: str, reason: str, field: str = "(file)") -> Rejection:
    return Rejection(source, 0, field, reason)


def _cannot_read(source: str, exc: OSError) -> Rejection:
    return _file_rejection(source, f"cannot read the file: {exc.strerror or exc}")


def _binary_reason(head: bytes) -> str | None:
    """Why these first bytes are not a text file we can read, or None if they look like text."""
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "is UTF-16 text; save it as UTF-8 (or GB18030)"
    nul = head.find(b"\0")
    if nul >= 0:
        return f"looks like a binary file (NUL byte at offset {nul}), not text"
    return None


# --- JSONL -----------------------------------------------------------------------------------

def _jsonl_rows(path: Path, source: str, encoding: str | None) -> Iterator[Row | Rejection]:
    try:
        handle = path.open("rb")
    except OSError as exc:
        yield _cannot_read(source, exc)
        return
    with handle:
        try:
            head = handle.peek(_SNIFF_BYTES)[:_SNIFF_BYTES]
        except OSError as exc:  # e.g. a directory on some systems
            yield _cannot_read(source, exc)
            return
        problem = _binary_reason(head)
        if problem:
            yield _file_rejection(source, problem)
            return
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                yield jsonl_line(source, number, raw, encoding)
            except LookupError:
                yield _file_rejection(source, f"unknown encoding {encoding!r}")
                return


def jsonl_line(source: str, number: int, raw: bytes, encoding: str | None = None) -> Row | Rejection:
    """One line of JSON lines (a file's or a request body's): a row, or why it is rejected.

    Raises LookupError for an unknown `encoding` (a problem of the whole file).
    """
    try:
        text = raw.decode(encoding or ("utf-8-sig" if number == 1 else "utf-8"))
    except UnicodeDecodeError as exc:
        return Rejection(source, number, "(line)", f"not {encoding or 'UTF-8'} text ({exc.reason} at byte {exc.start})",
                         original=raw[:200].decode("utf-8", "replace"))
    try:
        data = _parse_json(text)
    except json.JSONDecodeError as exc:
        return Rejection(source, number, "(line)", f"not valid JSON ({exc.msg}, column {exc.colno})",
                         original=text[:2000])
    if not isinstance(data, dict):
        return Rejection(source, number, "(line)", f"expected a JSON object, got {_json_type(data)}",
                         original=text[:2000])
    return Row(source, number, data)


def _parse_json(text: str) -> Any:
    """`json.loads`, by orjson (several times faster on a long line) when it can.

    What orjson refuses (a syntax error, a lone surrogate, NaN, 1e400) is parsed again by
    `json`, so the same lines are accepted and a bad one is reported in the same words either
    way. orjson reads an integer past 64 bits as a float, so a line with 19 digits in a row
    goes to `json` at once.
    """
    if _LONG_DIGIT_RUN.search(text):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "true/false", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


# --- CSV / TSV -------------------------------------------------------------------------------

def _choose_encoding(data: bytes, encoding: str | None) -> tuple[str | None, str]:
    """(encoding, "") for the first encoding that decodes all of `data`, else (None, reason)."""
    if encoding is not None:
        try:
            data.decode(encoding)
        except LookupError:
            return None, f"unknown encoding {encoding!r}"
        except UnicodeDecodeError as exc:
            return None, f"not {encoding} text ({exc.reason} at byte {exc.start})"
        return encoding, ""
    if data.startswith(codecs.BOM_UTF8):
        candidates: Sequence[str] = ("utf-8-sig",)
    else:
        candidates = ("utf-8", "gb18030")
    first_error = ""
    for name in candidates:
        try:
            data.decode(name)
        except UnicodeDecodeError as exc:
            first_error = first_error or f"{exc.reason} at byte {exc.start}"
            continue
        return name, ""
    tried = "UTF-8 with BOM" if data.startswith(codecs.BOM_UTF8) else "UTF-8 or GB18030"
    return None, f"cannot decode the file as {tried} (UTF-8: {first_error}); save it as UTF-8"


def _csv_rows(path: Path, source: str, delimiter: str, encoding: str | None) -> Iterator[Row | Rejection]:
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield _cannot_read(source, exc)
        return
    if not data.strip():
        return
    problem = _binary_reason(data)
    if problem:
        yield _file_rejection(source, problem)
        return
    chosen, reason = _choose_encoding(data, encoding)
    del data  # the rows are read again as a text stream; don't hold the bytes meanwhile
    if chosen is None:
        yield _file_rejection(source, reason)
        return
    if csv.field_size_limit() < _CSV_FIELD_LIMIT:
        csv.field_size_limit(_CSV_FIELD_LIMIT)
    try:
        handle = path.open("r", encoding=chosen, newline="")
    except OSError as exc:
        yield _cannot_read(source, exc)
        return
    with handle:
        reader = csv.reader(handle, delimiter=delimiter)
        try:
            yield from _table_rows(source, enumerate(reader, start=1), _column_number, exact_width=True)
        except (csv.Error, UnicodeDecodeError, OSError) as exc:
            # The file changed under us, or the csv module gave up; rows before this are kept.
            yield _file_rejection(source, f"stopped reading after row {reader.line_num}: {exc}")


def _column_number(index: int) -> str:
    return str(index + 1)


# --- XLSX ------------------------------------------------------------------------------------

def _xlsx_rows(path: Path, source: str, sheet: str | None) -> Iterator[Row | Rejection]:
    import openpyxl  # only needed for workbooks
    from openpyxl.utils import get_column_letter

    try:
        with path.open("rb") as handle:
            head = handle.read(4)
    except OSError as exc:
        yield _cannot_read(source, exc)
        return
    if not head:
        return
    if head != b"PK\x03\x04":
        yield _file_rejection(source, "is not an .xlsx workbook (not a zip archive); "
                                      "a binary file or a file renamed to .xlsx?")
        return
    try:
        workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    # openpyxl parses untrusted zip/XML and its set of exceptions is open-ended (zip, XML,
    # KeyError for missing parts...); any of them means the same to a librarian.
    except Exception as exc:  # noqa: BLE001
        yield _file_rejection(source, f"cannot open the workbook: {type(exc).__name__}: {exc}")
        return
    try:
        if sheet is not None and sheet not in workbook.sheetnames:
            yield _file_rejection(source, f"no sheet named {sheet!r}; the sheets are "
                                          + ", ".join(repr(n) for n in workbook.sheetnames))
            return
        worksheet = workbook[sheet] if sheet is not None else workbook.worksheets[0]
        # The stored dimensions are often wrong in files written by other tools; read all rows.
        worksheet.reset_dimensions()
        values = ([_cell_value(v) for v in row] for row in worksheet.iter_rows(values_only=True))
        try:
            yield from _table_rows(source, enumerate(values, start=1),
                                   lambda i: get_column_letter(i + 1), exact_width=False)
        except Exception as exc:  # noqa: BLE001 — same reason as above, while reading rows
            yield _file_rejection(source, f"stopped reading the sheet: {type(exc).__name__}: {exc}")
    finally:
        workbook.close()


def _cell_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, bool) or value is None:
        return None if value is None else str(value).upper()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else repr(value)
    return str(value)


# --- tables (CSV and XLSX) -------------------------------------------------------------------

def _table_rows(
    source: str,
    numbered: Iterable[tuple[int, list[Any]]],
    column_name: Callable[[int], str],
    exact_width: bool,
) -> Iterator[Row | Rejection]:
    """Rows as dicts under the first non-empty row's names.

    With `exact_width` (CSV) every row must have as many cells as the header; otherwise
    (XLSX, where trailing empty cells are simply not stored) only values beyond the header
    are an error.
    """
    header: list[str] | None = None
    width = 0
    for number, raw in numbered:
        cells = [_cell_text(c) for c in raw]
        if header is None:
            if not any(c not in (None, "") for c in cells):
                continue
            width = len(cells)
            header_or_reason = _header(cells, column_name)
            if isinstance(header_or_reason, str):
                yield _file_rejection(source, f"header row {number}: {header_or_reason}", "(header)")
                return
            header = header_or_reason
            continue
        if not any(c not in (None, "") for c in cells):
            continue
        if exact_width and len(cells) != width:
            yield Rejection(source, number, "(row)",
                            f"row has {len(cells)} cells but the header has {width}", original=raw)
            continue
        extra = [i for i in range(len(header), len(cells)) if cells[i] not in (None, "")]
        if extra:
            yield Rejection(source, number, "(row)",
                            f"row has a value in column {column_name(extra[0])}, beyond the header's "
                            f"{len(header)} columns", original=raw)
            continue
        data = {name: value for name, value in zip(header, cells) if value not in (None, "")}
        yield Row(source, number, data)


def _cell_text(value: Any) -> Any:
    return value.strip() if isinstance(value, str) else value


def _header(cells: list[Any], column_name: Callable[[int], str]) -> list[str] | str:
    """The column names, or why this header row cannot be used.

    Empty cells after the last name are allowed (spreadsheets export them); an empty cell
    between names is not, because the values under it would have no name.
    """
    names = ["" if c is None else str(c) for c in cells]
    while names and not names[-1]:
        names.pop()
    empty = [column_name(i) for i, name in enumerate(names) if not name]
    if empty:
        return f"column {', '.join(empty)} has no name; every column needs one"
    repeated = sorted({n for n in names if names.count(n) > 1}, key=names.index)
    if repeated:
        return "column names appear more than once: " + ", ".join(repeated)
    return names
