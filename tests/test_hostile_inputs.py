"""Hostile requests that once crashed or stalled the server (issue 12, items 1–6).

Each row is an input from the issue and the answer it must get. The table runs in-process
through httpx's ASGITransport on both engines, with `raise_app_exceptions` on, so an
exception that escapes the app (as Starlette's last-resort 500 handler lets it) fails the
row even when a 500 was sent. Items 5 and 6 (the connection after a 500, request lines of
hundreds of KB) are about the HTTP server, so they also run against a real
`casedigest serve` started by the test on a port of its own.
"""

from __future__ import annotations

import asyncio
import base64
import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from conftest import case, discard, engine_settings, sample_records, ENGINES
from indexing.core.cursor import CursorCodec, Position
from indexing.engines.elastic.engine import ElasticEngine
from indexing.engines.elastic.query import encode_after
from indexing.records.enrich import with_inferred_forms
from indexing.records.model import parse_record
from indexing.core.models import MAX_FILTER_VALUES
from service.app import create_app
from service.middleware import MAX_REQUEST_TARGET_BYTES
from service.state import AppState

SERVER_PORT = int(os.environ.get("CASEDIGEST_TEST_HTTP_PORT", "8112"))
ROOT = Path(__file__).resolve().parents[1]

# Records whose names hold the characters of item 2: each is what its query must find.
HOSTILE_RECORDS = [
    case("h-e-acute", "éé某诈骗案", "被告人éé某（外籍）以投资为名骗取他人财物。", country="FR", decision_date="2019"),
    case("h-astral", "𠮷𠮷某走私案", "被告人𠮷𠮷某走私普通货物，偷逃税款。", country="CN", decision_date="2018"),
    case("h-circumflex", "Âó某洗钱案", "被告人Âó某为贩毒集团转移资金。", country="PT", decision_date="2017"),
    case("h-digraph", "ǅǅ某偷越国境案", "被告人ǅǅ某组织他人偷越国境。", country="HR", decision_date="2016"),
]
ITEM2_QUERIES = {"éé": "h-e-acute", "𠮷𠮷": "h-astral", "Âó": "h-circumflex", "ǅǅ": "h-digraph"}


def hostile_records() -> list[Any]:
    return [*sample_records(), *(with_inferred_forms(parse_record(r)) for r in HOSTILE_RECORDS)]


@pytest.fixture(scope="module", params=ENGINES)
def app(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FastAPI]:
    """The app on each engine holding the sample corpus and the records of item 2."""
    settings = engine_settings(request.param, request, tmp_path_factory.mktemp("hostile"), load_fixtures=False)
    application = create_app(settings)
    state = AppState.start(settings)  # what the lifespan does; ASGITransport runs no lifespan
    assert state.search is not None
    state.search.engine.upsert(hostile_records())
    application.state.casedigest = state
    application.state.engine_name = request.param
    yield application
    discard(state.search.engine)


def get(app: FastAPI, path: str, params: Any = None) -> httpx.Response:
    """One GET through the ASGI app; an exception escaping the app fails the caller."""

    async def go() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=True)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.get(path, params=params)

    # On a thread of its own: a test run that already has an event loop (Playwright's) cannot asyncio.run here.
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, go()).result()


def error_of(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text[:500]
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "detail"}, body
    assert body["error"]["code"] == code, body
    return body["error"]  # type: ignore[no-any-return]


# ---- item 1: forged cursors ---------------------------------------------------------------------
def _payload(cursor: str) -> dict[str, Any]:
    body = cursor.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))  # type: ignore[no-any-return]


