"""Segmenting a large batch in worker threads (native cutter) or worker processes (jieba, the
reference) gives exactly the units of one thread."""

from __future__ import annotations

import json

from pathlib import Path

import pytest

from conftest import cail_records
from indexing.engines.units import units_for
from indexing.text.segmenter import Segmenter
from indexing.engines.unit_pool import MIN_PARALLEL_BATCH, UnitPool

pytestmark = pytest.mark.real_data


@pytest.fixture(scope="module")
def reference() -> Segmenter:
    return Segmenter(cutter="jieba")


def test_worker_threads_cut_exactly_as_this_thread_does(segmenter: Segmenter) -> None:
    records = cail_records(MIN_PARALLEL_BATCH + 100)
    pool = UnitPool(segmenter, workers=2)
    try:
        assert list(pool.units(records)) == [units_for(r, segmenter) for r in records]
        assert pool._threads is not None and pool._pool is None  # threads: the native cutter releases the lock
    finally:
        pool.close()


def test_worker_processes_cut_exactly_as_this_process_does(reference: Segmenter) -> None:
    segmenter = reference
    records = cail_records(MIN_PARALLEL_BATCH + 100)
    pool = UnitPool(segmenter, workers=2)
    try:
        assert list(pool.units(records)) == [units_for(r, segmenter) for r in records]
        assert pool._pool is not None  # the batch was large enough for the workers
    finally:
        pool.close()


def test_a_killed_worker_does_not_lose_a_record(reference: Segmenter) -> None:
    segmenter = reference
    records = cail_records(MIN_PARALLEL_BATCH + 100)
    pool = UnitPool(segmenter, workers=2)
    try:
        made = pool.units(records)
        first = next(made)
        for process in list(pool._pool._processes.values()):  # type: ignore[union-attr]
            process.kill()
        rest = list(made)
        assert [first, *rest] == [units_for(r, segmenter) for r in records]
        assert pool.workers == 1 and pool._pool is None  # carries on in this process from now on
    finally:
        pool.close()


def test_small_batches_stay_in_this_process(segmenter: Segmenter) -> None:
    pool = UnitPool(segmenter, workers=2)
    records = cail_records(10)
    assert list(pool.units(records)) == [units_for(r, segmenter) for r in records]
    assert pool._pool is None and pool._threads is None


@pytest.mark.parametrize("when", ["while the workers start", "after a batch"])
def test_workers_end_when_their_process_is_killed(tmp_path: Path, when: str) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    script = tmp_path / "load.py"
    script.write_text(
        "import json, threading, time\n"
        "from conftest import cail_records\n"
        "from indexing.text.segmenter import Segmenter\n"
        "from indexing.engines.unit_pool import MIN_PARALLEL_BATCH, UnitPool\n"
        "if __name__ == '__main__':\n"
        "    pool = UnitPool(Segmenter(cutter='jieba'), workers=2)\n"
        f"    early = {when == 'while the workers start'!r}\n"
        "    records = cail_records(MIN_PARALLEL_BATCH)\n"
        "    work = threading.Thread(target=lambda: [None for _ in pool.units(records)], daemon=True)\n"
        "    work.start()\n"
        "    if not early:\n"
        "        work.join()\n"
        "    while pool._pool is None or len(pool._pool._processes) < 2:\n"
        "        time.sleep(0.01)\n"
        "    print(json.dumps(list(pool._pool._processes)), flush=True)\n"
        "    time.sleep(600)\n",
        "utf-8",
    )
    root = Path(__file__).resolve().parents[1]
    process = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": f"{root}:{root / 'tests'}"})
    try:
        workers = json.loads(process.stdout.readline())  # type: ignore[union-attr]
        assert len(workers) == 2
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()

    def alive(pid: int) -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        status = Path(f"/proc/{pid}/stat")
        return not (status.exists() and status.read_text().split(") ")[1].startswith("Z"))

    deadline = time.monotonic() + 15
    while any(alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(alive(pid) for pid in workers), "orphaned segmentation workers kept running"
