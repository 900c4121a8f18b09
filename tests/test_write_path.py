"""Writes have their own path: they never wait for the read thread pool, and several server
processes on one embedded store lose no acknowledged write and serve each other's writes.

The first test runs the app in-process; the others start `casedigest serve --workers 2` as a
real server on a loopback port. No test measures speed.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Iterator

import anyio
import httpx
import pytest
from anyio import to_thread
from fastapi.testclient import TestClient

from conftest import ROOT
from indexing.errors import EngineUnavailable
from indexing.text.segmenter import Segmenter
from service.app import create_app
from service.auth import create_key
from service.settings import Settings
from service.state import open_engine
from service.write_path import WritePath

SERVER_START_S = 120.0
VISIBLE_WITHIN_S = 30.0
WRITERS, BATCHES, BATCH = 3, 6, 40


def record(id: str, court: str = "写入路径测试法院", summary: str = "被告人组织他人走私枪支，从中牟利。") -> dict[str, Any]:
    return {"id": id, "title": f"{id} 走私武器案", "summary": summary, "country": "CN", "court": court}


def ndjson(records: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records).encode("utf-8")


def acknowledged(response: httpx.Response) -> list[str]:
    """Ids a bulk answer acknowledged (inserted, updated or unchanged)."""
    assert response.status_code == 200, response.text
    lines = [json.loads(line) for line in response.text.splitlines() if line]
    return [line["id"] for line in lines if line.get("status") in ("inserted", "updated", "unchanged")]


# ---- in-process: the write path does not use the read thread pool --------------------------------
def test_writes_do_not_wait_for_the_read_thread_pool(tmp_path: Path) -> None:
    """With every read thread taken, writes still complete, while a read waits for a thread."""
    app = create_app(Settings(engine="embedded", data_path=tmp_path / "db.sqlite3", load_fixtures=False, read_threads=2))

    async def scenario() -> None:
        async with app.router.lifespan_context(app):
            secret = create_key(app.state.casedigest.search.engine, "lib-path", "librarian")
            auth = {"Authorization": f"Bearer {secret}"}
            limiter = to_thread.current_default_thread_limiter()
            assert limiter.total_tokens == 2  # the setting took effect
            holders = [object() for _ in range(int(limiter.total_tokens))]
            for holder in holders:
                await limiter.acquire_on_behalf_of(holder)  # every read thread busy
            transport = httpx.ASGITransport(app=app)
            try:
                async with httpx.AsyncClient(transport=transport, base_url="http://casedigest") as client:
                    with anyio.fail_after(60):
                        put = await client.put("/v1/cases/wp-1", json=record("wp-1"), headers=auth)
                        bulk = await client.post("/v1/cases/bulk", content=ndjson([record("wp-2"), record("wp-3")]),
                                                 headers={**auth, "Content-Type": "application/x-ndjson"})
                        deleted = await client.delete("/v1/cases/wp-3", headers=auth)
                    assert put.status_code == 201, put.text
                    assert acknowledged(bulk) == ["wp-2", "wp-3"]
                    assert deleted.status_code == 200, deleted.text
                    # The pool really is taken: a read does wait for it.
                    with anyio.move_on_after(1.0) as waited:
                        await client.get("/v1/cases/wp-1")
                    assert waited.cancelled_caught
            finally:
                for holder in holders:
                    limiter.release_on_behalf_of(holder)
            async with httpx.AsyncClient(transport=transport, base_url="http://casedigest") as client:
                assert (await client.get("/v1/cases/wp-2")).status_code == 200
                assert (await client.get("/v1/cases/wp-3")).status_code == 404

    # On a thread of its own: a test run that already has an event loop (Playwright's) cannot start one here.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(anyio.run, scenario).result()


def test_a_batch_waits_for_another_writer_then_gives_up_with_a_503(tmp_path: Path) -> None:
    """Two write paths on one lock file stand for two server processes on one store (the lock is
    per open file, so two in one process exclude each other as two processes do)."""
    lock = tmp_path / "db.sqlite3.write-lock"
    first, second = WritePath(lock), WritePath(lock, lock_wait=0.3)
    try:
        with first.store_lock():
            with pytest.raises(EngineUnavailable) as refused:
                with second.store_lock():
                    pytest.fail("two writers held the store at once")
            assert refused.value.status == 503
        with second.store_lock():  # free again once the first writer is done
            pass
    finally:
        first.close()
        second.close()


def test_a_first_start_makes_the_folder_of_the_store_and_its_lock(tmp_path: Path) -> None:
    data = tmp_path / "not" / "yet" / "db.sqlite3"
    with TestClient(create_app(Settings(engine="embedded", data_path=data, load_fixtures=False))) as client:
        assert client.get("/readyz").status_code == 200
    assert data.with_name("db.sqlite3.write-lock").exists()


# ---- a real server with two worker processes on one embedded store -----------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class TwoWorkers:
    """`casedigest serve --workers 2` on an embedded store, with a librarian key."""

    def __init__(self, tmp_path: Path) -> None:
        data = tmp_path / "db.sqlite3"
        engine = open_engine(Settings(engine="embedded", data_path=data), Segmenter())
        try:
            self.secret = create_key(engine, "lib-workers", "librarian")
        finally:
            engine.close()
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        self.log = tmp_path / "serve.log"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CASEDIGEST_")}
        env.update(CASEDIGEST_ENGINE="embedded", CASEDIGEST_DATA_PATH=str(data), CASEDIGEST_LOAD_FIXTURES="false")
        command = [str(Path(sys.executable).parent / "casedigest"), "serve", "--host", "127.0.0.1", "--port", str(port),
                   "--workers", "2"]
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(command, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text("utf-8", errors="replace")[-3000:]
            text = self.log.read_text("utf-8", errors="replace")
            if text.count("Application startup complete") >= 2:
                return
            time.sleep(0.3)
        pytest.fail(f"two workers not started within {SERVER_START_S:.0f} s:\n{self.log.read_text('utf-8')[-3000:]}")

    def worker_pids(self) -> set[str]:
        text = self.log.read_text("utf-8", errors="replace")
        return {line.rsplit("[", 1)[1].rstrip("]\n ") for line in text.splitlines() if "Started server process" in line}

    def headers(self, **extra: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}", **extra}

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[TwoWorkers]:
    server = TwoWorkers(tmp_path)
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


def court_ids(url: str, court: str) -> set[str]:
    """Every record id a search filtered on `court` lists, paged with the cursor."""
    found: set[str] = set()
    params: dict[str, Any] = {"court": court, "size": 100, "sort": "date"}
    for _ in range(50):
        page = httpx.get(f"{url}/v1/search", params=params, timeout=30).json()
        found.update(hit["id"] for hit in page["hits"])
        if not page.get("next_cursor"):
            break
        params["cursor"] = page["next_cursor"]
    return found


def test_a_write_through_one_worker_is_read_through_any(two_workers: TwoWorkers) -> None:
    assert len(two_workers.worker_pids()) == 2
    court = "跨进程可见测试法院"
    written = httpx.put(f"{two_workers.url}/v1/cases/mw-1", json=record("mw-1", court), headers=two_workers.headers(),
                        timeout=60)
    assert written.status_code == 201, written.text
    # Each request on a new connection, so either worker may answer; every answer must hold
    # the write: the record from SQLite at once, the search after the index reload.
    deadline = time.monotonic() + VISIBLE_WITHIN_S
    while "mw-1" not in court_ids(two_workers.url, court):
        assert time.monotonic() < deadline, "the write never became searchable"
        time.sleep(0.2)
    for _ in range(20):
        assert httpx.get(f"{two_workers.url}/v1/cases/mw-1", timeout=30).status_code == 200
        assert "mw-1" in court_ids(two_workers.url, court)


def test_concurrent_readers_and_writers_lose_no_acknowledged_write(two_workers: TwoWorkers) -> None:
    """Three bulk writers (their batches land on either worker) beside eight readers."""
    court = "并发写入测试法院"
    acked: list[str] = []
    statuses: list[int] = []
    stop = threading.Event()
    lock = threading.Lock()

    def writer(name: str) -> None:
        for batch in range(BATCHES):
            ids = [f"{name}-{batch}-{i:03d}" for i in range(BATCH)]
            # A new connection per batch, so the batches of the writers spread over both workers.
            response = httpx.post(f"{two_workers.url}/v1/cases/bulk", content=ndjson([record(i, court) for i in ids]),
                                  headers=two_workers.headers(**{"Content-Type": "application/x-ndjson"}), timeout=120)
            with lock:
                statuses.append(response.status_code)
                if response.status_code == 200:
                    acked.extend(acknowledged(response))

    def reader(seed: int) -> None:
        with httpx.Client(base_url=two_workers.url, timeout=120) as client:
            for n in range(200):  # bounded; usually ended by `stop` first
                if stop.is_set():
                    return
                response = client.get("/v1/search", params={"q": ["走私", "枪支", "组织"][(seed + n) % 3]})
                with lock:
                    statuses.append(response.status_code)

    writers = [threading.Thread(target=writer, args=(f"cw{w}",)) for w in range(WRITERS)]
    readers = [threading.Thread(target=reader, args=(r,)) for r in range(8)]
    for thread in writers + readers:
        thread.start()
    for thread in writers:
        thread.join(timeout=600)
    stop.set()
    for thread in readers:
        thread.join(timeout=120)

    assert [s for s in statuses if s != 200] == []
    assert len(acked) == WRITERS * BATCHES * BATCH
    missing = [i for i in acked if httpx.get(f"{two_workers.url}/v1/cases/{i}", timeout=30).status_code != 200]
    assert missing == []
    assert court_ids(two_workers.url, court) == set(acked)
