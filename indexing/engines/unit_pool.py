"""Index units for many records at once, segmented by worker threads or processes.

The native cutter releases the interpreter lock while it cuts, so worker threads can share the
one `Segmenter` without sending every unit back from another process. Measured on the real
cases on two cores, two threads made units as fast as one (the Python around the cutter holds
the lock) and faster than two worker processes, which pay for the transfers. With the native
streams (`indexing/text/native/`), which hold the lock only around their calls, `units` over
20,000 cases went from 3,922 / 4,464 cases/s to 6,485 / 7,496 on one thread (0.22–0.24 → 0.13–0.15
ms of CPU per case), and two threads gave 5,520 / 6,296 (load average 3.4, two rounds): on a
machine whose second core is busy with other work, a second thread only adds switching. jieba,
the reference, is pure Python and holds the lock, so with it worker processes each with their
own `Segmenter` cut the records while the calling process only sends the results on. Small
batches (an API write) are cut in place, as starting workers would cost more than it saves.

Workers are started with "spawn" (safe in a process that runs threads), so a script that
loads through this must guard its entry point with `if __name__ == "__main__":`, as the
`casedigest` command and the benchmarks do.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Iterator, Sequence

from indexing.engines.units import IndexUnit, units_for
from indexing.records.model import CaseDigest, Resolution
from indexing.text.segmenter import CutterName, Segmenter

Record = CaseDigest | Resolution
log = logging.getLogger("casedigest")

# Fewer records than this are segmented in the calling process.
MIN_PARALLEL_BATCH = 500

_worker_segmenter: Segmenter | None = None


def _start_worker(dictionary: Path, cutter: CutterName, parent: int) -> None:
    global _worker_segmenter
    # Watch first: the parent may be killed while the dictionary loads.
    threading.Thread(target=_exit_with_parent, args=(parent,), daemon=True).start()
    _worker_segmenter = Segmenter(dictionary, cutter)


def _exit_with_parent(parent: int) -> None:
    """End this worker when the process that started it is gone (killed with -9, say):
    nothing else would, as the worker holds both ends of its own task queue."""
    while os.getppid() == parent:
        time.sleep(1.0)
    os._exit(1)


def _units_in_worker(record: Record) -> list[IndexUnit]:
    assert _worker_segmenter is not None
    return units_for(record, _worker_segmenter)


class UnitPool:
    """Makes index units in order, in worker threads or processes for large batches."""

    def __init__(self, segmenter: Segmenter, workers: int | None = None) -> None:
        self.segmenter = segmenter
        self.workers = workers if workers is not None else (os.cpu_count() or 1)
        self._pool: ProcessPoolExecutor | None = None
        self._threads: ThreadPoolExecutor | None = None

    def units(self, records: Sequence[Record]) -> Iterator[list[IndexUnit]]:
        """Each record's units, in the order of `records`."""
        if self.workers < 2 or len(records) < MIN_PARALLEL_BATCH:
            for record in records:
                yield units_for(record, self.segmenter)
            return
        if self.segmenter.releases_lock:
            if self._threads is None:
                self._threads = ThreadPoolExecutor(self.workers, thread_name_prefix="segmenter")
            segmenter = self.segmenter
            # a bounded window keeps memory flat and the units in order
            yield from _in_order(self._threads, lambda record: units_for(record, segmenter), records, 4 * self.workers)
            return
        if self._pool is None:
            # "spawn": a fresh interpreter per worker, safe in a process that runs threads
            # (the web server, the bulk sender), unlike fork.
            self._pool = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.segmenter.dictionary_path, self.segmenter.cutter_name, os.getpid()),
            )
        done = 0
        try:
            for units in self._pool.map(_units_in_worker, records, chunksize=25):
                yield units
                done += 1
        except BrokenProcessPool:
            # A worker died (killed, out of memory): carry on in this process rather than
            # fail the load, and do not start workers again.
            log.warning("segmentation workers stopped; segmenting in the loading process")
            self.close()
            self.workers = 1
            for record in records[done:]:
                yield units_for(record, self.segmenter)

    def close(self) -> None:
        if self._threads is not None:
            self._threads.shutdown(cancel_futures=True)
            self._threads = None
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)
            self._pool = None


def _in_order(
    threads: ThreadPoolExecutor, make: Callable[[Record], list[IndexUnit]], records: Sequence[Record], window: int
) -> Iterator[list[IndexUnit]]:
    """`make` over `records` on the threads, at most `window` ahead of what was taken."""
    pending: deque[Future[list[IndexUnit]]] = deque()
    for record in records:
        pending.append(threads.submit(make, record))
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()