def _b64json(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


Forger = Callable[[dict[str, Any], str], str]  # (a real cursor's payload, its signature) → cursor


def _unsigned(after: str) -> Forger:
    """The cursor format of the issue: base64 JSON a client can write itself."""
    return lambda payload, tag: _b64json({**payload, "a": after})


def _tampered(after: str) -> Forger:
    """A real cursor's payload with another offset, its signature kept."""
    return lambda payload, tag: _b64json({**payload, "a": after}) + "." + tag


FORGED_CURSORS: dict[str, Forger] = {
    "offset 10^11 (the 1.6 TB allocation)": _unsigned("100000000000"),
    "offset 10^9": _unsigned("1000000000"),
    "offset abc": _unsigned("abc"),
    "offset 1e3": _unsigned("1e3"),
    "offset -5": _unsigned("-5"),
    "offset 10^20": _unsigned(str(10**20)),
    "signed cursor, offset changed": _tampered("100000000000"),
    "signed cursor, other search": lambda payload, tag: _b64json({**payload, "f": "0" * 16}) + "." + tag,
    "garbage": lambda payload, tag: "garbage",
    "not base64": lambda payload, tag: "é€😀." + tag,
    "signature only": lambda payload, tag: "." + tag,
    "10 KB of cursor": lambda payload, tag: "A" * 10_000,
}


@pytest.mark.parametrize("name", list(FORGED_CURSORS))
def test_forged_cursor_is_400_invalid_cursor(app: FastAPI, name: str) -> None:
    first = get(app, "/v1/search", {"q": "被告人", "size": 2}).json()
    assert first["next_cursor"], first
    cursor = FORGED_CURSORS[name](_payload(first["next_cursor"]), first["next_cursor"].split(".")[1])
    error_of(get(app, "/v1/search", {"q": "被告人", "size": 2, "cursor": cursor}), 400, "invalid_cursor")
    # the service is still there, and the real cursor still works
    assert get(app, "/v1/search", {"q": "被告人", "size": 2, "cursor": first["next_cursor"]}).status_code == 200


def test_cursor_signed_with_the_installation_secret_pages_on(app: FastAPI) -> None:
    """A real cursor still works, and one process's cursor is valid in another (shared secret)."""
    first = get(app, "/v1/search", {"q": "被告人", "size": 2}).json()
    second = get(app, "/v1/search", {"q": "被告人", "size": 2, "cursor": first["next_cursor"]}).json()
    assert second["page"] is None and {h["id"] for h in second["hits"]}.isdisjoint(h["id"] for h in first["hits"])
    engine = app.state.casedigest.search.engine
    assert engine.cursor_secret() == engine.cursor_secret()  # kept, not made anew per call
    other_worker = CursorCodec(engine.cursor_secret())
    fingerprint = _payload(first["next_cursor"])["f"]
    assert other_worker.decode(first["next_cursor"], fingerprint).after == _payload(first["next_cursor"])["a"]


def test_signed_but_out_of_range_position_is_bounded(app: FastAPI) -> None:
    """Even a validly signed cursor (a leaked secret) cannot make the engine allocate or fail."""
    first = get(app, "/v1/search", {"q": "被告人", "size": 2}).json()
    real = _payload(first["next_cursor"])
    codec: CursorCodec = app.state.casedigest.search.cursors()
    if app.state.engine_name == "embedded":
        huge = codec.encode(Position("100000000000", "all"), real["f"])
        page = get(app, "/v1/search", {"q": "被告人", "size": 2, "cursor": huge})
        assert page.status_code == 200 and page.json()["hits"] == [], page.text[:300]
        for after in ("abc", "1e3", "-5", str(10**20)):
            bad = codec.encode(Position(after, "all"), real["f"])
            error_of(get(app, "/v1/search", {"q": "被告人", "size": 2, "cursor": bad}), 400, "invalid_cursor")
    else:
        # A point in time the node does not know: the client's cursor, not an outage (was 503).
        bogus = encode_after({"sa": [1.0, "t-drugs-1"], "pit": base64.b64encode(b"not a pit").decode(), "n": 2})
        cursor = codec.encode(Position(bogus, "all"), real["f"])
        error = error_of(get(app, "/v1/search", {"q": "被告人", "size": 2, "cursor": cursor}), 400, "invalid_cursor")
        assert "repeat the search" in error["message"]


# ---- item 2: short non-Han, accented and astral queries -------------------------------------------
@pytest.mark.parametrize("q", list(ITEM2_QUERIES))
@pytest.mark.parametrize("front_door", ["/v1/search", "/", "/v1/search?format=csv"])
def test_accented_and_astral_text_is_searchable(app: FastAPI, q: str, front_door: str) -> None:
    expected = ITEM2_QUERIES[q]
    response = get(app, front_door, {"q": q})
    assert response.status_code == 200, response.text[:500]
    if front_door == "/v1/search":
        ids = [h["id"] for h in response.json()["hits"]]
        assert ids and ids[0] == expected, ids
        others = set(ITEM2_QUERIES.values()) - {expected}
        assert others.isdisjoint(ids), ids
    else:
        assert expected in response.text


@pytest.mark.parametrize("q", ["__", "_é_", "é", "𠮷", "Ǆ", "ß", "İ", "ΣΑΣ", "é OR 𠮷"])
def test_other_letter_only_queries_answer(app: FastAPI, q: str) -> None:
    for front_door in ("/v1/search", "/", "/v1/search?format=jsonl"):
        assert get(app, front_door, {"q": q}).status_code == 200, (front_door, q)


# ---- item 3: deep nesting -------------------------------------------------------------------------
@pytest.mark.parametrize("q", [
    "(" * 245 + "毒品" + ")" * 245,
    "(" * 243 + "毒品" + ")" * 243,
    "NOT " * 120 + "毒品",
    "(" * 33 + "毒品" + ")" * 33,
])
def test_deep_nesting_is_a_query_syntax_error(app: FastAPI, q: str) -> None:
    error_of(get(app, "/v1/search", {"q": q}), 400, "query_syntax")
    page = get(app, "/", {"q": q})
    assert page.status_code == 400 and "查询语法有误" in page.text
    error_of(get(app, "/v1/search", {"q": q, "format": "csv"}), 400, "query_syntax")


def test_nesting_within_the_limit_still_works(app: FastAPI) -> None:
    body = get(app, "/v1/search", {"q": "(" * 32 + "冰毒" + ")" * 32}).json()
    assert [h["id"] for h in body["hits"]] == ["t-drugs-1"]


# ---- item 4: many values of one filter ----------------------------------------------------------------
@pytest.mark.parametrize("count", [MAX_FILTER_VALUES + 1, 1000, 2000])
@pytest.mark.parametrize("front_door", ["/v1/search", "/", "/v1/search?format=csv"])
def test_too_many_filter_values_is_a_clear_400(app: FastAPI, count: int, front_door: str) -> None:
    params = [("charge", f"罪{i}") for i in range(count)]
    response = get(app, front_door, params)
    assert response.status_code == 400, response.text[:300]
    if front_door == "/":
        assert "请求参数有误" in response.text and len(response.content) < 20_000
    else:
        error = error_of(response, 400, "invalid_parameter")
        assert "charge" in error["message"] and error["detail"]["limit"] == MAX_FILTER_VALUES


def test_search_page_grows_linearly_with_filter_values(app: FastAPI) -> None:
    """Each selected value adds the same to the page, however many there are (no link repeats them all)."""
    sizes = {}
    for count in (1, 10, MAX_FILTER_VALUES):  # (no value would list hits: a different page)
        params = [("charge", f"罪{i:03d}") for i in range(count)] + [("court", f"法院{i:03d}") for i in range(count)]
        page = get(app, "/", params)
        assert page.status_code == 200
        sizes[count] = len(page.content)
    first = (sizes[10] - sizes[1]) / (2 * 9)
    later = (sizes[MAX_FILTER_VALUES] - sizes[10]) / (2 * (MAX_FILTER_VALUES - 10))
    # with a removal link per chip that repeated every other value, `later` was ~5x `first`
    assert later < 1.3 * first, sizes


# ---- item 5: an unexpected error is a normal 500 (in-process) -----------------------------------------
@pytest.fixture(params=ENGINES)
def broken_record_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FastAPI]:
    """An app whose store holds one damaged record: reading it raises an unexpected error."""
    settings = engine_settings(request.param, request, tmp_path, load_fixtures=False)
    application = create_app(settings)
    state = AppState.start(settings)
    assert state.search is not None
    engine = state.search.engine
    engine.upsert(sample_records())
    damage_record(engine, "t-drugs-1")
    application.state.casedigest = state
    yield application
    discard(engine)


