"""The write path: every write runs on one thread of its own, never in the pool that serves reads.

Why: sync route handlers (every read) run in AnyIO's shared thread pool. With dozens of
readers that pool is always full, and a write sent there waited behind them — bulk batches
took seconds instead of milliseconds. Writes now queue only behind other writes, on this
thread; the read pool is also kept small (`read_threads`) so the interpreter lock is shared
among a few readers and the writer rather than among forty.

Several server processes may write to one embedded store: a batch takes an exclusive lock on
a file beside the store for as long as it writes (the SQLite commit and the index commit), so
two processes' writes never interleave and the index always ends with the newer version of
a record. Elasticsearch needs no such lock.
"""

from __future__ import annotations

import asyncio
import fcntl
import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator, ParamSpec, TypeVar

from indexing.engines.base import Engine
from indexing.engines.disk import is_disk_full, storage_full
from indexing.errors import EngineUnavailable

P = ParamSpec("P")
T = TypeVar("T")

# How long a batch waits for another process's batch to finish before giving up with a 503.
LOCK_WAIT_SECONDS = 60.0


class WritePath:
    """Runs write functions one at a time on a dedicated thread, under the store's write lock."""

    def __init__(self, lock_path: Path | None = None, lock_wait: float = LOCK_WAIT_SECONDS) -> None:
        self.lock_path = lock_path
        self.lock_wait = lock_wait
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="casedigest-writer")

    async def write(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` on the writer thread under the store's write lock.

        A request cancelled while its write runs does not stop the write: it completes (or
        fails) as a whole.
        """
        return await self.call(self._locked, fn, *args, **kwargs)

    async def call(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        """`fn(*args, **kwargs)` on the writer thread, without the store lock (key checks, reconnecting)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, functools.partial(fn, *args, **kwargs))

    def _locked(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        with self.store_lock():
            return fn(*args, **kwargs)

    @contextmanager
    def store_lock(self) -> Iterator[None]:
        """Hold the store's inter-process write lock (if it has one), waiting at most `lock_wait`."""
        if self.lock_path is None:
            yield
            return
        try:
            # A first start may come before the store's folder exists (the engine makes it too).
            self.lock_path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            if is_disk_full(exc):
                raise storage_full(self.lock_path) from None
            raise EngineUnavailable(
                f"embedded engine cannot open the store's write lock {self.lock_path}: {exc.strerror}",
                {"lock": str(self.lock_path)},
            ) from None
        try:
            deadline = time.monotonic() + self.lock_wait
            pause = 0.005
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        raise EngineUnavailable(
                            f"another process has been writing to the store for over {self.lock_wait:.0f} s",
                            {"lock": str(self.lock_path)},
                        ) from None
                    time.sleep(pause)
                    pause = min(pause * 2, 0.1)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def close(self) -> None:
        """Wait for the write in progress (if any) and stop the thread."""
        self._executor.shutdown(wait=True)


def finish_writes(engine: Engine) -> None:
    """Release what a burst of writes holds, as the loader does after a load.

    The embedded engine keeps its index writer (and the index lock) until told; releasing it
    after each request lets a `casedigest load` run beside the service.
    """
    finish = getattr(engine, "finish_writes", None)
    if callable(finish):
        finish()
