"""The `casedigest` console script, run as a real process against a temporary data file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CAIL, SAMPLE

CLI = [sys.executable, "-c", "from service.cli import main; main()"]


ROOT = Path(__file__).resolve().parents[1]


def run(args: list[str], data: Path) -> subprocess.CompletedProcess[str]:
    """The CLI in a subprocess, working in the data file's folder (where default outputs go)."""
    env = {**os.environ, "CASEDIGEST_DATA_PATH": str(data), "PYTHONPATH": str(ROOT)}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=env, timeout=300, cwd=data.parent)


@pytest.fixture
def records_file(tmp_path: Path) -> Path:
    lines = [json.dumps(r, ensure_ascii=False) for r in SAMPLE[:4]]
    lines.insert(2, '{"id": "bad-1", "title": "缺摘要"}')
    lines.insert(3, "{not json")
    path = tmp_path / "records.jsonl"
    path.write_text("\n".join(lines) + "\n", "utf-8")
    return path


def test_load_reports_bad_lines_and_loads_the_rest(tmp_path: Path, records_file: Path) -> None:
    data = tmp_path / "db.sqlite3"
    rejects = tmp_path / "rejects.jsonl"
    result = run(["load", str(records_file), "--rejects", str(rejects)], data)
    assert result.returncode == 2
    assert f"{records_file}:3: summary: is required" in result.stderr
    assert f"{records_file}:4: (line): not valid JSON" in result.stderr
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary == {"read": 6, "inserted": 4, "updated": 0, "unchanged": 0, "rejected": 2, "duplicate_ids": 0,
                       "predicted_charges": 0}
    assert json.loads((tmp_path / "casedigest-load-summary.json").read_text("utf-8")) == summary
    rejected = [json.loads(line) for line in rejects.read_text("utf-8").splitlines()]
    assert [(r["source"], r["line"], r["field"]) for r in rejected] == [
        (str(records_file), 3, "summary"), (str(records_file), 4, "(line)")]
    assert rejected[0]["original"] == {"id": "bad-1", "title": "缺摘要"}
    # loading the same file again changes nothing
    again = json.loads(run(["load", str(records_file)], data).stdout.strip().splitlines()[-1])
    assert again["unchanged"] == 4 and again["inserted"] == 0


def test_search_and_stats(tmp_path: Path, records_file: Path) -> None:
    data = tmp_path / "db.sqlite3"
    run(["load", str(records_file)], data)
    found = run(["search", "冰毒"], data)
    assert found.returncode == 0 and "t-drugs-1" in found.stdout and "【冰毒】" in found.stdout
    as_json = json.loads(run(["search", "毒品", "--crime-form", "drugs", "--json"], data).stdout)
    assert as_json["total"] == 2
    stats = json.loads(run(["stats"], data).stdout)
    assert stats["records"] == {"case": 4} and stats["crime_forms"]["drugs"] == 2


@pytest.mark.parametrize(
    "args, message",
    [
        (["search", '"走私'], "unclosed quotation mark"),
        (["search", "x", "--crime-form", "nope"], "unknown crime form"),
        (["load", "/no/such/file.jsonl"], "cannot read the file"),
        (["load", "x.jsonl", "--mapping", "/no/such/map.toml"], "map.toml"),
    ],
)
def test_errors_are_one_line_and_nonzero(tmp_path: Path, args: list[str], message: str) -> None:
    result = run(args, tmp_path / "db.sqlite3")
    assert result.returncode != 0
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_duplicates_max_errors_delete_and_sync(tmp_path: Path) -> None:
    data = tmp_path / "db.sqlite3"
    source = {"name": "图书馆导出"}
    lines = [dict(SAMPLE[0], source=source), dict(SAMPLE[1], source=source), dict(SAMPLE[0], title="改名的标题", source=source)]
    first = tmp_path / "a.jsonl"
    first.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in lines), "utf-8")
    result = run(["load", str(first)], data)
    assert result.returncode == 0, result.stderr
    assert "id 't-drugs-1' already appeared on line 1; the last one is kept" in result.stderr
    assert json.loads(run(["search", "改名的标题", "--json"], data).stdout)["total"] == 1
    # the file now holds only one of the two records: --sync shows the count, --yes deletes
    second = tmp_path / "b.jsonl"
    second.write_text(json.dumps(dict(SAMPLE[1], source=source), ensure_ascii=False), "utf-8")
    dry = run(["load", str(second), "--sync", "图书馆导出"], data)
    assert "1 records of source '图书馆导出' are not in the files" in dry.stderr
    assert json.loads(run(["stats"], data).stdout)["records"] == {"case": 2}
    done = run(["load", str(second), "--sync", "图书馆导出", "--yes"], data)
    assert json.loads(done.stdout.splitlines()[-1])["sync_deleted"] == 1
    assert json.loads(run(["stats"], data).stdout)["records"] == {"case": 1}
    assert json.loads(run(["delete", "t-drugs-2"], data).stdout) == {"deleted": 1, "not_found": 0}
    missing = run(["delete", "no-such-id"], data)
    assert missing.returncode == 2 and json.loads(missing.stdout) == {"deleted": 0, "not_found": 1}
    # up to --max-errors rejections the exit status stays 0; beyond, the load stops with 3
    bad = tmp_path / "bad.jsonl"
    bad.write_text("{}\n{}\n" + json.dumps(SAMPLE[2], ensure_ascii=False) + "\n", "utf-8")
    assert run(["load", str(bad), "--max-errors", "2"], data).returncode == 0
    assert run(["load", str(bad), "--max-errors", "1"], data).returncode == 3


