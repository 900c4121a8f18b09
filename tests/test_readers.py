"""`indexing.loading.readers.iter_rows` on real files: JSONL, CSV/TSV in several encodings, XLSX, and bad input."""

from __future__ import annotations

import json
import os
import zlib
from datetime import date, datetime
from pathlib import Path
from typing import Any

import openpyxl
import pytest

from indexing.loading.readers import Rejection, Row, iter_rows

DATA = Path(__file__).resolve().parent / "data"

# The first bytes of a real PNG: signature, then an IHDR chunk (which has NUL bytes).
PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89"


def rows(path: Path, **kwargs: Any) -> list[Row | Rejection]:
    return list(iter_rows(path, **kwargs))


def only_rows(items: list[Row | Rejection]) -> list[tuple[int, dict[str, Any]]]:
    assert all(isinstance(i, Row) for i in items), [i for i in items if isinstance(i, Rejection)]
    return [(i.line, i.data) for i in items if isinstance(i, Row)]


def write_csv(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "t.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- JSONL -----------------------------------------------------------------------------------

def test_jsonl_objects_with_line_numbers_blank_lines_skipped(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"id": "a", "title": " x "}\n\n{"id": "b", "n": 1}\r\n   \n{"id": "c"}')
    assert only_rows(rows(path)) == [(1, {"id": "a", "title": " x "}), (3, {"id": "b", "n": 1}), (5, {"id": "c"})]
    assert rows(path)[0] == Row(str(path), 1, {"id": "a", "title": " x "})


@pytest.mark.parametrize("suffix", [".ndjson", ".json-lines", ".JSONL"])
def test_jsonl_other_suffixes(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"r{suffix}"
    path.write_text('{"id": "a"}\n', "utf-8")
    assert only_rows(rows(path)) == [(1, {"id": "a"})]


@pytest.mark.parametrize(
    "line, reason",
    [
        (b'{"id": "\xb6\xbe"}', "not UTF-8 text (invalid start byte at byte 8)"),
        (b"{not json", "not valid JSON (Expecting property name enclosed in double quotes, column 2)"),
        (b'["a", "b"]', "expected a JSON object, got an array"),
        (b'"just text"', "expected a JSON object, got a string"),
        (b"42", "expected a JSON object, got a number"),
        (b"null", "expected a JSON object, got null"),
    ],
)
def test_jsonl_bad_line_is_rejected_and_the_rest_still_read(tmp_path: Path, line: bytes, reason: str) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes(b'{"id": "a"}\n' + line + b'\n{"id": "c"}\n')
    first, bad, last = rows(path)
    assert isinstance(first, Row) and isinstance(last, Row) and last.line == 3
    assert isinstance(bad, Rejection)
    assert (bad.source, bad.line, bad.field, bad.reason) == (str(path), 2, "(line)", reason)
    assert bad.original is not None


def test_jsonl_with_given_encoding(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_bytes('{"title": "贩卖毒品案"}\n'.encode("gb18030"))
    assert isinstance(rows(path)[0], Rejection)
    assert only_rows(rows(path, encoding="gb18030")) == [(1, {"title": "贩卖毒品案"})]


def test_the_same_id_twice_comes_through_twice(tmp_path: Path) -> None:
    jsonl = tmp_path / "r.jsonl"
    jsonl.write_text('{"id": "a", "v": 1}\n{"id": "a", "v": 2}\n', "utf-8")
    assert only_rows(rows(jsonl)) == [(1, {"id": "a", "v": 1}), (2, {"id": "a", "v": 2})]
    csv_path = write_csv(tmp_path, "案例编号,版本\nlib-1,1\nlib-1,2\n")
    assert only_rows(rows(csv_path)) == [(2, {"案例编号": "lib-1", "版本": "1"}), (3, {"案例编号": "lib-1", "版本": "2"})]


# --- CSV: encodings --------------------------------------------------------------------------

TABLE = "案例编号,案件名称,罪名\nlib-1,林某贩卖毒品案,贩卖、运输毒品；洗钱\nlib-2,王某洗钱案,洗钱罪\n"
TABLE_ROWS = [
    (2, {"案例编号": "lib-1", "案件名称": "林某贩卖毒品案", "罪名": "贩卖、运输毒品；洗钱"}),
    (3, {"案例编号": "lib-2", "案件名称": "王某洗钱案", "罪名": "洗钱罪"}),
]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk", "gb2312"])
def test_csv_encoding_is_detected(tmp_path: Path, encoding: str) -> None:
    assert only_rows(rows(write_csv(tmp_path, TABLE, encoding))) == TABLE_ROWS


def test_csv_bom_is_not_part_of_the_first_header(tmp_path: Path) -> None:
    [row] = only_rows(rows(write_csv(tmp_path, "id,title\na,b\n", "utf-8-sig")))
    assert row[1] == {"id": "a", "title": "b"}


def test_csv_gb18030_only_characters(tmp_path: Path) -> None:
    # 𠀀 and € are outside GB2312/GBK; GB18030 encodes all of Unicode
    text = "id,title\na,𠀀某€案\n"
    assert only_rows(rows(write_csv(tmp_path, text, "gb18030"))) == [(2, {"id": "a", "title": "𠀀某€案"})]


def test_csv_given_encoding_is_used(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "id,title\na,案件\n", "big5")
    assert only_rows(rows(path, encoding="big5")) == [(2, {"id": "a", "title": "案件"})]


def test_csv_given_encoding_that_does_not_decode(tmp_path: Path) -> None:
    path = write_csv(tmp_path, TABLE, "gb18030")
    [rejection] = rows(path, encoding="utf-8")
    assert isinstance(rejection, Rejection) and rejection.line == 0 and rejection.field == "(file)"
    assert rejection.reason.startswith("not utf-8 text (invalid start byte at byte ")


def test_csv_unknown_encoding_name(tmp_path: Path) -> None:
    [rejection] = rows(write_csv(tmp_path, TABLE), encoding="klingon")
    assert isinstance(rejection, Rejection) and rejection.reason == "unknown encoding 'klingon'"


def test_csv_in_no_known_encoding_is_one_file_rejection(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    # valid UTF-8 up to byte 9, then 0xFF, which neither UTF-8 nor GB18030 allows
    path.write_bytes("id,title\n".encode() + b"\xff\xfe\x80,x\n")
    [rejection] = rows(path)
    assert isinstance(rejection, Rejection)
    assert (rejection.line, rejection.field) == (0, "(file)")
    assert rejection.reason == ("cannot decode the file as UTF-8 or GB18030 "
                                "(UTF-8: invalid start byte at byte 9); save it as UTF-8")


def test_csv_bom_then_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b"\xef\xbb\xbfid\n\xb0\xb8\n")
    [rejection] = rows(path)
    assert isinstance(rejection, Rejection)
    assert rejection.reason.startswith("cannot decode the file as UTF-8 with BOM (UTF-8: invalid start byte at byte 3)")


def test_utf16_is_named(tmp_path: Path) -> None:
    [rejection] = rows(write_csv(tmp_path, "\ufeffid,title\na,b\n", "utf-16-le"))
    assert isinstance(rejection, Rejection) and "UTF-16" in rejection.reason


# --- CSV: shape of the table -----------------------------------------------------------------

def test_csv_cells_are_trimmed_and_empty_cells_left_out(tmp_path: Path) -> None:
    path = write_csv(tmp_path, " id , title ,court\n a ,  ,\n\n,,\nb,\"  两 边 \",  \n")
    assert only_rows(rows(path)) == [(2, {"id": "a"}), (5, {"id": "b", "title": "两 边"})]


@pytest.mark.parametrize(
    "line, reason",
    [
        ("a,b,c,d", "row has 4 cells but the header has 3"),
        ("a,b", "row has 2 cells but the header has 3"),
        ("a", "row has 1 cells but the header has 3"),
    ],
)
def test_csv_wrong_column_count(tmp_path: Path, line: str, reason: str) -> None:
    path = write_csv(tmp_path, f"id,title,court\nx,y,z\n{line}\nu,v,w\n")
    first, bad, last = rows(path)
    assert isinstance(bad, Rejection)
    assert (bad.line, bad.field, bad.reason) == (3, "(row)", reason)
    assert bad.original == line.split(",")
    assert isinstance(first, Row) and isinstance(last, Row) and last.line == 4


def test_csv_line_is_the_spreadsheet_row_even_with_line_breaks_in_cells(tmp_path: Path) -> None:
    path = write_csv(tmp_path, 'id,summary\na,"第一段\n第二段\n第三段"\nb,x\n')
    assert only_rows(rows(path)) == [(2, {"id": "a", "summary": "第一段\n第二段\n第三段"}), (3, {"id": "b", "summary": "x"})]


@pytest.mark.parametrize(
    "header, reason",
    [
        ("id,,title", "header row 1: column 2 has no name; every column needs one"),
        ("id,title,id", "header row 1: column names appear more than once: id"),
        ("id, title ,title", "header row 1: column names appear more than once: title"),
    ],
)
def test_csv_bad_header_is_one_file_rejection(tmp_path: Path, header: str, reason: str) -> None:
    [rejection] = rows(write_csv(tmp_path, f"{header}\na,b,c\n"))
    assert isinstance(rejection, Rejection)
    assert (rejection.line, rejection.field, rejection.reason) == (0, "(header)", reason)


def test_csv_trailing_unnamed_columns_are_allowed_while_empty(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "id,title,,\na,b,,\nc,d,e,\n")
    ok, bad = rows(path)
    assert isinstance(ok, Row) and ok.data == {"id": "a", "title": "b"}
    assert isinstance(bad, Rejection) and bad.reason == "row has a value in column 3, beyond the header's 2 columns"


def test_csv_header_after_blank_lines(tmp_path: Path) -> None:
    assert only_rows(rows(write_csv(tmp_path, "\n,,\nid,title\na,b\n"))) == [(4, {"id": "a", "title": "b"})]


def test_tsv(tmp_path: Path) -> None:
    path = write_csv(tmp_path, "id\ttitle\na\t贩卖、运输毒品, 洗钱\n", name="t.tsv")
    assert only_rows(rows(path)) == [(2, {"id": "a", "title": "贩卖、运输毒品, 洗钱"})]


def test_a_10_mb_summary_cell(tmp_path: Path) -> None:
    summary = "被告人某某贩卖毒品。" * 1_048_576  # 10 Mi characters, 30 MiB in UTF-8
    path = write_csv(tmp_path, f'id,summary\na,"{summary}"\nb,short\n')
    [first, second] = only_rows(rows(path))
    assert first == (2, {"id": "a", "summary": summary})
    assert second == (3, {"id": "b", "summary": "short"})


# --- empty, missing, binary and unsupported files --------------------------------------------

@pytest.mark.parametrize("name, content", [
    ("e.jsonl", b""), ("e.jsonl", b"\n \n"), ("e.csv", b""), ("e.csv", b"\r\n\r\n"), ("e.tsv", b""), ("e.xlsx", b""),
])
def test_empty_file_yields_nothing(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    assert rows(path) == []


def test_header_only_csv_yields_nothing(tmp_path: Path) -> None:
    assert rows(write_csv(tmp_path, "id,title\n")) == []


@pytest.mark.parametrize("name", ["missing.jsonl", "missing.csv", "missing.xlsx"])
def test_missing_file(tmp_path: Path, name: str) -> None:
    [rejection] = rows(tmp_path / name)
    assert isinstance(rejection, Rejection)
    assert (rejection.source, rejection.line, rejection.field) == (str(tmp_path / name), 0, "(file)")
    assert rejection.reason == "cannot read the file: No such file or directory"
    assert rejection.describe() == f"{tmp_path / name}: (file): cannot read the file: No such file or directory"


@pytest.mark.parametrize("name", ["pic.csv", "pic.tsv", "pic.jsonl"])
@pytest.mark.parametrize("content", [PNG, os.urandom(4096) + b"\0" + os.urandom(100)])
def test_binary_garbage_is_one_file_rejection(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    [rejection] = rows(path)
    assert isinstance(rejection, Rejection) and (rejection.line, rejection.field) == (0, "(file)")
    assert rejection.reason.startswith("looks like a binary file (NUL byte at offset ")


def test_random_bytes_without_nul_do_not_decode(tmp_path: Path) -> None:
    garbage = zlib.compress("案例".encode() * 5000, 9).replace(b"\0", b"\x01")
    path = tmp_path / "g.csv"
    path.write_bytes(garbage)
    [rejection] = rows(path)
    assert isinstance(rejection, Rejection) and rejection.reason.startswith("cannot decode the file as UTF-8 or GB18030")


@pytest.mark.parametrize("content", [PNG, b"id,title\na,b\n"])
def test_not_a_workbook(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "cases.xlsx"
    path.write_bytes(content)
    [rejection] = rows(path)
    assert isinstance(rejection, Rejection) and rejection.field == "(file)"
    assert rejection.reason.startswith("is not an .xlsx workbook")


def test_broken_workbook(tmp_path: Path) -> None:
    path = tmp_path / "cases.xlsx"
    path.write_bytes((DATA / "librarian_sample.xlsx").read_bytes()[:3000])  # a cut-off zip
    [rejection] = rows(path)
    assert isinstance(rejection, Rejection) and rejection.reason.startswith("cannot open the workbook: ")


@pytest.mark.parametrize("name, hint", [("cases.xls", "save an .xls workbook as .xlsx"), ("cases.json", ".jsonl"),
                                        ("cases", "(none)")])
def test_unsupported_file_type(tmp_path: Path, name: str, hint: str) -> None:
    path = tmp_path / name
    path.write_text("x", "utf-8")
    [rejection] = rows(path)
    assert isinstance(rejection, Rejection) and rejection.reason.startswith("unsupported file type")
    assert hint in rejection.reason


# --- XLSX ------------------------------------------------------------------------------------

def make_workbook(path: Path, sheets: dict[str, list[list[Any]]]) -> Path:
    workbook = openpyxl.Workbook()
    workbook.remove(workbook.active)
    for title, table in sheets.items():
        sheet = workbook.create_sheet(title)
        for r, values in enumerate(table, start=1):
            for c, value in enumerate(values, start=1):
                if value is not None:
                    sheet.cell(r, c, value)
    workbook.save(path)
    return path


def test_xlsx_cells(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "t.xlsx", {"案例": [
        ["案例编号", " 裁判日期 ", "时间", "数额", "比例", "文本", "空", "真假"],
        [1001, date(2015, 4, 14), datetime(2016, 3, 1, 9, 30), 20.0, 0.25, "  2015年4月  ", "   ", True],
    ]})
    assert only_rows(rows(path)) == [(2, {
        "案例编号": 1001, "裁判日期": "2015-04-14", "时间": "2016-03-01", "数额": 20, "比例": "0.25",
        "文本": "2015年4月", "真假": "TRUE"})]


def test_xlsx_line_is_the_spreadsheet_row(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "t.xlsx", {"s": [
        [], ["id", "title"], ["a", "x"], [], [None, None], ["b"], ["a", "dup"],
    ]})
    assert only_rows(rows(path)) == [(3, {"id": "a", "title": "x"}), (6, {"id": "b"}), (7, {"id": "a", "title": "dup"})]


def test_xlsx_value_beyond_the_header(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "t.xlsx", {"s": [["id", "title"], ["a", "x", None, "stray"], ["b", "y"]]})
    bad, ok = rows(path)
    assert isinstance(bad, Rejection)
    assert (bad.line, bad.field, bad.reason) == (2, "(row)", "row has a value in column D, beyond the header's 2 columns")
    assert isinstance(ok, Row) and ok.line == 3


@pytest.mark.parametrize(
    "header, reason",
    [(["id", None, "title"], "header row 1: column B has no name; every column needs one"),
     (["id", "title", "id"], "header row 1: column names appear more than once: id")],
)
def test_xlsx_bad_header(tmp_path: Path, header: list[Any], reason: str) -> None:
    [rejection] = rows(make_workbook(tmp_path / "t.xlsx", {"s": [header, ["a", "b", "c"]]}))
    assert isinstance(rejection, Rejection) and (rejection.field, rejection.reason) == ("(header)", reason)


def test_xlsx_sheet_choice(tmp_path: Path) -> None:
    path = make_workbook(tmp_path / "t.xlsx", {"说明": [["这是说明"]], "案例": [["id"], ["a"]]})
    assert only_rows(rows(path)) == []  # the first sheet has a header row only
    assert only_rows(rows(path, sheet="案例")) == [(2, {"id": "a"})]
    [rejection] = rows(path, sheet="cases")
    assert isinstance(rejection, Rejection)
    assert rejection.reason == "no sheet named 'cases'; the sheets are '说明', '案例'"


def test_xlsx_empty_workbook(tmp_path: Path) -> None:
    assert rows(make_workbook(tmp_path / "t.xlsx", {"s": []})) == []


# --- the samples -----------------------------------------------------------------------------

def test_sample_csv_is_gb18030() -> None:
    raw = (DATA / "librarian_sample.csv").read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert raw.decode("gb18030").startswith("案例编号,案件名称,裁判摘要")


def test_samples_hold_the_same_rows_except_date_cells() -> None:
    from_csv = only_rows(rows(DATA / "librarian_sample.csv"))
    from_xlsx = only_rows(rows(DATA / "librarian_sample.xlsx"))
    assert len(from_csv) == len(from_xlsx) == 8
    assert [line for line, _ in from_csv] == [line for line, _ in from_xlsx] == list(range(2, 10))
    for (_, text_row), (_, sheet_row) in zip(from_csv, from_xlsx):
        assert {k: v for k, v in text_row.items() if k != "裁判日期"} == {k: v for k, v in sheet_row.items() if k != "裁判日期"}
    # full dates are date cells in the workbook, written 2015年4月14日 in the CSV
    assert (from_csv[0][1]["裁判日期"], from_xlsx[0][1]["裁判日期"]) == ("2015年4月14日", "2015-04-14")
    assert from_csv[1][1]["裁判日期"] == from_xlsx[1][1]["裁判日期"] == "2016年3月"


def test_samples_are_what_the_script_writes(tmp_path: Path) -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_samples", DATA / "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.write_csv(tmp_path / "s.csv")
    module.write_xlsx(tmp_path / "s.xlsx")
    assert (tmp_path / "s.csv").read_bytes() == (DATA / "librarian_sample.csv").read_bytes()
    assert only_rows(rows(tmp_path / "s.xlsx")) == only_rows(rows(DATA / "librarian_sample.xlsx"))


def test_row_is_json_serialisable_for_rejects_files(tmp_path: Path) -> None:
    [rejection] = rows(write_csv(tmp_path, "id,title\na,b,c\n"))
    assert json.loads(json.dumps(rejection.__dict__, ensure_ascii=False)) == {
        "source": str(tmp_path / "t.csv"), "line": 2, "field": "(row)",
        "reason": "row has 3 cells but the header has 2", "id": None, "original": ["a", "b", "c"]}
