"""Writes are complete or not done: repeated ids, a held index lock, two loaders, a full disk.

Every test here reproduces a report (issue 12, items 7–10) on real engines and real processes:
the same id twice in one write, a write while another process holds the index lock, two
`casedigest load` at once on the same file, and a disk that is really full (a small tmpfs).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import CAIL, ENGINES, SAMPLE, discard, engine_settings
from indexing.engines.base import Engine
from indexing.engines.embedded import EmbeddedEngine
from indexing.records.enrich import with_inferred_forms
from indexing.loading.loader import load_files
from indexing.query.model import EngineQuery, MatchAll, Term
from indexing.records.model import parse_record
from indexing.text.segmenter import Segmenter
from indexing.loading.writes import Writer
from service.app import create_app
from service.auth import create_key
from service.settings import Settings
from service.state import open_engine

ROOT = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-c", "from service.cli import main; main()"]
CAIL_MAP = ROOT / "indexing/field_maps/cail2018.toml"

# The input of the report: one id, two versions, in one request or one file.
DUP_FIRST = {"id": "dup-1", "title": "重复测试 dupfirst", "summary": "同一编号出现两次的第一版摘要。", "country": "CN"}
DUP_SECOND = {"id": "dup-1", "title": "重复测试 dupsecond", "summary": "同一编号出现两次的第二版摘要。", "country": "CN"}
DUP_LINES = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in (DUP_FIRST, DUP_SECOND))


def total(engine: Engine, word: str | None = None) -> int:
    """Index units matching `word` (every unit without it)."""
    return engine.search(EngineQuery(match=Term(word) if word else MatchAll(), size=10)).total


def cli_env(settings: Settings) -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CASEDIGEST_ENGINE": settings.engine,
           "CASEDIGEST_DATA_PATH": str(settings.data_path),
           "CASEDIGEST_ELASTICSEARCH_URL": settings.elasticsearch_url,
           "CASEDIGEST_ELASTICSEARCH_INDEX": settings.elasticsearch_index}
    return env


def cli(args: list[str], settings: Settings, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, env=cli_env(settings), timeout=600, cwd=cwd)


def pending_count(data: Path) -> int:
    db = sqlite3.connect(data)
    try:
        return int(db.execute("SELECT COUNT(*) FROM pending").fetchone()[0])
    finally:
        db.close()


# ---- item 7: the same id twice in one write --------------------------------------------------
@pytest.mark.parametrize("kind", ENGINES)
def test_the_same_id_twice_in_one_bulk_request_is_written_once(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    settings = engine_settings(kind, request, tmp_path, load_fixtures=False)
    app = create_app(settings)
    with TestClient(app) as client:
        engine = app.state.casedigest.search.engine
        try:
            headers = {"Authorization": f"Bearer {create_key(engine, 'lib-dup', 'librarian')}",
                       "Content-Type": "application/x-ndjson"}

            def bulk() -> list[dict[str, Any]]:
                response = client.post("/v1/cases/bulk", content=DUP_LINES.encode(), headers=headers)
                assert response.status_code == 200, response.text
                return [json.loads(line) for line in response.text.splitlines()]

            def search(q: str) -> dict[str, Any]:
                return client.get("/v1/search", params={"q": q}).json()  # type: ignore[no-any-return]

            *lines, summary = bulk()
            assert [(r["line"], r["status"]) for r in lines] == [(1, "superseded"), (2, "inserted")]
            assert summary["summary"] == {"read": 2, "inserted": 1, "updated": 0, "unchanged": 0, "rejected": 0,
                                          "duplicate_ids": 1}
            assert search("dupfirst")["total"] == 0
            assert [h["id"] for h in search("dupsecond")["hits"]] == ["dup-1"]
            listed = search("重复测试")
            assert [h["id"] for h in listed["hits"]] == ["dup-1"] and listed["total"] == 1
            assert [(e.action, e.hash_after) for e in engine.audit(record_id="dup-1")] == [
                ("insert", with_inferred_forms(parse_record(DUP_SECOND)).content_hash())]
            # Sent again: nothing changes, nothing is written or audited.
            *_, again = bulk()
            assert again["summary"] == {"read": 2, "inserted": 0, "updated": 0, "unchanged": 1, "rejected": 0,
                                        "duplicate_ids": 1}
            assert len(engine.audit(record_id="dup-1")) == 1
            assert search("重复测试")["total"] == 1
        finally:
            discard(engine)


@pytest.mark.parametrize("kind", ENGINES)
def test_the_same_id_twice_in_one_load_file_is_written_once(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    settings = engine_settings(kind, request, tmp_path)
    data = tmp_path / "dup.jsonl"
    data.write_text(DUP_LINES, "utf-8")
    engine = open_engine(settings, Segmenter())
    try:
        loaded = cli(["load", str(data), "--quiet"], settings, tmp_path)
        assert loaded.returncode == 0, loaded.stderr
        assert json.loads(loaded.stdout.splitlines()[-1]) == {
            "read": 2, "inserted": 1, "updated": 0, "unchanged": 0, "rejected": 0, "duplicate_ids": 1,
            "predicted_charges": 0}
        engine.finish_writes()
        assert (total(engine, "dupfirst"), total(engine, "dupsecond"), total(engine, "重复")) == (0, 1, 1)
        assert total(engine) == 1
        reloaded = cli(["load", str(data), "--quiet"], settings, tmp_path)
        assert json.loads(reloaded.stdout.splitlines()[-1])["unchanged"] == 1
        assert json.loads(reloaded.stdout.splitlines()[-1])["updated"] == 0
        # The two lines in different batches: still written once, and unchanged when loaded again.
        spread = tmp_path / "spread.jsonl"
        spread.write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n"
                    for r in (DUP_FIRST, SAMPLE[0], {**DUP_SECOND, "summary": "第三版摘要，跨批次。"})), "utf-8")
        writer = Writer(engine, "test")
        first = load_files([spread], writer, batch_size=1)
        assert (first.inserted, first.updated, first.unchanged) == (1, 1, 0)  # t-drugs-1 new, dup-1 updated once
        again = load_files([spread], writer, batch_size=1)
        assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)
        assert len(engine.audit(record_id="dup-1")) == 2  # the CLI's insert and one update
    finally:
        discard(engine)


def test_a_repeated_id_whose_last_line_is_rejected_keeps_its_last_good_line(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "dup.jsonl"
    path.write_text(DUP_LINES + json.dumps({"id": "dup-1", "title": "缺摘要"}, ensure_ascii=False) + "\n", "utf-8")
    report = load_files([path], Writer(engine, "test"), batch_size=1)
    assert (report.inserted, report.updated, report.rejected, len(report.duplicates)) == (1, 0, 1, 1)
    assert (total(engine, "dupfirst"), total(engine, "dupsecond")) == (0, 1)


def test_the_engines_write_the_last_of_a_repeated_id_once(engine: Engine) -> None:
    first, second = (with_inferred_forms(parse_record(r)) for r in (DUP_FIRST, DUP_SECOND))
    assert engine.upsert([first, second]) == ["inserted", "inserted"]
    assert (total(engine, "dupfirst"), total(engine, "dupsecond"), total(engine)) == (0, 1, 1)
    assert engine.upsert([first, second]) == ["unchanged", "unchanged"]
    assert engine.upsert([second, first]) == ["updated", "updated"]
    assert (total(engine, "dupfirst"), total(engine, "dupsecond"), total(engine)) == (1, 0, 1)


# ---- items 8 and 9: a write that cannot index stores nothing --------------------------------
HOLD_INDEX_LOCK = (
    "import sys, tantivy\n"
    "writer = tantivy.Index.open(sys.argv[1]).writer(heap_size=15_000_000, num_threads=1)\n"
    "print('locked', flush=True)\n"
    "sys.stdin.read()\n"
)


@pytest.fixture
def embedded_api(tmp_path: Path) -> Iterator[tuple[TestClient, EmbeddedEngine, dict[str, str]]]:
    app = create_app(Settings(engine="embedded", data_path=tmp_path / "db.sqlite3", load_fixtures=False))
    with TestClient(app) as client:
        engine = app.state.casedigest.search.engine
        headers = {"Authorization": f"Bearer {create_key(engine, 'lib-lock', 'librarian')}"}
        yield client, engine, headers
        engine.close()


def test_a_write_while_another_process_holds_the_index_lock_stores_nothing(
    embedded_api: tuple[TestClient, EmbeddedEngine, dict[str, str]], tmp_path: Path
) -> None:
    client, engine, headers = embedded_api
    record = {"id": "lock-1", "title": "锁测试", "summary": "写入时索引被另一个进程锁定。", "country": "CN"}
    holder = subprocess.Popen([sys.executable, "-c", HOLD_INDEX_LOCK, str(engine.index_path)],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        refused = client.post("/v1/cases", json=record, headers=headers)
        assert refused.status_code == 503, refused.text
        error = refused.json()["error"]
        assert error["code"] == "engine_unavailable" and "another process" in error["message"]
        assert client.get("/v1/cases/lock-1").status_code == 404  # not stored
        assert engine.audit(record_id="lock-1") == [] and pending_count(engine.path) == 0
        deleted = client.delete("/v1/cases/lock-1", headers=headers)
        assert deleted.status_code == 503
    finally:
        holder.communicate("", timeout=30)
    accepted = client.post("/v1/cases", json=record, headers=headers)
    assert accepted.status_code == 201, accepted.text
    assert [h["id"] for h in client.get("/v1/search", params={"q": "锁定"}).json()["hits"]] == ["lock-1"]
    assert [e.action for e in engine.audit(record_id="lock-1")] == ["insert"]


def test_a_record_left_pending_is_indexed_by_the_running_service(
    embedded_api: tuple[TestClient, EmbeddedEngine, dict[str, str]],
) -> None:
    client, engine, headers = embedded_api
    record = {"id": "pend-1", "title": "待索引测试", "summary": "被告人甲某走私香烟。", "country": "CN"}
    assert client.post("/v1/cases", json=record, headers=headers).status_code == 201
    # Another process stored a new version and died before indexing it.
    db = sqlite3.connect(engine.path)
    db.execute("UPDATE records SET json = replace(json, '香烟', '冻品') WHERE id = 'pend-1'")
    db.execute("INSERT INTO pending(id) VALUES ('pend-1')")
    db.commit()
    db.close()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not client.get("/v1/search", params={"q": "冻品"}).json()["hits"]:
        time.sleep(0.5)
    assert [h["id"] for h in client.get("/v1/search", params={"q": "冻品"}).json()["hits"]] == ["pend-1"]
    assert client.get("/v1/search", params={"q": "香烟"}).json()["total"] == 0
    assert pending_count(engine.path) == 0


@pytest.mark.real_data
def test_two_loaders_at_once_leave_nothing_unindexed(tmp_path: Path) -> None:
    sample = tmp_path / "cail.jsonl"
    sample.write_text("".join(CAIL.read_text("utf-8").splitlines(keepends=True)[:1500]), "utf-8")
    settings = Settings(engine="embedded", data_path=tmp_path / "db.sqlite3")
    command = [*CLI, "load", str(sample), "--mapping", str(CAIL_MAP), "--quiet"]
    folders = [tmp_path / "a", tmp_path / "b"]
    for folder in folders:
        folder.mkdir()
    loaders = [subprocess.Popen(command, env=cli_env(settings), cwd=folder, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True) for folder in folders]
    results = [(p.wait(timeout=900), *p.communicate()) for p in loaders]
    assert any(code == 0 for code, _, _ in results), results
    for code, _, stderr in results:
        if code != 0:  # the one that lost the race says why and wrote nothing
            assert code == 1 and stderr.strip().count("\n") == 0 and "another process" in stderr, stderr
    # Nothing was left stored but unindexed, before any engine opens (and replays) the store.
    assert pending_count(settings.data_path) == 0
    engine = EmbeddedEngine(settings.data_path, Segmenter(), replay_every=None)
    try:
        assert engine.count_records() == {"case": 1500} and total(engine) == 1500
    finally:
        engine.close()
    again = subprocess.run(command, env=cli_env(settings), cwd=folders[0], capture_output=True, text=True, timeout=900)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout.splitlines()[-1])["unchanged"] == 1500


# ---- item 10: a full disk ----------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A real 8 MB filesystem (tmpfs), so that it can really fill up."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a small filesystem to fill (needs root): {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def fill(folder: Path) -> Path:
    """Write a file until the disk is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    with filler.open("wb") as out:
        try:
            while True:
                out.write(b"\0" * 65536)
                out.flush()
        except OSError:
            pass
    return filler


