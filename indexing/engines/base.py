"""The engine protocol: what the search core needs from a search engine, nothing more."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Protocol, Sequence

from indexing.query_model import EngineQuery, EngineResult
from indexing.records import CaseDigest, Resolution

Record = CaseDigest | Resolution
Outcome = Literal["inserted", "updated", "unchanged"]


@dataclass
class WriteResult:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    deleted: int = 0

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass(frozen=True)
class EngineHealth:
    engine: str
    ready: bool
    detail: str
    records: int | None = None


class Engine(Protocol):
    """Stores records and answers engine queries. Implementations: embedded, elasticsearch."""

    name: str

    def upsert(self, records: Sequence[Record]) -> list[Outcome]:
        """Insert or replace records by id; a record whose content hash is unchanged is skipped."""
        ...

    def delete(self, record_ids: Sequence[str]) -> int:
        """Delete records by id; returns how many existed."""
        ...

    def get(self, record_id: str) -> Record | None: ...

    def get_many(self, record_ids: Sequence[str]) -> dict[str, Record]: ...

    def search(self, query: EngineQuery) -> EngineResult: ...

    def doc_freqs(self, words: Iterable[str]) -> tuple[int, dict[str, int]]:
        """Number of index units and, per word, how many contain it in their summary."""
        ...

    def count_records(self) -> dict[str, int]:
        """Number of records per doc_type."""
        ...

    def health(self) -> EngineHealth: ...

    def close(self) -> None: ...
