"""Writes with an audit trail: every insert, update and delete names its author and hashes.

The loader, the CLI and the write API all write through `Writer`, so the audit trail is
complete whichever door a change came through.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

from indexing.engines.base import AuditEntry, Engine, Outcome, Record


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Writer:
    """Upserts and deletes records on an engine, recording each change under `actor`."""

    def __init__(self, engine: Engine, actor: str) -> None:
        self.engine = engine
        self.actor = actor

    def upsert(self, records: Sequence[Record]) -> list[Outcome]:
        """Upsert by id (unchanged content is skipped) and audit what changed."""
        before = self.engine.content_hashes([r.id for r in records])
        outcomes = self.engine.upsert(records)
        now = utc_now()
        entries = []
        for record, outcome in zip(records, outcomes):
            if outcome == "unchanged":
                continue
            after = record.content_hash()
            entries.append(AuditEntry(now, self.actor, "insert" if outcome == "inserted" else "update",
                                      record.id, before.get(record.id), after))
            before[record.id] = after  # a second version of the same id in one batch
        self.engine.append_audit(entries)
        return outcomes

    def delete(self, record_ids: Sequence[str]) -> int:
        """Delete by id; returns how many existed. Deletions of unknown ids are not audited."""
        before = self.engine.content_hashes(record_ids)
        deleted = self.engine.delete(record_ids)
        now = utc_now()
        self.engine.append_audit([AuditEntry(now, self.actor, "delete", rid, h, None) for rid, h in before.items()])
        return deleted