def test_a_full_disk_keeps_reads_up_refuses_writes_in_one_line_and_resumes(
    small_disk: Path, tmp_path: Path, segmenter: Segmenter
) -> None:
    settings = Settings(engine="embedded", data_path=small_disk / "db.sqlite3", load_fixtures=False)
    engine = EmbeddedEngine(settings.data_path, segmenter, replay_every=None)
    engine.upsert([with_inferred_forms(parse_record(r)) for r in SAMPLE])
    key = create_key(engine, "lib-full", "librarian")
    engine.close()
    # A crash left a stored version unindexed; then the disk filled up.
    db = sqlite3.connect(settings.data_path)
    db.execute("UPDATE records SET json = replace(json, '冰毒', '摇头丸') WHERE id = 't-drugs-1'")
    db.execute("INSERT INTO pending(id) VALUES ('t-drugs-1')")
    db.commit()
    db.close()
    filler = fill(small_disk)

    # Reads from the command line work on the full disk.
    stats = cli(["stats"], settings, tmp_path)
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["records"] == {"case": len(SAMPLE)}
    found = cli(["search", "贩卖"], settings, tmp_path)
    assert found.returncode == 0 and "t-drugs-1" in found.stdout, found.stderr
    # A load says so in one line and exits non-zero, storing nothing.
    new = tmp_path / "new.jsonl"
    new.write_text(json.dumps({"id": "full-1", "title": "满盘测试", "summary": "磁盘已满时写入的记录。"},
                              ensure_ascii=False) + "\n", "utf-8")
    loaded = cli(["load", str(new), "--quiet"], settings, tmp_path)
    assert loaded.returncode == 1
    assert len(loaded.stderr.strip().splitlines()) == 1, loaded.stderr
    assert loaded.stderr.startswith(f"casedigest: no space left on {small_disk}")

    record = {"id": "full-2", "title": "满盘测试", "summary": "磁盘已满时经接口写入的记录。", "country": "CN"}
    with TestClient(create_app(settings)) as client:
        headers = {"Authorization": f"Bearer {key}"}
        assert client.get("/v1/search", params={"q": "贩卖"}).json()["total"] >= 1
        assert client.get("/v1/cases/t-drugs-2").status_code == 200
        refused = client.post("/v1/cases", json=record, headers=headers)
        assert refused.status_code == 507, refused.text
        assert refused.json()["error"]["code"] == "storage_full"
        assert refused.json()["error"]["message"].startswith(f"no space left on {small_disk}")
        assert client.get("/v1/cases/full-2").status_code == 404

        filler.unlink()  # space returns: the same running service writes, and indexes what was pending
        accepted = client.post("/v1/cases", json=record, headers=headers)
        assert accepted.status_code == 201, accepted.text
        assert [h["id"] for h in client.get("/v1/search", params={"q": "满盘"}).json()["hits"]] == ["full-2"]
        assert [h["id"] for h in client.get("/v1/search", params={"q": "摇头丸"}).json()["hits"]] == ["t-drugs-1"]
    assert pending_count(settings.data_path) == 0
    assert cli(["load", str(new), "--quiet"], settings, tmp_path).returncode == 0
