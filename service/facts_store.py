"""Pasted facts of the 类案检索 page, kept for an hour under a key, shared by every worker.

A judgment does not fit in a URL, so the page POSTs the facts, keeps them under a key and
redirects to `/similar?t=KEY`. Several server processes (`serve --workers`) answer the
redirect and the report forms in any order, so the facts live in a small SQLite file beside
the data (WAL: readers do not wait for a writer), not in one process's memory.

If that file cannot be written (a read-only or full disk), the store keeps the facts in this
process's memory instead and says so once in the log: the page still works for one worker.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
import time
from collections import OrderedDict
from pathlib import Path

log = logging.getLogger("casedigest")

KEEP_SECONDS = 3600.0
CAPACITY = 500

_SCHEMA = "CREATE TABLE IF NOT EXISTS facts (key TEXT PRIMARY KEY, saved REAL NOT NULL, text TEXT NOT NULL)"


def facts_key(text: str) -> str:
    """The key of a text: the same facts pasted twice get the same result URL."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


class FactsStore:
    """Pasted facts by key for `seconds`; at most `capacity` of them (the oldest go first)."""

    def __init__(self, path: Path | None, capacity: int = CAPACITY, seconds: float = KEEP_SECONDS) -> None:
        self.path = path
        self._capacity, self._seconds = capacity, seconds
        self._memory: OrderedDict[str, tuple[float, str]] = OrderedDict()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._shared = path is not None

    def put(self, text: str) -> str:
        key = facts_key(text)
        now = time.time()
        if self._shared:
            try:
                with self._connection() as db:
                    db.execute("INSERT OR REPLACE INTO facts VALUES (?, ?, ?)", (key, now, text))
                    db.execute("DELETE FROM facts WHERE saved < ?", (now - self._seconds,))
                    db.execute(
                        "DELETE FROM facts WHERE key IN (SELECT key FROM facts ORDER BY saved DESC LIMIT -1 OFFSET ?)",
                        (self._capacity,),
                    )
                return key
            except (sqlite3.Error, OSError) as exc:
                self._shared = False
                log.warning("pasted facts kept in memory only: %s cannot be written (%s)", self.path, exc)
        with self._lock:
            self._memory[key] = (now, text)
            self._memory.move_to_end(key)
            while len(self._memory) > self._capacity:
                self._memory.popitem(last=False)
        return key

    def get(self, key: str) -> str | None:
        found: tuple[float, str] | None
        with self._lock:
            found = self._memory.get(key)
        if found is None and self.path is not None:
            try:
                row = self._connection().execute("SELECT saved, text FROM facts WHERE key = ?", (key,)).fetchone()
            except (sqlite3.Error, OSError):
                row = None
            found = (float(row[0]), str(row[1])) if row else None
        if found is None or time.time() - found[0] > self._seconds:
            return None
        return found[1]

    def _connection(self) -> sqlite3.Connection:
        """One connection per thread (the page's handlers run on a thread pool)."""
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            assert self.path is not None
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(_SCHEMA)
            db.isolation_level = ""  # `with db:` is one transaction from here on
            self._local.db = db
        return db
