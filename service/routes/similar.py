"""POST /v1/similar (类案检索) and POST /v1/search (a search whose query is too long for a URL)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from indexing.errors import BadRequest, CasedigestError
from indexing.core.models import SearchRequest, SearchResult
from indexing.similar.models import SimilarRequest, SimilarResult
from service.state import Search

router = APIRouter(prefix="/v1", tags=["similar"])

# 20,000 characters of Chinese are about 60 KB of UTF-8; the rest is room for the filters.
MAX_BODY_BYTES = 256 * 1024

Model = TypeVar("Model", bound=BaseModel)


class BodyTooLarge(CasedigestError):
    code = "payload_too_large"
    status = 413


async def read_body(request: Request, model: type[Model]) -> Model:
    """The JSON body as `model`, refusing a body over MAX_BODY_BYTES before reading it all."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise BodyTooLarge(f"the request body may not exceed {MAX_BODY_BYTES} bytes", {"limit": MAX_BODY_BYTES})
    try:
        data: Any = json.loads(bytes(body).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadRequest(f"(body): not a JSON object ({exc})", {"field": "(body)"}) from None
    if not isinstance(data, dict):
        raise BadRequest("(body): not a JSON object", {"field": "(body)"})
    try:
        # strict: JSON has types of its own, so `"explain": 0` or `"size": "10"` is a mistake to
        # report, not a value to coerce (query strings are text and are converted as usual)
        return model.model_validate(data, strict=True)
    except ValidationError as exc:
        # the one handler words it like any other invalid parameter
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None


def json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI description of a JSON body read by `read_body` (the route reads it itself)."""
    schema = model.model_json_schema()
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


@router.post("/similar", response_model=SimilarResult, openapi_extra=json_body(SimilarRequest),
             summary="类案检索：粘贴案件事实（最多 20,000 字），返回相似案例、相似理由及预测罪名")
async def similar(request: Request, service: Search) -> SimilarResult:
    wanted = await read_body(request, SimilarRequest)
    return await run_in_threadpool(service.similar, wanted)


@router.post("/search", response_model=SearchResult, openapi_extra=json_body(SearchRequest), summary="以 JSON 请求体检索（参数同 GET /v1/search，仅 JSON 结果）")
async def search_post(request: Request, service: Search) -> SearchResult:
    wanted = await read_body(request, SearchRequest)
    return await run_in_threadpool(service.search, wanted)
