"""The lean load path: records read ahead in a thread, JSON lines parsed by orjson with json
deciding what orjson refuses, and index units made while the index takes them — all without
changing what is loaded or what a failed write leaves behind. No test measures speed."""

from __future__ import annotations

import json
import sqlite3
import threading
from pathlib import Path
from typing import Iterator

import pytest

from conftest import case
from indexing.engines.embedded import EmbeddedEngine
from indexing.loading import loader
from indexing.loading.loader import TooManyRejections, last_occurrences, load_files, read_ahead
from indexing.loading.readers import Rejection, Row, jsonl_line
from indexing.loading.writes import Writer
from indexing.query.model import EngineQuery, MatchAll
from indexing.records.model import parse_record
from indexing.text.segmenter import Segmenter


# ---- read_ahead ------------------------------------------------------------------------------
def test_read_ahead_yields_every_item_in_order() -> None:
    assert list(read_ahead(iter(range(5000)), 7)) == list(range(5000))


def test_read_ahead_raises_the_producers_error_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise ValueError("line 3 is broken")

    seen = []
    with pytest.raises(ValueError, match="line 3 is broken"):
        for item in read_ahead(items(), 10):
            seen.append(item)
    assert seen == [1, 2]


def test_a_consumer_that_stops_early_stops_the_producer_and_closes_its_source() -> None:
    closed = threading.Event()

    def endless() -> Iterator[int]:
        try:
            n = 0
            while True:
                yield n
                n += 1
        finally:
            closed.set()

    ahead = read_ahead(endless(), 3)
    assert [next(ahead) for _ in range(5)] == [0, 1, 2, 3, 4]
    ahead.close()  # what a `for` loop left by an exception does
    assert closed.wait(5.0)
    assert not any(t.name == "casedigest-read" and t.is_alive() for t in threading.enumerate())


# ---- JSON lines ------------------------------------------------------------------------------
@pytest.mark.parametrize("line", [
    '{"id": "a", "n": NaN}',  # json reads NaN, orjson refuses it
    '{"id": "a", "n": 123456789012345678901234567890}',  # past 64 bits: orjson makes it a float
    '{"id": "a", "n": -9223372036854775809}',
    '{"id": "a", "n": 1e400}',  # json reads inf, orjson refuses it
    '{"id": "a", "t": "\\ud800"}',  # a lone surrogate
    '{"id": "a", "t": "正常", "x": [1, 2.5, true, null]}',
])
def test_a_json_line_reads_as_json_reads_it(line: str) -> None:
    row = jsonl_line("f.jsonl", 2, line.encode("utf-8"))
    assert isinstance(row, Row)
    expected = json.loads(line)
    assert json.dumps(row.data, sort_keys=True) == json.dumps(expected, sort_keys=True)


def test_a_broken_json_line_is_reported_in_jsons_words() -> None:
    rejection = jsonl_line("f.jsonl", 4, b'{"id": "a",, }')
    assert isinstance(rejection, Rejection)
    assert rejection.reason == "not valid JSON (Expecting property name enclosed in double quotes, column 12)"


# ---- loading through read_ahead --------------------------------------------------------------
def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def record_line(i: int) -> str:
    return json.dumps(case(f"p-{i}", f"张某{i}诈骗案", f"被告人张某第{i}次虚构事实骗取他人财物。", country="CN"),
                      ensure_ascii=False)


def test_a_load_over_several_batches_writes_every_record_and_reports_each_bad_line(
    embedded: EmbeddedEngine, tmp_path: Path
) -> None:
    lines = [record_line(i) for i in range(25)]
    lines[3] = "{broken"
    lines[17] = json.dumps({"id": "p-17", "title": "缺少摘要"}, ensure_ascii=False)
    rejected: list[Rejection] = []
    report = load_files([write_lines(tmp_path / "cases.jsonl", lines)], Writer(embedded, "test"),
                        batch_size=4, on_reject=rejected.append)
    assert (report.read, report.inserted, report.rejected) == (25, 23, 2)
    assert [(r.line, r.field) for r in rejected] == [(4, "(line)"), (18, "summary")]
    assert embedded.search(EngineQuery(match=MatchAll(), size=1)).total == 23


