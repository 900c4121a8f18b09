"""The engine protocol: what the search core needs from a search engine, nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Protocol, Sequence

from indexing.query.model import DocFreqs, EngineQuery, EngineResult
from indexing.records.model import CaseDigest, Resolution

Record = CaseDigest | Resolution
Outcome = Literal["inserted", "updated", "unchanged"]


Role = Literal["librarian", "admin"]


@dataclass(frozen=True)
class ApiKey:
    """A write key as stored: only the SHA-256 of the secret is kept."""

    name: str
    role: Role
    key_hash: str
    created_at: str
    revoked_at: str | None = None


@dataclass(frozen=True)
class AuditEntry:
    """One write: who (key name), when, what, and the content hash before and after."""

    time: str
    key_name: str
    action: Literal["insert", "update", "delete"]
    record_id: str
    hash_before: str | None
    hash_after: str | None


@dataclass(frozen=True)
class EngineHealth:
    engine: str
    ready: bool
    detail: str
    records: int | None = None


class Engine(Protocol):
    """Stores records and answers engine queries. Implementations: embedded, elasticsearch."""

    name: str

    def upsert(self, records: Sequence[Record], actor: str | None = None) -> list[Outcome]:
        """Insert or replace records by id; a record whose content hash is unchanged is skipped.

        An id given more than once is written once, as its last occurrence; each occurrence
        reports that write's outcome. With `actor`, every change is audited under that name
        along with the write.
        """
        ...

    def delete(self, record_ids: Sequence[str], actor: str | None = None) -> int:
        """Delete records by id; returns how many existed. With `actor`, each deletion is audited."""
        ...

    def get(self, record_id: str) -> Record | None: ...

    def get_many(self, record_ids: Sequence[str]) -> dict[str, Record]: ...

    def iter_records(self) -> Iterable[Record]:
        """Every stored record, in id order (export, rebuilds, training the charge model)."""
        ...

    def search(self, query: EngineQuery) -> EngineResult:
        """Match, filter, rank and page; facets as asked.

        With `with_records` each hit may carry its record; with `with_labels` each carries its
        record's `RecordLabels` (charges, crime forms, statute articles), read without the
        record's text, and a hit whose record is gone is left out. With `count_total` False
        the total is only at least the hits seen, and the page is the same.
        """
        ...

    def doc_freqs(self, words: Iterable[str], chars: Iterable[str] = ()) -> DocFreqs:
        """Number of index units and, per word and per character, how many hold it in their summary."""
        ...

    def count_records(self) -> dict[str, int]:
        """Number of records per doc_type."""
        ...

    def content_hashes(self, record_ids: Sequence[str]) -> dict[str, str]:
        """The stored content hash of each existing record."""
        ...

    def source_record_ids(self, source_name: str) -> set[str]:
        """Ids of the records whose `source.name` is `source_name` (for sync loads)."""
        ...

    # The service's own keys and audit trail, kept by the engine in use.
    def put_key(self, key: ApiKey) -> None: ...

    def keys(self) -> list[ApiKey]: ...

    def key_by_hash(self, key_hash: str) -> ApiKey | None: ...

    def revoke_key(self, name: str, when: str) -> bool: ...

    def append_audit(self, entries: Sequence[AuditEntry]) -> None: ...

    def cursor_secret(self) -> str:
        """This installation's secret for signing page cursors, created on first use and kept."""
        ...

    def audit(self, limit: int = 100, record_id: str | None = None) -> list[AuditEntry]:
        """The newest entries first."""
        ...

    def health(self) -> EngineHealth: ...

    def close(self) -> None: ...
