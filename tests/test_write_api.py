"""The write API over both real engines: keys and roles, single writes, bulk NDJSON, audit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from conftest import ENGINES, SAMPLE, discard, engine_settings
from indexing.engines.base import Engine
from indexing.records.enrich import with_inferred_forms
from indexing.loading.loader import read_records
from indexing.loading.readers import Rejection
from indexing.records.model import parse_record
from service.app import create_app
from service.auth import create_key, read_dependencies, revoke_key
from service.settings import Settings


class Api:
    """A client on one engine with a key of each kind."""

    def __init__(self, client: TestClient, engine: Engine) -> None:
        self.client = client
        self.engine = engine
        self.librarian = create_key(engine, "lib-1", "librarian")
        self.admin = create_key(engine, "admin-1", "admin")
        self.revoked = create_key(engine, "gone-1", "librarian")
        revoke_key(engine, "gone-1")

    @staticmethod
    def bearer(secret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {secret}"}

    def post(self, record: Any, secret: str | None = None) -> Response:
        return self.client.post("/v1/cases", json=record, headers=self.bearer(secret or self.librarian))

    def put(self, record_id: str, record: Any) -> Response:
        return self.client.put(f"/v1/cases/{record_id}", json=record, headers=self.bearer(self.librarian))

    def search_ids(self, q: str) -> set[str]:
        return {hit["id"] for hit in self.client.get("/v1/search", params={"q": q}).json()["hits"]}


@pytest.fixture(scope="module", params=ENGINES)
def api(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    settings = engine_settings(request.param, request, tmp_path_factory.mktemp("writes"), load_fixtures=False)
    app = create_app(settings)
    with TestClient(app) as client:
        engine = app.state.casedigest.search.engine
        yield Api(client, engine)
        discard(engine)


def assert_error_shape(response: Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "detail"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert body["error"]["code"] == code
    return body["error"]  # type: ignore[no-any-return]


def record(id: str, summary: str, **fields: Any) -> dict[str, Any]:
    return {"id": id, "title": f"{id} 测试案", "summary": summary, "country": "CN", **fields}


# ---- keys and roles ------------------------------------------------------------------------------
def test_writes_without_a_valid_key_are_401(api: Api) -> None:
    body = record("w-auth-1", "不应写入的记录。")
    missing = api.client.post("/v1/cases", json=body)
    assert_error_shape(missing, 401, "unauthorized")
    assert missing.headers["www-authenticate"].startswith("Bearer")
    wrong = api.client.post("/v1/cases", json=body, headers=Api.bearer("cdk_" + "x" * 43))
    assert_error_shape(wrong, 401, "unauthorized")
    assert wrong.headers["www-authenticate"].startswith("Bearer")
    assert_error_shape(api.client.post("/v1/cases", json=body, headers={"X-API-Key": "nonsense"}), 401, "unauthorized")
    assert_error_shape(api.client.post("/v1/cases", json=body, headers={"Authorization": f"Basic {api.librarian}"}),
                       401, "unauthorized")
    revoked = assert_error_shape(api.post(body, api.revoked), 401, "unauthorized")
    assert "revoked" in revoked["message"]
    for method, url in [("put", "/v1/cases/w-auth-1"), ("delete", "/v1/cases/w-auth-1"),
                        ("post", "/v1/cases/bulk"), ("get", "/v1/audit")]:
        assert_error_shape(api.client.request(method, url), 401, "unauthorized")
    assert api.client.get("/v1/cases/w-auth-1").status_code == 404


def test_audit_needs_an_admin_key(api: Api) -> None:
    error = assert_error_shape(api.client.get("/v1/audit", headers=Api.bearer(api.librarian)), 403, "forbidden")
    assert error["detail"]["role"] == "librarian"
    assert api.client.get("/v1/audit", headers=Api.bearer(api.admin)).status_code == 200


def test_an_admin_key_may_write_and_x_api_key_works(api: Api) -> None:
    response = api.client.post("/v1/cases", json=record("w-admin-1", "管理员写入的记录。"), headers={"X-API-Key": api.admin})
    assert response.status_code == 201 and response.json() == {"id": "w-admin-1", "outcome": "inserted"}


# ---- single writes -------------------------------------------------------------------------------
def test_post_then_get_and_search(api: Api) -> None:
    body = record("w-post-1", "被告人甲某在码头走私象牙制品，数量巨大。", charges=["走私珍贵动物制品"])
    created = api.post(body)
    assert created.status_code == 201 and created.json() == {"id": "w-post-1", "outcome": "inserted"}
    stored = api.client.get("/v1/cases/w-post-1").json()
    assert stored["summary"] == body["summary"] and stored["charges"] == ["走私珍贵动物制品"]
    assert "w-post-1" in api.search_ids("象牙")
    again = api.post(body)
    assert again.status_code == 200 and again.json()["outcome"] == "unchanged"


def test_put_updates_and_old_words_stop_matching(api: Api) -> None:
    assert api.put("w-put-1", record("w-put-1", "被告人乙某非法捕捞珊瑚。")).status_code == 201
    assert "w-put-1" in api.search_ids("珊瑚")
    new = {"title": "w-put-1 测试案", "summary": "被告人乙某非法收购穿山甲。", "country": "CN"}  # id from the path
    updated = api.put("w-put-1", new)
    assert updated.status_code == 200 and updated.json() == {"id": "w-put-1", "outcome": "updated"}
    assert "w-put-1" not in api.search_ids("珊瑚")
    assert "w-put-1" in api.search_ids("穿山甲")
    same = api.put("w-put-1", new)
    assert same.status_code == 200 and same.json()["outcome"] == "unchanged"


def test_put_with_another_id_in_the_body_is_400(api: Api) -> None:
    error = assert_error_shape(api.put("w-put-2", record("w-other", "摘要。")), 400, "bad_request")
    assert error["detail"]["field"] == "id"
    assert api.client.get("/v1/cases/w-put-2").status_code == 404


@pytest.mark.parametrize(
    "body, field",
    [
        ({"id": "w-bad-1", "title": "缺摘要"}, "summary"),
        ({"id": "w/bad", "title": "t", "summary": "s"}, "id"),
        ({"id": "w-bad-2", "title": "t", "summary": "s", "crime_forms": ["no-such-form"]}, "crime_forms.0.code"),
        ({"id": "w-bad-3", "title": "t", "summary": "s", "colour": "red"}, "colour"),
        (["not", "an", "object"], "(record)"),
    ],
)
def test_invalid_records_are_400_naming_the_field(api: Api, body: Any, field: str) -> None:
    error = assert_error_shape(api.post(body), 400, "bad_request")
    assert error["detail"]["field"] == field and error["detail"]["reason"]


def test_a_body_that_is_not_json_is_400(api: Api) -> None:
    response = api.client.post("/v1/cases", content=b"{nope", headers={**Api.bearer(api.librarian),
                                                                        "Content-Type": "application/json"})
    assert assert_error_shape(response, 400, "bad_request")["detail"]["field"] == "(body)"


def test_delete_then_404(api: Api) -> None:
    api.post(record("w-del-1", "被告人丙某盗伐林木。"))
    deleted = api.client.delete("/v1/cases/w-del-1", headers=Api.bearer(api.librarian))
    assert deleted.status_code == 200 and deleted.json() == {"id": "w-del-1", "deleted": True}
    assert_error_shape(api.client.get("/v1/cases/w-del-1"), 404, "not_found")
    assert "w-del-1" not in api.search_ids("盗伐")
    again = api.client.delete("/v1/cases/w-del-1", headers=Api.bearer(api.librarian))
    assert assert_error_shape(again, 404, "not_found")["detail"] == {"id": "w-del-1"}


# ---- bulk NDJSON ---------------------------------------------------------------------------------
def bulk_body() -> bytes:
    lines = [
        json.dumps(SAMPLE[0], ensure_ascii=False).encode(),                          # 1 superseded by 6
        json.dumps(SAMPLE[1], ensure_ascii=False).encode(),                          # 2 superseded by 7
        b"{not json",                                                                # 3 bad JSON
        json.dumps({"id": "w-bulk-bad", "title": "缺摘要"}, ensure_ascii=False).encode(),  # 4 no summary
        b"",                                                                         # 5 blank: skipped
        json.dumps({**SAMPLE[0], "summary": SAMPLE[0]["summary"] + "二审维持原判。"},
                   ensure_ascii=False).encode(),                                     # 6 same id: inserted
        json.dumps(SAMPLE[1], ensure_ascii=False).encode(),                          # 7 same id, same: inserted
        "{\"id\": \"w-latin1\", \"title\": \"caf\xe9\"}".encode("latin-1"),           # 8 not UTF-8
        b'["an", "array"]',                                                          # 9 not an object
        json.dumps(SAMPLE[2], ensure_ascii=False).encode(),                          # 10 inserted, no newline
    ]
    return b"\n".join(lines)


def post_bulk(api: Api, body: bytes, content_type: str = "application/x-ndjson") -> Response:
    return api.client.post("/v1/cases/bulk", content=body,
                           headers={**Api.bearer(api.librarian), "Content-Type": content_type})


def test_bulk_reports_every_line_and_loads_the_good_ones(api: Api, tmp_path: Path) -> None:
    body = bulk_body()
    response = post_bulk(api, body)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/x-ndjson")
    *results, summary = [json.loads(line) for line in response.text.splitlines()]
    assert [(r["line"], r["id"], r["status"]) for r in results] == [
        (1, "t-drugs-1", "superseded"),
        (2, "t-drugs-2", "superseded"),
        (3, None, "rejected"),
        (4, "w-bulk-bad", "rejected"),
        (6, "t-drugs-1", "inserted"),
        (7, "t-drugs-2", "inserted"),
        (8, None, "rejected"),
        (9, None, "rejected"),
        (10, "t-organs-1", "inserted"),
    ]
    assert summary == {"summary": {
        "read": 9, "inserted": 3, "updated": 0, "unchanged": 0, "rejected": 4, "duplicate_ids": 2}}
    assert results[0]["reason"] == "line 6 has the same id and is kept"
    assert all(set(r) == {"line", "id", "status", "field", "reason"} for r in results)
    assert (results[3]["field"], results[3]["reason"]) == ("summary", "is required")
    assert (results[2]["field"], results[7]["field"]) == ("(line)", "(line)")
    # The same field and reason as the file loader gives for the same lines.
    path = tmp_path / "same.jsonl"
    path.write_bytes(body)
    loader = {n: (item.field, item.reason) for n, item in read_records(path) if isinstance(item, Rejection)}
    assert {r["line"]: (r["field"], r["reason"]) for r in results if r["status"] == "rejected"} == loader
    # The good records are stored and searchable, the later version of t-drugs-1 winning.
    assert "二审维持原判" in api.client.get("/v1/cases/t-drugs-1").json()["summary"]
    assert {"t-drugs-1", "t-drugs-2"} <= api.search_ids("毒品")
    assert "t-organs-1" in api.search_ids("器官")
    assert api.client.get("/v1/cases/w-bulk-bad").status_code == 404
    # Sent again, every record is unchanged: the last line of an id is the only one written.
    again = json.loads(post_bulk(api, body).text.splitlines()[-1])["summary"]
    assert again == {"read": 9, "inserted": 0, "updated": 0, "unchanged": 3, "rejected": 4, "duplicate_ids": 2}


def test_bulk_writes_in_batches(api: Api) -> None:
    lines = [json.dumps(record(f"w-many-{i}", f"第{i}号批量记录，走私香烟。")) for i in range(1203)]
    results = [json.loads(line) for line in post_bulk(api, "\n".join(lines).encode() + b"\n").text.splitlines()]
    assert results[-1]["summary"]["inserted"] == 1203 and len(results) == 1204
    assert [r["line"] for r in results[:-1]] == list(range(1, 1204))
    assert api.client.get("/v1/cases/w-many-1202").status_code == 200


def test_bulk_needs_ndjson(api: Api) -> None:
    response = post_bulk(api, b'{"id": "w-ct-1", "title": "t", "summary": "s"}', "application/json")
    assert_error_shape(response, 415, "unsupported_media_type")
    assert api.client.get("/v1/cases/w-ct-1").status_code == 404


# ---- audit ---------------------------------------------------------------------------------------
def stored_hash(data: dict[str, Any]) -> str:
    return with_inferred_forms(parse_record(data)).content_hash()


def test_audit_records_who_what_and_hashes(api: Api) -> None:
    first = record("w-audit-1", "被告人丁某走私成品油。")
    second = record("w-audit-1", "被告人丁某走私成品油及冻品。")
    api.post(first)
    api.put("w-audit-1", second)
    api.put("w-audit-1", second)  # unchanged: not audited
    api.client.delete("/v1/cases/w-audit-1", headers=Api.bearer(api.librarian))
    response = api.client.get("/v1/audit", params={"record_id": "w-audit-1"}, headers=Api.bearer(api.admin))
    entries = response.json()["entries"]
    h1, h2 = stored_hash(first), stored_hash(second)
    assert [(e["key_name"], e["action"], e["record_id"], e["hash_before"], e["hash_after"]) for e in entries] == [
        ("lib-1", "delete", "w-audit-1", h2, None),
        ("lib-1", "update", "w-audit-1", h1, h2),
        ("lib-1", "insert", "w-audit-1", None, h1),
    ]
    assert entries[0]["time"] >= entries[2]["time"]
    newest = api.client.get("/v1/audit", params={"limit": 1}, headers=Api.bearer(api.admin)).json()["entries"]
    assert len(newest) == 1
    bad = api.client.get("/v1/audit", params={"limit": 0}, headers=Api.bearer(api.admin))
    assert_error_shape(bad, 400, "invalid_parameter")


# ---- reads behind a key --------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ENGINES)
def test_read_dependencies_require_a_key_when_configured(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    assert read_dependencies(Settings(reads_require_key=False)) == []
    settings = engine_settings(kind, request, tmp_path, load_fixtures=False, reads_require_key=True)
    app = create_app(settings)
    with TestClient(app) as client:
        engine = app.state.casedigest.search.engine
        try:
            secret = create_key(engine, "reader-1", "librarian")
            missing = client.get("/v1/search", params={"q": "走私"})
            assert_error_shape(missing, 401, "unauthorized")
            assert missing.headers["www-authenticate"].startswith("Bearer")
            ok = client.get("/v1/search", params={"q": "走私"}, headers={"X-API-Key": secret})
            assert ok.status_code == 200 and ok.json()["total"] == 0
        finally:
            discard(engine)