@pytest.mark.real_data
def test_load_with_cail_mapping(tmp_path: Path) -> None:
    sample = tmp_path / "cail.jsonl"
    sample.write_text("".join(CAIL.read_text("utf-8").splitlines(keepends=True)[:50]), "utf-8")
    data = tmp_path / "db.sqlite3"
    result = run(["load", str(sample), "--mapping", str(ROOT / "indexing/field_maps/cail2018.toml")], data)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["inserted"] == 50
    record = json.loads(run(["search", "", "--json", "--size", "1"], data).stdout)["hits"][0]
    assert record["country"] == "CN" and record["title"].endswith("案") and record["charges"]


def test_similar_ranks_cases_like_the_facts_and_writes_the_report(tmp_path: Path, records_file: Path) -> None:
    data = tmp_path / "db.sqlite3"
    run(["load", str(records_file)], data)
    facts = tmp_path / "facts.txt"
    facts.write_text("经查，被告人多次向吸毒人员贩卖冰毒，并驾车运输毒品至外省。", "utf-8")
    shown = run(["similar", "--file", str(facts), "--size", "2"], data)
    assert shown.returncode == 0, shown.stderr
    assert "预测罪名：走私、贩卖、运输、制造毒品" in shown.stdout
    assert shown.stdout.index("t-drugs-") < shown.stdout.index("相同罪名")
    as_json = json.loads(run(["similar", facts.read_text("utf-8"), "--json", "--size", "2"], data).stdout)
    assert {h["id"] for h in as_json["hits"]} == {"t-drugs-1", "t-drugs-2"}
    report = tmp_path / "报告.docx"
    made = run(["similar", "--file", str(facts), "--report", str(report), "--pick", "t-drugs-2",
                "--searcher", "张检察官"], data)
    assert made.returncode == 0, made.stderr
    from docx import Document

    text = "\n".join(p.text for p in Document(str(report)).paragraphs)
    text += "\n".join(c.text for t in Document(str(report)).tables for row in t.rows for c in row.cells)
    assert "李某运输毒品案" in text and "王某贩卖毒品案" not in text and "张检察官" in text
    page = tmp_path / "report.html"
    assert run(["similar", "--file", str(facts), "--report", str(page)], data).returncode == 0
    assert "类案检索报告" in page.read_text("utf-8") and "王某贩卖毒品案" in page.read_text("utf-8")


@pytest.mark.parametrize(
    "args, message",
    [
        (["similar", "  "], "text is empty"),
        (["similar", "--file", "/no/such/facts.txt"], "cannot read /no/such/facts.txt"),
        (["similar", "贩卖毒品", "--report", "out.pdf"], "--report must name a .docx or .html file"),
        (["similar", "贩卖毒品", "--size", "0"], "size must be between 1 and 100"),
    ],
)
def test_similar_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = run(args, tmp_path / "db.sqlite3")
    assert result.returncode == 1 and message in result.stderr and "Traceback" not in result.stderr