def test_too_many_rejections_stops_the_load_and_its_reader(embedded: EmbeddedEngine, tmp_path: Path) -> None:
    lines = [record_line(i) for i in range(10)] + ["{broken"] * 5 + [record_line(i) for i in range(10, 5000)]
    with pytest.raises(TooManyRejections):
        load_files([write_lines(tmp_path / "cases.jsonl", lines)], Writer(embedded, "test"), max_errors=2)
    assert not any(t.name == "casedigest-read" and t.is_alive() for t in threading.enumerate())
    assert embedded.search(EngineQuery(match=MatchAll(), size=1)).total == 10


# ---- units made inside the write -------------------------------------------------------------
class FailingSegmenter(Segmenter):
    """The real segmenter, failing on one word: a write whose segmentation fails part way."""

    def index_text(self, folded: str) -> str:
        if "segfail" in folded:
            raise RuntimeError("segmentation failed")
        return super().index_text(folded)


@pytest.mark.parametrize("size", [20, 600])  # cut in place, and by the worker threads
def test_segmentation_failing_part_way_through_a_write_leaves_nothing_behind(tmp_path: Path, size: int) -> None:
    engine = EmbeddedEngine(tmp_path / "db.sqlite3", FailingSegmenter(), replay_every=None)
    try:
        records = [parse_record(case(f"s-{i}", f"王某{i}盗窃案", f"被告人王某第{i}次盗窃他人财物。")) for i in range(size)]
        records[size - 3] = parse_record(case("s-bad", "segfail 案", "被告人某甲盗窃。"))
        with pytest.raises(RuntimeError, match="segmentation failed"):
            engine.upsert(records, actor="test")
        assert engine.search(EngineQuery(match=MatchAll(), size=1)).total == 0
        db = sqlite3.connect(tmp_path / "db.sqlite3")
        try:
            counts = [db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] for table in ("records", "audit", "pending")]
        finally:
            db.close()
        assert counts == [0, 0, 0]
        # the index writer was released: the same write without the bad record goes through
        good = [r for r in records if r.id != "s-bad"]
        assert set(engine.upsert(good, actor="test")) == {"inserted"}
        assert engine.search(EngineQuery(match=MatchAll(), size=1)).total == size - 1
    finally:
        engine.close()


# ---- ids remembered without growing with the file --------------------------------------------
def test_only_ids_that_may_repeat_are_remembered(tmp_path: Path) -> None:
    lines = [record_line(i) for i in range(2000)] + [record_line(7), record_line(1500)]
    last = last_occurrences([write_lines(tmp_path / "cases.jsonl", lines)])
    assert last == {"p-7": (0, 2001), "p-1500": (0, 2002)}


@pytest.mark.parametrize("bits", [8, 1 << 27])  # every id on one of 8 bits, and the real filter
def test_repeated_ids_are_written_once_however_often_ids_share_a_bit(
    tmp_path: Path, segmenter: Segmenter, monkeypatch: pytest.MonkeyPatch, bits: int
) -> None:
    monkeypatch.setattr(loader, "_SEEN_BITS", bits)
    lines = [record_line(i) for i in range(40)]
    lines[30] = lines[5].replace("诈骗案", "诈骗案（再审）")  # p-5 again, its last version
    lines[31] = lines[6]  # p-6 again, unchanged
    engine = EmbeddedEngine(tmp_path / "db.sqlite3", segmenter, replay_every=None)
    try:
        report = load_files([write_lines(tmp_path / "cases.jsonl", lines)], Writer(engine, "test"), batch_size=7)
        assert (report.read, report.inserted) == (40, 38)
        assert sorted((d.id, d.line, d.first_line) for d in report.duplicates) == [("p-5", 31, 6), ("p-6", 32, 7)]
        stored = engine.get("p-5")
        assert stored is not None and "再审" in stored.title
        assert report.ids == set()  # not asked for
    finally:
        engine.close()
