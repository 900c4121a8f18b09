"""Writes with an audit trail: every insert, update and delete names its author and hashes.

The loader, the CLI and the write API all write through `Writer`, so the audit trail is
complete whichever door a change came through.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

from indexing.engines.base import Engine, Outcome, Record


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Writer:
    """Upserts and deletes records on an engine, recording each change under `actor`.

    The engine stores a change and its audit entry together, so an audit entry exists for
    every change that was stored and for no other.
    """

    def __init__(self, engine: Engine, actor: str) -> None:
        self.engine = engine
        self.actor = actor

    def upsert(self, records: Sequence[Record]) -> list[Outcome]:
        """Upsert by id (unchanged content is skipped; the last of a repeated id wins) and audit what changed."""
        return self.engine.upsert(records, actor=self.actor)

    def delete(self, record_ids: Sequence[str]) -> int:
        """Delete by id; returns how many existed. Deletions of unknown ids are not audited."""
        return self.engine.delete(record_ids, actor=self.actor)
