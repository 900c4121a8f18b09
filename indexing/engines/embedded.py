"""The embedded engine: SQLite holds the records, a tantivy index beside it ranks them.

Why two stores: SQLite (WAL) is the crash-safe home of the canonical records; tantivy answers
full-text queries with BM25 and block-max WAND pruning and counts facets in Rust, which keeps
p99 latency low at 100k documents where SQLite FTS5 ranks every match of a common word (see
the FTS5 peer in `bench/load_and_query.py`). The index is derived data: it can always be rebuilt from SQLite.

A write is one unit of work: records, audit rows and index units are all stored, or none.
It takes the index writer (the index lock) before touching SQLite, so a write that cannot
index writes nothing. It marks its ids `pending` in a transaction of their own, then keeps
one SQLite transaction (records, audit rows, clearing `pending`) open while tantivy commits,
and commits SQLite last. A failure before tantivy's commit undoes both. A crash (or a failed
SQLite commit) after it leaves tantivy ahead of SQLite for ids still pending; those are
indexed again from SQLite by the next write, by a periodic replay in the running process,
or on the next open, so index and records never disagree for long.

A full disk becomes `StorageFull` on writes, while reads need no writes and keep working.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import tantivy

from indexing.query import ranking
from indexing.engines.units import CHAR_FIELDS, WORD_FIELDS, IndexUnit
from indexing.core.cursor import new_secret
from indexing.engines.base import ApiKey, AuditEntry, EngineHealth, Outcome, Record
from indexing.engines.disk import is_disk_full, out_of_space, storage_full
from indexing.errors import BadRequest, CasedigestError, EngineUnavailable, InvalidCursor
from indexing.query.model import (
    And,
    AtLeast,
    Boosted,
    ChargeIs,
    DocFreqs,
    EngineHit,
    EngineQuery,
    EngineResult,
    FacetRequest,
    Filters,
    MatchAll,
    Node,
    Not,
    Or,
    Phrase,
    RecordLabels,
    Term,
    Words,
)
from indexing.records.model import record_from_json, record_to_json
from indexing.text.segmenter import Segmenter
from indexing.engines.unit_pool import UnitPool
from indexing.loading.writes import utc_now

log = logging.getLogger("casedigest")

# 4: one unit per record (no paragraph units); character tokens of astral Han and non-ASCII letters
INDEX_SCHEMA_VERSION = "4"
_Occur = tantivy.Occur

_FACET_FIELDS = {
    "crime_form": "crime_forms",
    "doc_type": "doc_type",
    "country": "country",
    "court": "court",
    "charge": "charges",
    "year": "year",
}

_SQL_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    id TEXT PRIMARY KEY,
    doc_type TEXT NOT NULL,
    json TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    source_name TEXT,
    updated_at TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_source ON records(source_name);
CREATE TABLE IF NOT EXISTS pending (id TEXT PRIMARY KEY);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (
    name TEXT PRIMARY KEY,
    role TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TABLE IF NOT EXISTS audit (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    key_name TEXT NOT NULL,
    action TEXT NOT NULL,
    record_id TEXT NOT NULL,
    hash_before TEXT,
    hash_after TEXT
);
CREATE INDEX IF NOT EXISTS audit_record ON audit(record_id);
"""
_SQL_TABLES = {"records", "pending", "meta", "api_keys", "audit"}
REPLAY_EVERY_SECONDS = 5.0
READ_ONLY_RETRY_SECONDS = 5.0  # how often a read-only connection (full disk) tries to write again


def _build_schema() -> tantivy.Schema:
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("unit_id", stored=True, tokenizer_name="raw")
    builder.add_text_field("record_id", stored=True, tokenizer_name="raw")
    for name in ("doc_type", "crime_forms", "country", "court", "charges"):
        builder.add_text_field(name, tokenizer_name="raw", fast=True)
    builder.add_integer_field("year", indexed=True, fast=True)
    builder.add_integer_field("sort_date", fast=True)
    for name in WORD_FIELDS:
        builder.add_text_field(f"{name}_w", tokenizer_name="whitespace", index_option="freq")
    for name in CHAR_FIELDS:
        builder.add_text_field(f"{name}_c", tokenizer_name="whitespace", index_option="position")
    return builder.build()


