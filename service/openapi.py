"""The OpenAPI description as the service really answers, so a generated client works.

FastAPI declares a 422 for every operation with parameters, but the service turns validation
errors into 400s of the one error shape (`service/errors.py`). `describe_responses` replaces
that with the statuses each operation can give, read from what the route depends on:

- 400 — an operation with parameters or a request body;
- 401 — one that needs a key (writes always; reads when `reads_require_key` is on);
- 403 — one that needs a key of a given role;
- 404 — one whose path names a record;
- 405 — every operation: another method on the same path is refused, with an `Allow` header;
- 413 — one that reads a JSON record body (capped in size);
- 414 — every operation: a request target (path and query string) over the service's limit;
- 415 — one whose body is not JSON (the bulk load checks its Content-Type);
- 503 — one that asks the search engine, or reports on it (`/readyz`);
- 507 — one that writes (needs a librarian's or admin's key): no space left on the store's disk.

It also declares the exports `GET /v1/search?format=csv|jsonl` send (there is no Atom feed),
the NDJSON answer of the bulk load, and a JSON record body by the record models themselves.
"""

from __future__ import annotations

from typing import Any, Callable, Iterator

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pydantic import TypeAdapter

from indexing.loading.export import MEDIA_TYPES
from indexing.records.model import CaseDigest, Resolution
from service.errors import flat_routes
from service.auth import optional_reader, require_admin, require_key, require_librarian
from service.state import get_search, get_state, get_write_search

ERROR_SCHEMA: dict[str, Any] = {
    "title": "Error",
    "description": "The one error shape of every failure.",
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "detail"],
            "properties": {
                "code": {"type": "string", "description": "Machine-readable kind, e.g. query_syntax, not_found."},
                "message": {"type": "string", "description": "What went wrong, in English."},
                "detail": {"type": "object", "description": "Field, reason, suggestion… depending on the code."},
            },
        }
    },
}
ERROR_REF = {"$ref": "#/components/schemas/Error"}

DESCRIPTIONS = {
    400: "请求有误：参数、查询语法、翻页位置或记录内容不合规定",
    401: "缺少 API 密钥，或密钥无效、已撤销",
    403: "密钥的角色不允许此操作",
    404: "没有这条记录或这个路径",
    405: "此路径不支持所用方法；Allow 头列出支持的方法",
    413: "请求体超过一条记录的上限",
    414: "请求地址（路径与查询参数）超过长度上限",
    415: "请求体的 Content-Type 不受支持",
    503: "检索引擎暂时不可用",
    507: "存储空间已满，本次写入未执行",
}
ALLOW_HEADER = {"Allow": {"description": "此路径支持的方法", "schema": {"type": "string"}}}
AUTH_HEADER = {"WWW-Authenticate": {"description": "应使用的认证方式", "schema": {"type": "string"}}}

NDJSON = "application/x-ndjson"
RECORD_REF = {"$ref": "#/components/schemas/Record"}


def record_schemas() -> dict[str, Any]:
    """The schemas of a record body (a case digest, or a resolution with `doc_type`), by name."""
    schema = TypeAdapter(CaseDigest | Resolution).json_schema(ref_template="#/components/schemas/{model}")
    definitions: dict[str, Any] = schema.pop("$defs")
    schema["description"] = "一条记录：案例摘要（doc_type 缺省为 case）或决议（doc_type=resolution）"
    return {**definitions, "Record": schema}


def describe_responses(app: FastAPI) -> None:
    """Make `app.openapi()` declare the responses the service really gives (built once, then cached)."""

    def build() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(
                title=app.title, version=app.version, description=app.description, routes=app.routes,
            )
            app.openapi_schema = with_real_responses(schema, list(api_routes(app)))
        return app.openapi_schema

    app.openapi = build  # type: ignore[method-assign]


def api_routes(app: FastAPI) -> Iterator[Any]:
    """The app's API routes, each with its path and dependencies as included (prefix, router dependencies)."""
    for route in flat_routes(app):
        if isinstance(getattr(route, "original_route", route), APIRoute):
            yield route


def with_real_responses(schema: dict[str, Any], routes: list[Any]) -> dict[str, Any]:
    """`schema` with each operation's error statuses and media types set from its route."""
    for route in routes:
        if not route.include_in_schema:
            continue
        for method in route.methods:
            operation = schema["paths"].get(route.path_format, {}).get(method.lower())
            if operation is not None:
                describe_operation(operation, route)
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        components.pop(unused, None)
    components["Error"] = ERROR_SCHEMA
    components.update(record_schemas())
    return schema


def describe_operation(operation: dict[str, Any], route: Any) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    for status in error_statuses(operation, route):
        response = responses.setdefault(str(status), {})
        response.setdefault("description", DESCRIPTIONS[status])
        response["content"] = {"application/json": {"schema": ERROR_REF}}
        if status == 405:
            response["headers"] = ALLOW_HEADER
        if status == 401:
            response["headers"] = AUTH_HEADER
    formats = [p for p in operation.get("parameters", []) if p["name"] == "format" and p["in"] == "query"]
    exports = [fmt for p in formats for fmt in p.get("schema", {}).get("enum", []) if fmt in MEDIA_TYPES]
    if exports:  # `format=csv|jsonl` streams the export instead of a JSON page
        responses["200"].setdefault("content", {}).update(
            {MEDIA_TYPES[fmt].split(";")[0]: {"schema": {"type": "string", "description": f"format={fmt}：全部匹配记录"}}
             for fmt in exports}
        )
    body = operation.get("requestBody", {}).get("content", {})
    if body.get("application/json", {}).get("schema") == {"type": "object"}:
        # a record write reads its body itself and declares it only as an object
        body["application/json"]["schema"] = RECORD_REF
    if NDJSON in body:
        # The bulk load answers one NDJSON line per record, then a summary line.
        responses["200"] = {
            "description": "逐行结果（line、id、status、field、reason），最后一行为汇总",
            "content": {NDJSON: {"schema": {"type": "string"}}},
        }


def error_statuses(operation: dict[str, Any], route: Any) -> list[int]:
    """The error statuses an operation can answer, from its parameters, body and dependencies."""
    calls = set(dependency_calls(route.dependant))
    body = operation.get("requestBody", {}).get("content", {})
    statuses = {405, 414}
    if operation.get("parameters") or body:
        statuses.add(400)
    if calls & {require_key, optional_reader, require_librarian}:
        statuses.add(401)
    if calls & {require_librarian, require_admin}:
        statuses.add(403)
    if require_librarian in calls:  # a write: the store's disk may be full
        statuses.add(507)
    if route.param_convertors:
        statuses.add(404)
    if "application/json" in body:
        statuses.add(413)
    if body and "application/json" not in body:
        statuses.add(415)
    if calls & {get_search, get_state, get_write_search}:  # the engine, or the probe that reports on it
        statuses.add(503)
    return sorted(statuses)


def dependency_calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    """Every callable a route depends on, however deeply."""
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from dependency_calls(dependency)
