"""Writes with an audit trail: every insert, update and delete names its author and hashes.

The loader, the CLI and the write API all write through `Writer`, so the audit trail is
complete whichever door a change came through.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Sequence

from indexing.engines.base import Engine, Outcome, Record
from indexing.records.model import CaseDigest


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
        return self.engine.upsert(self._keeping_predictions(records), actor=self.actor)

    def _keeping_predictions(self, records: Sequence[Record]) -> Sequence[Record]:
        """Records, with the stored predicted charges kept where nothing else of a case changed.

        A case loaded without charges gets predicted charges after the load (and the forms of
        those charges). Loading the same case again must count it unchanged, not updated and
        predicted once more: the stored prediction is carried over when the case with it is
        exactly what is stored. A case whose content did change arrives without one and is
        predicted afresh.
        """
        bare = {r.id for r in records if isinstance(r, CaseDigest) and not r.charges and not r.predicted_charges}
        if not bare:
            return records
        stored = self.engine.get_many(sorted(bare))
        hashes = self.engine.content_hashes(sorted(stored))
        out: list[Record] = []
        for record in records:
            old = stored.get(record.id) if record.id in bare else None
            if isinstance(old, CaseDigest) and old.predicted_charges:
                kept = record.model_copy(update={"predicted_charges": old.predicted_charges, "crime_forms": old.crime_forms})
                if kept.content_hash() == hashes.get(record.id):
                    record = kept
            out.append(record)
        return out

    def delete(self, record_ids: Sequence[str]) -> int:
        """Delete by id; returns how many existed. Deletions of unknown ids are not audited."""
        return self.engine.delete(record_ids, actor=self.actor)