def damage_record(engine: Any, record_id: str) -> None:
    """Overwrite a stored record with JSON that is not a record (as a bad disk or hand edit would)."""
    if isinstance(engine, ElasticEngine):
        stored = engine.client.get(index=engine.alias, id=record_id)
        source = {**stored["_source"], "record": {"id": "broken"}}
        engine.client.index(index=stored["_index"], id=record_id, document=source, refresh=True)
    else:
        with sqlite3.connect(engine.path) as db:
            db.execute("UPDATE records SET json = ? WHERE id = ?", ('{"id": "broken"}', record_id))


def test_unexpected_error_is_a_500_in_the_error_shape_and_not_raised(broken_record_app: FastAPI) -> None:
    # raise_app_exceptions is on: before the fix the exception escaped after the 500 was sent
    error_of(get(broken_record_app, "/v1/cases/t-drugs-1"), 500, "internal_error")
    assert get(broken_record_app, "/v1/cases/t-drugs-2").status_code == 200


# ---- items 5 and 6 against a real server -------------------------------------------------------------
@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """`casedigest serve` on its own port (embedded engine, demo fixtures); stops itself within 10 min."""
    folder = tmp_path_factory.mktemp("server")
    data = folder / "db.sqlite3"
    env = {**os.environ, "CASEDIGEST_ENGINE": "embedded", "CASEDIGEST_DATA_PATH": str(data),
           "CASEDIGEST_PORT": str(SERVER_PORT), "CASEDIGEST_HOST": "127.0.0.1"}
    command = ["timeout", "600", str(Path(sys.executable).with_name("casedigest")), "serve"]
    log = (folder / "server.log").open("w")
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                with socket.create_connection(("127.0.0.1", SERVER_PORT), timeout=1):
                    pass
                connection = http.client.HTTPConnection("127.0.0.1", SERVER_PORT, timeout=30)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("casedigest serve did not start:\n" + (folder / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield data
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def test_connection_stays_usable_after_a_500(server: Path) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", SERVER_PORT, timeout=30)
    connection.request("GET", "/v1/search?size=1&sort=date")
    answer = connection.getresponse()
    victim = json.loads(answer.read())["hits"][0]["id"]
    with sqlite3.connect(server) as db:
        db.execute("UPDATE records SET json = ? WHERE id = ?", ('{"id": "broken"}', victim))
    sock = connection.sock
    connection.request("GET", f"/v1/cases/{victim}")
    failed = connection.getresponse()
    body = json.loads(failed.read())
    assert failed.status == 500 and body["error"]["code"] == "internal_error"
    assert (failed.getheader("connection") or "").lower() != "close"
    # the next, innocent request on the same connection is answered
    connection.request("GET", "/v1/search?" + urlencode({"q": "毒品"}))
    ok = connection.getresponse()
    ok.read()
    assert ok.status == 200 and connection.sock is sock


@pytest.mark.parametrize("kilobytes", [100, 300, 900])
def test_long_request_line_gets_414_in_the_error_shape(server: Path, kilobytes: int) -> None:
    target = "/v1/search?q=" + "a" * (kilobytes * 1024)
    with socket.create_connection(("127.0.0.1", SERVER_PORT), timeout=30) as sock:
        sock.sendall(f"GET {target} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        answer = _read_response(sock)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 414"), head[:200]
        error = json.loads(body)["error"]
        assert error["code"] == "uri_too_long" and error["detail"]["limit"] == MAX_REQUEST_TARGET_BYTES
        # and the connection still serves the next request
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
        assert _read_response(sock).startswith(b"HTTP/1.1 200")


def _read_response(sock: socket.socket) -> bytes:
    """One HTTP/1.1 response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {data[:200]!r}"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length"))
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed mid-body"
        body += chunk
    return head + b"\r\n\r\n" + body[:length]