class EmbeddedEngine:
    """One SQLite file for records plus a tantivy index folder next to it (`<file>.index`)."""

    name = "embedded"

    def __init__(
        self,
        path: Path,
        segmenter: Segmenter,
        writer_heap_bytes: int = 128_000_000,
        workers: int | None = None,
        replay_every: float | None = REPLAY_EVERY_SECONDS,
    ) -> None:
        self.path = Path(path)
        self.index_path = self.path.with_name(self.path.name + ".index")
        self.segmenter = segmenter
        self.unit_pool = UnitPool(segmenter, workers)
        self._heap = writer_heap_bytes
        self._local = threading.local()
        self._wrote_at = 0.0  # when a thread last had a writable connection (see `_db`)
        self._write_lock = threading.Lock()
        self._writer: Any = None
        self._index_version: tuple[int, int, int] | None = None
        self.schema = _build_schema()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._opening_lock():
                self._create_schema()
                self._index = self._open_index()
        except (OSError, sqlite3.Error, ValueError) as exc:
            if out_of_space(exc, self.path.parent):
                raise storage_full(self.path) from None
            raise EngineUnavailable(f"embedded engine cannot open {self.path}: {exc}") from None
        self._try_replay()
        self._closing = threading.Event()
        self._replayer: threading.Thread | None = None
        if replay_every:
            # A record left pending (another process crashed, the disk was full, the index lock
            # was held) is indexed by this process once it can be, without waiting for a write.
            self._replayer = threading.Thread(
                target=self._replay_periodically, args=(replay_every,), name="casedigest-replay", daemon=True
            )
            self._replayer.start()

    # ---- storage plumbing -------------------------------------------------------------
    def _db(self) -> sqlite3.Connection:
        """This thread's connection; read-only and lock-free while the disk is full."""
        connection: sqlite3.Connection | None = getattr(self._local, "db", None)
        read_only_since = getattr(self._local, "read_only_since", None)
        if connection is not None and read_only_since is not None:
            # Retry the normal connection now and then, and at once after a write succeeded:
            # a read-only connection does not see what was written since it opened.
            if time.monotonic() - read_only_since >= READ_ONLY_RETRY_SECONDS or self._wrote_at > read_only_since:
                connection.close()  # try the normal connection again: space may have returned
                connection = self._local.db = None
        if connection is None:
            try:
                connection = self._connect()
                self._local.read_only_since = None
            except sqlite3.Error as exc:
                if not out_of_space(exc, self.path.parent) or not self.path.exists():
                    raise
                # A full disk cannot hold SQLite's shared-memory file, which a WAL database
                # needs even to be read. Read the file as it stands, without locks: nothing
                # can write to a full disk, and writes (or this, a little later) reconnect.
                log.info("no space left beside %s: reading it read-only until space returns", self.path)
                connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?immutable=1", uri=True,
                                             isolation_level=None)
                self._local.read_only_since = time.monotonic()
            self._local.db = connection
        return connection

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
        except BaseException:
            connection.close()
            raise
        return connection

    def _writable_db(self) -> sqlite3.Connection:
        """This thread's connection, able to write (a full disk is `StorageFull`)."""
        if getattr(self._local, "read_only_since", None) is not None:
            self._local.read_only_since = 0.0  # reconnect now
        db = self._db()
        if self._local.read_only_since is not None:
            raise storage_full(self.path)
        self._wrote_at = time.monotonic()
        return db

    def _create_schema(self) -> None:
        db = self._db()
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not _SQL_TABLES <= tables:  # an existing store is opened without writing (a full disk reads on)
            db.executescript(_SQL_SCHEMA)

    def _meta(self, key: str) -> str | None:
        row = self._db().execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    @contextmanager
    def _opening_lock(self) -> Iterator[None]:
        """One process at a time creates or rebuilds the store's index.

        Two loaders starting on a new store at once: without it, one saw the other's index
        folder before tantivy had written into it, and failed to open it (or removed it).
        """
        try:
            fd = os.open(self.path.with_name(self.path.name + ".open-lock"), os.O_RDWR | os.O_CREAT, 0o644)
        except OSError:  # a full or read-only disk: nothing can be created there anyway
            yield
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # and with it the lock

    def _open_index(self) -> tantivy.Index:
        version_ok = self._meta("index_schema") == INDEX_SCHEMA_VERSION
        if self.index_path.exists() and not version_ok:
            shutil.rmtree(self.index_path)
        fresh = not self.index_path.exists()
        self.index_path.mkdir(parents=True, exist_ok=True)
        index = tantivy.Index(self.schema, path=str(self.index_path), reuse=not fresh)
        if fresh:
            # A new or outdated index: every stored record must be indexed again.
            db = self._db()
            db.execute("BEGIN IMMEDIATE")
            db.execute("INSERT OR IGNORE INTO pending(id) SELECT id FROM records")
            db.execute(
                "INSERT OR REPLACE INTO meta(key, value) VALUES ('index_schema', ?)", (INDEX_SCHEMA_VERSION,)
            )
            db.execute("COMMIT")
        return index

    def _searcher(self) -> tantivy.Searcher:
        # Another process (a CLI load) may have committed: reload when the index moved on.
        # tantivy replaces meta.json on every commit, so its inode, size and time change.
        try:
            stat = (self.index_path / "meta.json").stat()
        except FileNotFoundError:
            raise EngineUnavailable(f"search index {self.index_path} has disappeared") from None
        version = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
        if version != self._index_version:
            self._index.reload()
            self._index_version = version
        return self._index.searcher()

    def _index_writer(self) -> Any:
        if self._writer is None:
            try:
                self._writer = self._index.writer(heap_size=self._heap, num_threads=1)
            except ValueError as exc:
                if is_disk_full(exc):
                    raise storage_full(self.index_path) from None
                raise EngineUnavailable(
                    "the index is being written by another process (a load?); nothing was written, "
                    "retry when it has finished", {"reason": "index_locked", "engine": self.name},
                ) from None
        return self._writer

    def _drop_writer(self) -> None:
        """Forget the index writer after a failed commit: undo what it buffered, free the lock."""
        if self._writer is not None:
            with suppress(ValueError):
                self._writer.rollback()
            self._writer = None

    @contextmanager
    def _storage_errors(self) -> Iterator[None]:
        """Storage failures as the service's errors: a full disk, a busy or broken database."""
        try:
            yield
        except CasedigestError:
            raise
        except (OSError, sqlite3.Error, ValueError) as exc:
            if out_of_space(exc, self.path.parent):
                raise storage_full(self.path) from None
            if isinstance(exc, sqlite3.Error) and not isinstance(exc, sqlite3.OperationalError):
                raise  # a constraint or a bug, not the store failing
            # tantivy reports its I/O failures as ValueError
            raise EngineUnavailable(f"the embedded store {self.path} failed: {exc}") from None

    # ---- writes ------------------------------------------------------------------------
    def upsert(self, records: Sequence[Record], actor: str | None = None) -> list[Outcome]:
        """Store and index records; unchanged ones (same content hash) are skipped.

        An id given twice is written once, as its last occurrence, and every occurrence
        reports that one outcome. With `actor`, each change is audited under that name in
        the same unit of work.
        """
        latest = {r.id: r for r in records}  # the last occurrence of an id wins
        with self._write_lock, self._storage_errors():
            self._prepare_write()
            before = self.content_hashes(list(latest))
            outcome: dict[str, Outcome] = {}
            changed: dict[str, tuple[Record, str]] = {}
            for record_id, record in latest.items():
                digest = record.content_hash()
                if before.get(record_id) == digest:
                    outcome[record_id] = "unchanged"
                    continue
                outcome[record_id] = "updated" if record_id in before else "inserted"
                changed[record_id] = (record, digest)
            if changed:
                now = utc_now()
                stored = [r for r, _ in changed.values()]
                rows = [
                    (r.id, r.doc_type, record_to_json(r), digest, r.source.name if r.source else None, now)
                    for r, digest in changed.values()
                ]
                audit = [
                    AuditEntry(now, actor, "insert" if outcome[i] == "inserted" else "update", i, before.get(i), d)
                    for i, (_, d) in changed.items()
                ] if actor is not None else []

                def store(db: sqlite3.Connection) -> None:
                    db.executemany(
                        "INSERT OR REPLACE INTO records(id, doc_type, json, content_hash, source_name, updated_at)"
                        " VALUES (?, ?, ?, ?, ?, ?)", rows,
                    )

                # Units are made while the index takes the ones before them: tantivy indexes in
                # its own thread, so segmentation and indexing overlap instead of taking turns.
                units = (u for record_units in self.unit_pool.units(stored) for u in record_units)
                self._commit(list(changed), store, units, audit)
            return [outcome[r.id] for r in records]

    def delete(self, record_ids: Sequence[str], actor: str | None = None) -> int:
        """Delete records by id; returns how many existed. With `actor`, each is audited."""
        ids = list(dict.fromkeys(record_ids))
        with self._write_lock, self._storage_errors():
            self._prepare_write()
            before = self.content_hashes(ids)
            if before:
                gone = list(before)
                now = utc_now()
                audit = [AuditEntry(now, actor, "delete", i, before[i], None) for i in gone] if actor is not None else []

                def store(db: sqlite3.Connection) -> None:
                    db.executemany("DELETE FROM records WHERE id=?", [(i,) for i in gone])

                self._commit(gone, store, [], audit)
            return len(before)

    def _prepare_write(self) -> None:
        """Take the index writer before anything is written, and finish what others left pending."""
        self._writable_db()
        self._index_writer()
        if self._has_pending():
            self._replay_locked()

    def _commit(
        self,
        ids: Sequence[str],
        store: Callable[[sqlite3.Connection], None],
        units: Iterable[IndexUnit],
        audit: Sequence[AuditEntry],
    ) -> None:
        """Replace the rows and index units of `ids` with their audit rows, all or nothing.

        `units` may be made as they are taken (segmentation failing part way undoes it all).
        """
        writer = self._index_writer()
        db = self._db()
        marks = [(i,) for i in ids]
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany("INSERT OR IGNORE INTO pending(id) VALUES (?)", marks)
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            raise
        index_committed = False
        try:
            db.execute("BEGIN IMMEDIATE")
            store(db)
            db.executemany(
                "INSERT INTO audit(time, key_name, action, record_id, hash_before, hash_after) VALUES (?, ?, ?, ?, ?, ?)",
                [(e.time, e.key_name, e.action, e.record_id, e.hash_before, e.hash_after) for e in audit],
            )
            db.executemany("DELETE FROM pending WHERE id=?", marks)
            for record_id in ids:
                writer.delete_documents_by_term("record_id", record_id)
            document = self._document
            for unit in units:
                writer.add_document(document(unit))
            writer.commit()
            index_committed = True
            self._index_version = None  # our own commit: reload before the next search
            db.execute("COMMIT")
        except BaseException:
            _rollback(db)
            if index_committed:
                # The index holds what SQLite refused: index these ids again from SQLite now if
                # possible; else they stay pending for the next write or replay.
                with suppress(CasedigestError, sqlite3.Error, ValueError, OSError):
                    self._replay_locked()
            else:
                self._drop_writer()
                with suppress(sqlite3.Error):  # the index is unchanged: nothing is pending
                    _transaction(db, lambda: db.executemany("DELETE FROM pending WHERE id=?", marks))
            raise

    def _reindex(self, records: Sequence[Record], ids: Sequence[str]) -> None:
        """Replace the index units of `ids` by those of `records`, commit, clear pending."""
        writer = self._index_writer()
        try:
            for record_id in ids:
                writer.delete_documents_by_term("record_id", record_id)
            for units in self.unit_pool.units(records):
                for unit in units:
                    writer.add_document(self._document(unit))
            writer.commit()
        except BaseException:
            self._drop_writer()
            raise
        self._index_version = None  # our own commit: reload before the next search
        db = self._db()
        _transaction(db, lambda: db.executemany("DELETE FROM pending WHERE id=?", [(i,) for i in ids]))

    def _has_pending(self) -> bool:
        return self._db().execute("SELECT 1 FROM pending LIMIT 1").fetchone() is not None

    def _replay_locked(self, batch: int = 2000) -> int:
        done = 0
        while True:
            ids = [r[0] for r in self._db().execute("SELECT id FROM pending LIMIT ?", (batch,))]
            if not ids:
                return done
            found = self.get_many(ids)
            self._reindex([found[i] for i in ids if i in found], ids)
            done += len(ids)

    def replay_pending(self, batch: int = 2000) -> int:
        """Index the records a crash, a full disk or a schema change left pending; returns how many."""
        with self._write_lock, self._storage_errors():
            if not self._has_pending():
                return 0
            self._writable_db()
            self._index_writer()
            done = self._replay_locked(batch)
            if self._writer is not None:
                self._writer.wait_merging_threads()
                self._writer = None
            return done

    def _try_replay(self) -> None:
        """Replay pending records if the index can be written now; else leave them for later."""
        try:
            done = self.replay_pending()
        except (CasedigestError, sqlite3.Error, ValueError, OSError) as exc:
            log.info("records waiting to be indexed stay pending for now: %s", exc)
            return
        if done:
            log.info("indexed %d records left pending", done)

    def _replay_periodically(self, every: float) -> None:
        try:
            while not self._closing.wait(every):
                self._try_replay()
        finally:
            connection = getattr(self._local, "db", None)
            if connection is not None:
                connection.close()

    def finish_writes(self) -> None:
        """Release the index writer (and its lock) after a batch of writes."""
        with self._write_lock:
            if self._writer is not None:
                self._writer.wait_merging_threads()
                self._writer = None

    @staticmethod
    def _document(unit: IndexUnit) -> tantivy.Document:
        doc = tantivy.Document()
        doc.add_text("unit_id", unit.unit_id)
        doc.add_text("record_id", unit.record_id)
        doc.add_text("doc_type", unit.doc_type)
        for code in unit.crime_forms:
            doc.add_text("crime_forms", code)
        if unit.country:
            doc.add_text("country", unit.country)
        if unit.court:
            doc.add_text("court", unit.court)
        for charge in unit.charges:
            doc.add_text("charges", charge)
        if unit.year is not None:
            doc.add_integer("year", unit.year)
        doc.add_integer("sort_date", unit.sort_date)
        for name, tokens in unit.words.items():
            doc.add_text(f"{name}_w", tokens)
        for name, tokens in unit.chars.items():
            doc.add_text(f"{name}_c", tokens)
        return doc

    # ---- reads -------------------------------------------------------------------------
    def get(self, record_id: str) -> Record | None:
        row = self._db().execute("SELECT json FROM records WHERE id=?", (record_id,)).fetchone()
        return record_from_json(row[0]) if row else None

    def get_many(self, record_ids: Sequence[str]) -> dict[str, Record]:
        return {record_id: record_from_json(text) for record_id, text in self._rows_of("id, json", record_ids)}

    def _rows_of(self, columns: str, record_ids: Sequence[str]) -> Iterator[tuple[Any, ...]]:
        """`columns` of the stored records with these ids (each id once), asked 500 ids at a time."""
        ids = list(dict.fromkeys(record_ids))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            yield from self._db().execute(f"SELECT {columns} FROM records WHERE id IN ({marks})", chunk)

    def iter_records(self, batch: int = 1000) -> Iterable[Record]:
        """Every stored record in id order (for export and rebuilds)."""
        last = ""
        while True:
            rows = self._db().execute(
                "SELECT id, json FROM records WHERE id > ? ORDER BY id LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            for _, text in rows:
                yield record_from_json(text)
            last = rows[-1][0]

    def search(self, query: EngineQuery) -> EngineResult:
        searcher = self._searcher()
        compiler = _Compiler(self.schema)
        match = compiler.node(query.match)
        if query.only_records:
            only = tantivy.Query.term_set_query(self.schema, "record_id", list(query.only_records))
            match = tantivy.Query.boolean_query(
                [(_Occur.Must, match), (_Occur.Must, tantivy.Query.const_score_query(only, 0.0))])
        scored = match
        if query.boosts:
            clauses = [(_Occur.Must, match)]
            clauses += [(_Occur.Should, tantivy.Query.boost_query(compiler.node(n), w)) for n, w in query.boosts]
            scored = tantivy.Query.boolean_query(clauses)
        exclusions = [("record_id", list(query.exclude_records))] if query.exclude_records else []
        main = compiler.filtered(scored, query.filters, exclusions)
        offset = _offset(query.after, searcher.num_docs) if query.after else query.offset
        count = query.count_total
        try:
            if query.sort == "date":
                result = searcher.search(main, query.size, count=count, order_by_field="sort_date", offset=offset)
            else:
                result = searcher.search(main, query.size, count=count, offset=offset)
        except ValueError as exc:
            raise EngineUnavailable(f"embedded search failed: {exc}") from None
        found = []
        for score, address in result.hits:
            doc = searcher.doc(address)
            found.append((doc["unit_id"][0], doc["record_id"][0], float(score)))
        labels = self._labels([record_id for _, record_id, _ in found]) if query.with_labels else {}
        # A record deleted since the index answered has no labels: it is left out, as it is
        # when its record is looked up.
        hits = [EngineHit(unit_id, record_id, score, labels=labels.get(record_id))
                for unit_id, record_id, score in found if not query.with_labels or record_id in labels]
        facets = self._facets(searcher, compiler, match, query, exclusions)
        total = result.count if count else offset + len(found)
        more = offset + len(found) < total if count else len(found) == query.size
        next_after = str(offset + len(found)) if more else None
        return EngineResult(total=total, hits=hits, facets=facets, next_after=next_after)

    def _labels(self, record_ids: Sequence[str]) -> dict[str, RecordLabels]:
        """The labels of stored records, read inside SQLite: no record is parsed or validated."""
        found: dict[str, RecordLabels] = {}
        columns = "id, doc_type, json_extract(json, '$.charges', '$.crime_forms', '$.legal_basis')"
        for record_id, doc_type, extracted in self._rows_of(columns, record_ids):
            charges, forms, basis = json.loads(extracted)
            found[record_id] = RecordLabels.from_stored(
                {"doc_type": doc_type, "charges": charges, "crime_forms": forms, "legal_basis": basis})
        return found

    def _facets(
        self,
        searcher: tantivy.Searcher,
        compiler: "_Compiler",
        match: tantivy.Query,
        query: EngineQuery,
        exclusions: list[tuple[str, list[str]]],
    ) -> dict[str, list[tuple[str, int]]]:
        """Facet counts over the filtered set, each facet ignoring its own filter.

        Facets whose filter is not active share one aggregation over the fully filtered set.
        """
        groups: dict[Filters, list[FacetRequest]] = {}
        active = set(query.filters.active())
        for facet in query.facets:
            filters = query.filters.without(facet.name) if facet.name in active else query.filters
            groups.setdefault(filters, []).append(facet)
        out: dict[str, list[tuple[str, int]]] = {}
        for filters, facets in groups.items():
            spec = {
                f.name: {"terms": {"field": _FACET_FIELDS[f.name], "size": f.size, "min_doc_count": 1}}
                for f in facets
            }
            result = searcher.aggregate(compiler.filtered(match, filters, exclusions), spec)
            for facet in facets:
                buckets = result.get(facet.name, {}).get("buckets", [])
                out[facet.name] = [(_bucket_key(b["key"]), int(b["doc_count"])) for b in buckets]
        return out

    def doc_freqs(self, words: Iterable[str], chars: Iterable[str] = ()) -> DocFreqs:
        searcher = self._searcher()
        return DocFreqs(
            total=searcher.num_docs,
            words={w: searcher.doc_freq("summary_w", w) for w in words},
            chars={c: searcher.doc_freq("summary_c", c) for c in chars},
        )

    def content_hashes(self, record_ids: Sequence[str]) -> dict[str, str]:
        return dict(self._rows_of("id, content_hash", record_ids))

    def source_record_ids(self, source_name: str) -> set[str]:
        rows = self._db().execute("SELECT id FROM records WHERE source_name = ?", (source_name,))
        return {r[0] for r in rows}

    def put_key(self, key: ApiKey) -> None:
        try:
            with self._storage_errors():
                self._writable_db().execute(
                    "INSERT INTO api_keys(name, role, key_hash, created_at, revoked_at) VALUES (?, ?, ?, ?, ?)",
                    (key.name, key.role, key.key_hash, key.created_at, key.revoked_at),
                )
        except sqlite3.IntegrityError:
            raise BadRequest(f"a key named {key.name!r} already exists", {"name": key.name}) from None

    def keys(self) -> list[ApiKey]:
        rows = self._db().execute("SELECT name, role, key_hash, created_at, revoked_at FROM api_keys ORDER BY created_at, name")
        return [ApiKey(*row) for row in rows]

    def key_by_hash(self, key_hash: str) -> ApiKey | None:
        row = self._db().execute(
            "SELECT name, role, key_hash, created_at, revoked_at FROM api_keys WHERE key_hash = ?", (key_hash,)
        ).fetchone()
        return ApiKey(*row) if row else None

    def revoke_key(self, name: str, when: str) -> bool:
        with self._storage_errors():
            cursor = self._writable_db().execute(
                "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (when, name)
            )
        return cursor.rowcount > 0

    def cursor_secret(self) -> str:
        secret = self._meta("cursor_secret")
        if secret is not None:  # read-only once made: serves from a full disk too
            return secret
        # INSERT OR IGNORE: of several processes opening one new store, the first one's secret wins.
        with self._storage_errors():
            self._writable_db().execute(
                "INSERT OR IGNORE INTO meta(key, value) VALUES ('cursor_secret', ?)", (new_secret(),)
            )
        secret = self._meta("cursor_secret")
        assert secret is not None
        return secret

    def append_audit(self, entries: Sequence[AuditEntry]) -> None:
        rows = [(e.time, e.key_name, e.action, e.record_id, e.hash_before, e.hash_after) for e in entries]
        with self._storage_errors():
            db = self._writable_db()
            _transaction(db, lambda: db.executemany(
                "INSERT INTO audit(time, key_name, action, record_id, hash_before, hash_after) VALUES (?, ?, ?, ?, ?, ?)",
                rows,
            ))

    def audit(self, limit: int = 100, record_id: str | None = None) -> list[AuditEntry]:
        sql = "SELECT time, key_name, action, record_id, hash_before, hash_after FROM audit"
        args: list[Any] = []
        if record_id is not None:
            sql += " WHERE record_id = ?"
            args.append(record_id)
        sql += " ORDER BY seq DESC LIMIT ?"
        args.append(limit)
        return [AuditEntry(*row) for row in self._db().execute(sql, args)]

    def count_records(self) -> dict[str, int]:
        rows = self._db().execute("SELECT doc_type, COUNT(*) FROM records GROUP BY doc_type").fetchall()
        return {doc_type: count for doc_type, count in rows}

    def health(self) -> EngineHealth:
        try:
            records = sum(self.count_records().values())
            units = self._searcher().num_docs
            pending = self._db().execute("SELECT COUNT(*) FROM pending").fetchone()[0]
        except (sqlite3.Error, ValueError, EngineUnavailable) as exc:
            return EngineHealth(self.name, False, f"{self.path}: {exc}")
        detail = f"{records} records, {units} index units in {self.path}"
        if pending:
            detail += f", {pending} waiting to be indexed"
        if getattr(self._local, "read_only_since", None) is not None:
            detail += ", read-only: no space left on its disk"
        return EngineHealth(self.name, True, detail, records)

    def close(self) -> None:
        self._closing.set()
        if self._replayer is not None:
            self._replayer.join()
        self.finish_writes()
        self.unit_pool.close()
        connection = getattr(self._local, "db", None)
        if connection is not None:
            connection.close()
            self._local.db = None


def _offset(after: str, size: int) -> int:
    """The offset a (signed) cursor holds, bounded by the index's size.

    tantivy allocates room for offset + page size hits before it searches, so an offset is
    never passed on beyond the number of documents, whatever produced it.
    """
    if not after.isascii() or not after.isdigit() or len(after) > 12:
        raise InvalidCursor("cursor is not one this service issued", {"cursor": after[:100]})
    return min(int(after), size)


def _rollback(db: sqlite3.Connection) -> None:
    # SQLite may already have rolled back on its own (e.g. after SQLITE_FULL).
    if db.in_transaction:
        db.execute("ROLLBACK")


def _transaction(db: sqlite3.Connection, work: Callable[[], object]) -> None:
    db.execute("BEGIN IMMEDIATE")
    try:
        work()
        db.execute("COMMIT")
    except BaseException:
        _rollback(db)
        raise


def _bucket_key(key: Any) -> str:
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


class _Compiler:
    """Compiles the engine-neutral tree into tantivy queries."""

    def __init__(self, schema: tantivy.Schema) -> None:
        self.schema = schema

    def node(self, node: Node) -> tantivy.Query:
        Q = tantivy.Query
        if isinstance(node, MatchAll):
            return Q.all_query()
        if isinstance(node, Term):
            return self._term(node)
        if isinstance(node, Phrase):
            return self._phrase(node)
        if isinstance(node, Words):
            return self._words(node)
        if isinstance(node, And):
            occurs = [(_Occur.MustNot if isinstance(c, Not) else _Occur.Must, self.node(_unwrap(c))) for c in node.clauses]
            if all(o == _Occur.MustNot for o, _ in occurs):
                occurs.append((_Occur.Must, Q.all_query()))
            return Q.boolean_query(occurs)
        if isinstance(node, Or):
            return Q.boolean_query([(_Occur.Should, self.node(c)) for c in node.clauses])
        if isinstance(node, Not):
            return Q.boolean_query([(_Occur.Must, Q.all_query()), (_Occur.MustNot, self.node(node.clause))])
        if isinstance(node, Boosted):
            return Q.boost_query(self.node(node.clause), node.weight)
        if isinstance(node, AtLeast):
            return Q.boolean_query([(_Occur.Should, self.node(c)) for c in node.clauses], node.minimum)
        if isinstance(node, ChargeIs):
            return Q.term_query(self.schema, "charges", node.charge)
        raise TypeError(f"unknown query node {node!r}")

    def _term(self, term: Term) -> tantivy.Query:
        Q = tantivy.Query
        fields = [term.scope] if term.scope else list(WORD_FIELDS)
        clauses = [
            (_Occur.Should, Q.boost_query(Q.term_query(self.schema, f"{f}_w", term.word), ranking.WORD_WEIGHTS[f]))
            for f in fields
        ]
        if term.fallback:
            clauses += self._char_fallback(term.word, term.scope)
        return Q.boolean_query(clauses)

    def _words(self, words: Words) -> tantivy.Query:
        every = tantivy.Query.boolean_query(
            [(_Occur.Must, self._term(Term(p, words.scope))) for p in words.parts]
        )
        if not words.fallback:
            return every
        return tantivy.Query.boolean_query([(_Occur.Should, every), *self._char_fallback(words.text, words.scope)])

    def _char_fallback(self, text: str, scope: str | None) -> list[tuple[Any, tantivy.Query]]:
        chars = Segmenter.chars(text)
        fields = [f for f in ([scope] if scope else CHAR_FIELDS) if f in CHAR_FIELDS]
        return [
            (_Occur.Should, tantivy.Query.boost_query(self._char_run(f, chars), ranking.CHAR_FALLBACK_WEIGHT))
            for f in fields
        ]

    def _char_run(self, field: str, chars: Sequence[str]) -> tantivy.Query:
        """Consecutive character tokens in a `_c` field (tantivy wants 2+ terms in a phrase)."""
        if len(chars) == 1:
            return tantivy.Query.term_query(self.schema, f"{field}_c", chars[0])
        return tantivy.Query.phrase_query(self.schema, f"{field}_c", list(chars))

    def _phrase(self, phrase: Phrase) -> tantivy.Query:
        Q = tantivy.Query
        fields = [phrase.scope] if phrase.scope in CHAR_FIELDS else list(CHAR_FIELDS)
        clauses = []
        for f in fields:
            weight = ranking.WORD_WEIGHTS[f]
            clauses.append((_Occur.Should, Q.boost_query(self._char_run(f, phrase.chars), weight)))
        return Q.boolean_query(clauses)

    def filtered(
        self, query: tantivy.Query, filters: Filters, exclusions: list[tuple[str, list[str]]]
    ) -> tantivy.Query:
        Q = tantivy.Query
        clauses = [(_Occur.Must, query)]
        for name in ("crime_form", "doc_type", "country", "court", "charge"):
            values = getattr(filters, name)
            if values:
                field = _FACET_FIELDS[name]
                clauses.append((_Occur.Must, Q.const_score_query(Q.term_set_query(self.schema, field, list(values)), 0.0)))
        if filters.year_from is not None or filters.year_to is not None:
            years = Q.range_query(self.schema, "year", tantivy.FieldType.Integer, filters.year_from, filters.year_to)
            clauses.append((_Occur.Must, Q.const_score_query(years, 0.0)))
        for field, values in exclusions:
            clauses.append((_Occur.MustNot, Q.term_set_query(self.schema, field, values)))
        return clauses[0][1] if len(clauses) == 1 else Q.boolean_query(clauses)


def _unwrap(node: Node) -> Node:
    return node.clause if isinstance(node, Not) else node
