"""Writes over HTTP: upsert, replace and delete one record, bulk NDJSON loads, the audit trail.

Every write needs a librarian (or admin) key and goes through `Writer`, which audits it under
the key's name. Incoming records are validated and enriched exactly as the file loader does
(`parse_record`, then `with_inferred_forms`), and a bad line of a bulk load is reported with
the loader's field and reason while the other lines still load.

Writes run on the write path (`service/write_path.py`): a thread of their own, never the thread
pool that serves reads, so the routes and their dependencies here are coroutines. Each batch
releases the index writer when done, so another server process can write the next one.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from typing import IO, Annotated, Any, AsyncIterator, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from indexing.engines.base import AuditEntry, Engine, Outcome, Record
from indexing.records.enrich import with_inferred_forms
from indexing.errors import BadRequest, CasedigestError, NotFound
from indexing.loading.loader import record_from_row
from indexing.loading.readers import Rejection, jsonl_line
from indexing.records.model import CaseDigest, RecordError, parse_record
from indexing.loading.writes import Writer
from service.auth import Admin, Librarian
from service.routes.records import RecordId
from indexing.core.search import SearchService
from service.charge_filling import ChargeFiller
from service.state import Filler, Search, Writes, WriteSearch
from service.write_path import finish_writes

router = APIRouter(prefix="/v1", tags=["writes"])

BULK_MEDIA_TYPES = ("application/x-ndjson", "application/jsonl")
BULK_SOURCE = "(request body)"
BATCH_RECORDS = 500
BATCH_BYTES = 8 * 1024 * 1024
# A record may carry 2M characters of full text (up to 6 MB of UTF-8); beyond this a line is
# rejected without being held in memory.
MAX_LINE_BYTES = 16 * 1024 * 1024
MAX_BODY_BYTES = MAX_LINE_BYTES
RESULT_BLOCK_BYTES = 64 * 1024

RECORD_BODY = {
    "requestBody": {
        "required": True,
        "description": "一条记录（JSON）：案例摘要或决议，字段同 JSONL 导入文件",
        "content": {"application/json": {"schema": {"type": "object"}}},
    }
}
BULK_BODY = {
    "requestBody": {
        "required": True,
        "description": "每行一条记录（NDJSON）；坏行逐行报告，其余照常写入",
        "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
    }
}


class PayloadTooLarge(CasedigestError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaType(CasedigestError):
    code = "unsupported_media_type"
    status = 415


class WriteResult(BaseModel):
    id: str
    outcome: Outcome


class DeleteResult(BaseModel):
    id: str
    deleted: Literal[True] = True


class AuditPage(BaseModel):
    entries: list[AuditEntry]


# ---- records from request bodies ---------------------------------------------------------------
def record_from(data: Any) -> Record:
    """Validate and enrich one record as the loader does; a bad one is a 400 naming the field."""
    try:
        return with_inferred_forms(parse_record(data))
    except RecordError as exc:
        raise BadRequest(f"{exc.field}: {exc.reason}", {"field": exc.field, "reason": exc.reason}) from None


async def json_body(request: Request) -> Any:
    """The request body parsed as JSON, refusing bodies larger than one record can be."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise PayloadTooLarge(f"a record may not exceed {MAX_BODY_BYTES} bytes", {"limit": MAX_BODY_BYTES})
    try:
        return json.loads(bytes(body).decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise BadRequest(f"(body): not UTF-8 text ({exc.reason} at byte {exc.start})",
                         {"field": "(body)", "reason": "not UTF-8 text"}) from None
    except json.JSONDecodeError as exc:
        reason = f"not valid JSON ({exc.msg}, column {exc.colno})"
        raise BadRequest(f"(body): {reason}", {"field": "(body)", "reason": reason}) from None


def _upsert_one(engine: Engine, actor: str, record: Record) -> Outcome:
    try:
        return Writer(engine, actor).upsert([record])[0]
    finally:
        finish_writes(engine)


def _delete_one(engine: Engine, actor: str, record_id: str) -> int:
    try:
        return Writer(engine, actor).delete([record_id])
    finally:
        finish_writes(engine)


async def _write(writes: Writes, filler: ChargeFiller, service: SearchService, actor: str, record: Record,
                 response: Response) -> WriteResult:
    outcome = await writes.write(_upsert_one, service.engine, actor, record)
    if isinstance(record, CaseDigest) and not record.charges and outcome != "unchanged":
        await filler.after_write(service, [record.id], actor)
    response.status_code = 201 if outcome == "inserted" else 200
    return WriteResult(id=record.id, outcome=outcome)


# ---- single records ----------------------------------------------------------------------------
@router.post(
    "/cases", response_model=WriteResult, status_code=201, openapi_extra=RECORD_BODY,
    summary="写入一条记录（新增或按编号更新）",
    responses={200: {"description": "已有此编号：updated 或 unchanged", "model": WriteResult}},
)
async def create_case(
    request: Request, key: Librarian, service: WriteSearch, writes: Writes, filler: Filler, response: Response
) -> WriteResult:
    record = record_from(await json_body(request))
    return await _write(writes, filler, service, key.name, record, response)


@router.put(
    "/cases/{record_id}", response_model=WriteResult, status_code=200, openapi_extra=RECORD_BODY,
    summary="按编号写入一条记录（整体替换）",
    responses={201: {"description": "新增", "model": WriteResult}},
)
async def put_case(
    record_id: RecordId, request: Request, key: Librarian, service: WriteSearch, writes: Writes, filler: Filler,
    response: Response,
) -> WriteResult:
    data = await json_body(request)
    if isinstance(data, dict):
        if "id" in data and data["id"] != record_id:
            reason = f"is {data['id']!r} but the path names {record_id!r}"
            raise BadRequest(f"id: {reason}", {"field": "id", "reason": reason})
        data = {**data, "id": record_id}
    return await _write(writes, filler, service, key.name, record_from(data), response)


@router.delete("/cases/{record_id}", response_model=DeleteResult, summary="删除一条记录")
async def delete_case(record_id: RecordId, key: Librarian, service: WriteSearch, writes: Writes) -> DeleteResult:
    if not await writes.write(_delete_one, service.engine, key.name, record_id):
        raise NotFound(f"no record with id {record_id!r}", {"id": record_id})
    return DeleteResult(id=record_id)


# ---- bulk NDJSON -------------------------------------------------------------------------------
def parse_line(number: int, raw: bytes) -> Record | Rejection:
    """One NDJSON line as a record, or the rejection the file loader gives the same line."""
    row = jsonl_line(BULK_SOURCE, number, raw)
    return row if isinstance(row, Rejection) else record_from_row(row)


async def body_lines(chunks: AsyncIterator[bytes], limit: int = MAX_LINE_BYTES) -> AsyncIterator[tuple[int, bytes | None]]:
    """(line number, line) for every line of a byte stream; `None` for a line over `limit` bytes."""
    buffer = bytearray()
    number = 0
    too_long = False
    async for chunk in chunks:
        start = 0
        while (end := chunk.find(b"\n", start)) >= 0:
            number += 1
            if too_long:
                yield number, None
            else:
                buffer += chunk[start:end]
                yield number, bytes(buffer)
            buffer.clear()
            too_long = False
            start = end + 1
        if not too_long:
            buffer += chunk[start:]
            if len(buffer) > limit:
                too_long = True
                buffer.clear()
    if too_long:
        yield number + 1, None
    elif buffer.strip():
        yield number + 1, bytes(buffer)


@dataclass
class BulkLoad:
    """Counts and per-line results of one bulk request; results spill to a temporary file."""

    writer: Writer
    results: IO[bytes] = field(default_factory=lambda: tempfile.SpooledTemporaryFile(max_size=1 << 20))
    # The loader's summary: duplicate ids are counted (the last line of an id wins).
    counts: dict[str, int] = field(
        default_factory=lambda: {"read": 0, "inserted": 0, "updated": 0, "unchanged": 0, "rejected": 0,
                                 "duplicate_ids": 0}
    )
    first_line: dict[str, int] = field(default_factory=dict)
    written_through: int = 0
    # cases written without charges: their charges are predicted after the load
    uncharged: set[str] = field(default_factory=set)

    def _emit(self, line: int, record_id: str | None, status: str, field: str | None = None,
              reason: str | None = None) -> None:
        result = {"line": line, "id": record_id, "status": status, "field": field, "reason": reason}
        self.results.write(json.dumps(result, ensure_ascii=False).encode("utf-8") + b"\n")
        if status in self.counts:  # a superseded line is counted among duplicate_ids
            self.counts[status] += 1

    def write_batch(self, lines: list[tuple[int, bytes | None]]) -> None:
        """Validate a batch of lines, write the valid records, record one result per line."""
        parsed: list[tuple[int, Record | Rejection]] = [
            (n, parse_line(n, raw) if raw is not None
             else Rejection(BULK_SOURCE, n, "(line)", f"longer than {MAX_LINE_BYTES} bytes"))
            for n, raw in lines
        ]
        # An id repeated in the batch is written once, as its last line; the earlier lines are
        # reported as superseded, so the counts are of records written, not of lines.
        last = {item.id: n for n, item in parsed if not isinstance(item, Rejection)}
        records = [item for n, item in parsed if not isinstance(item, Rejection) and last[item.id] == n]
        outcomes = iter(self.writer.upsert(records) if records else [])
        self.uncharged.update(r.id for r in records if isinstance(r, CaseDigest) and not r.charges)
        for number, item in parsed:
            self.counts["read"] += 1
            if isinstance(item, Rejection):
                self._emit(number, item.id, "rejected", item.field, item.reason)
                continue
            if item.id in self.first_line:
                self.counts["duplicate_ids"] += 1
            self.first_line[item.id] = number
            if last[item.id] != number:
                self._emit(number, item.id, "superseded", reason=f"line {last[item.id]} has the same id and is kept")
            else:
                self._emit(number, item.id, next(outcomes))
        self.written_through = lines[-1][0]

    def write_and_release(self, lines: list[tuple[int, bytes | None]]) -> None:
        """`write_batch`, then let the next batch be another server process's.

        The embedded engine's index writer holds the index's lock until released; releasing it
        per batch costs little (the next batch opens a new one). Elasticsearch has no such lock,
        and its `finish_writes` (refresh, merge) waits for the end of the request.
        """
        try:
            self.write_batch(lines)
        finally:
            if self.writer.engine.name == "embedded":
                finish_writes(self.writer.engine)

    async def stream(self) -> AsyncIterator[bytes]:
        """The per-line results, then the summary line; closes the spool at the end.

        A coroutine rather than a plain iterator, which Starlette would step through in the
        thread pool that serves reads. The spool is read in blocks on the event loop: it is in
        memory up to 1 MB and in the page cache beyond.
        """
        try:
            self.results.seek(0)
            while block := self.results.read(RESULT_BLOCK_BYTES):
                yield block
            yield json.dumps({"summary": self.counts}).encode("utf-8") + b"\n"
        finally:
            self.results.close()


@router.post("/cases/bulk", response_class=StreamingResponse, openapi_extra=BULK_BODY,
             summary="批量写入（NDJSON，每行一条；逐行返回结果并附汇总）")
async def bulk(
    request: Request, key: Librarian, service: WriteSearch, writes: Writes, filler: Filler
) -> StreamingResponse:
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in BULK_MEDIA_TYPES:
        raise UnsupportedMediaType(
            f"send the records as NDJSON with 'Content-Type: {BULK_MEDIA_TYPES[0]}'",
            {"content_type": media_type or None, "expected": list(BULK_MEDIA_TYPES)},
        )
    load = BulkLoad(Writer(service.engine, key.name))
    # The body is consumed (and written batch by batch) before the answer starts: HTTP/1.1
    # clients send the whole request before reading a response, and an ASGI server below
    # spec 2.4 would hand the remaining body to the response's disconnect listener.
    batch: list[tuple[int, bytes | None]] = []
    size = 0
    try:
        async for number, raw in body_lines(request.stream()):
            if raw is not None and not raw.strip():
                continue
            batch.append((number, raw))
            size += len(raw or b"")
            if len(batch) >= BATCH_RECORDS or size >= BATCH_BYTES:
                await writes.write(load.write_and_release, batch)
                batch, size = [], 0
        if batch:
            await writes.write(load.write_and_release, batch)
    except CasedigestError as exc:
        load.results.close()
        # Batches before the failing one are stored; say how far the load got.
        exc.detail = {**exc.detail, "written_through_line": load.written_through}
        raise
    finally:
        await writes.write(finish_writes, service.engine)
    if predicted := await filler.after_write(service, load.uncharged, key.name):
        load.counts["predicted_charges"] = predicted
    return StreamingResponse(load.stream(), media_type="application/x-ndjson")


# ---- the audit trail ---------------------------------------------------------------------------
@router.get("/audit", response_model=AuditPage, summary="写入审计记录（最新在前，仅管理员）")
def audit(
    key: Admin,
    service: Search,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    record_id: Annotated[str | None, Query(max_length=128, description="只看这一条记录")] = None,
) -> AuditPage:
    return AuditPage(entries=service.engine.audit(limit=limit, record_id=record_id))
