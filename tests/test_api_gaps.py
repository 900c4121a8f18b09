"""The smaller API gaps: 405 with Allow, an OpenAPI description that says what the service
really answers, HTML error pages for pages, a /readyz that keeps paths to itself when reads
need a key, and signing in to the pages with a key kept in a cookie."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import ENGINES, discard, engine_settings
from service.app import create_app
from service.auth import create_key, revoke_key
from service.settings import Settings
from test_api import assert_error_shape

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app on the embedded engine with its demo records; for what does not depend on the engine."""
    app = create_app(Settings(data_path=tmp_path_factory.mktemp("gaps") / "db.sqlite3"))

    @app.get("/v1/boom", include_in_schema=False)
    @app.get("/boom", include_in_schema=False)
    def boom() -> None:  # an unexpected failure, to see how a 500 is answered
        raise RuntimeError("Traceback-looking secret /srv/data")

    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


# ---- 405 ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "method, path, allow",
    [
        ("DELETE", "/v1/search", "GET, POST"),
        # Three routers serve this path; Allow names every method of all of them.
        ("PATCH", "/v1/cases/t-1", "DELETE, GET, PUT"),
        ("GET", "/v1/cases", "POST"),
        ("POST", "/readyz", "GET"),
        ("POST", "/crime-forms", "GET, HEAD"),
        ("PUT", "/signin", "GET, POST"),
    ],
)
def test_405_names_the_allowed_methods(client: TestClient, method: str, path: str, allow: str) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allow
    for allowed in allow.split(", "):
        if allowed != "HEAD":
            assert client.request(allowed, path).status_code != 405, allowed


def test_405_of_the_api_has_the_error_shape(client: TestClient) -> None:
    assert_error_shape(client.delete("/v1/search", headers=HTML), 405, "method_not_allowed")


# ---- OpenAPI -----------------------------------------------------------------------------------
def operations(schema: dict) -> Iterator[tuple[str, str, dict]]:
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            yield method.upper(), path, operation


def test_openapi_declares_no_422_and_every_error_in_the_one_shape(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    for method, path, operation in operations(schema):
        codes = set(operation["responses"])
        assert "422" not in codes, (method, path)
        assert "405" in codes, (method, path)
        for code, response in operation["responses"].items():
            if int(code) >= 400:
                assert response["content"] == {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    error = schema["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["required"] == ["code", "message", "detail"]


@pytest.mark.parametrize(
    "method, path, statuses",
    [
        ("GET", "/v1/search", {"200", "400", "405", "414", "503"}),
        ("GET", "/v1/crime-forms", {"200", "405", "414", "503"}),
        ("GET", "/v1/cases/{record_id}", {"200", "400", "404", "405", "414", "503"}),
        ("POST", "/v1/cases", {"200", "201", "400", "401", "403", "405", "413", "414", "503", "507"}),
        ("PUT", "/v1/cases/{record_id}", {"200", "201", "400", "401", "403", "404", "405", "413", "414", "503", "507"}),
        ("DELETE", "/v1/cases/{record_id}", {"200", "400", "401", "403", "404", "405", "414", "503", "507"}),
        ("POST", "/v1/cases/bulk", {"200", "400", "401", "403", "405", "414", "415", "503", "507"}),
        ("GET", "/v1/audit", {"200", "400", "401", "403", "405", "414", "503"}),
        ("GET", "/healthz", {"200", "405", "414"}),
        ("GET", "/readyz", {"200", "405", "414", "503"}),
    ],
)
def test_openapi_declares_the_statuses_each_operation_gives(
    client: TestClient, method: str, path: str, statuses: set[str]
) -> None:
    operation = client.get("/openapi.json").json()["paths"][path][method.lower()]
    assert set(operation["responses"]) == statuses


def test_openapi_declares_exports_bulk_answers_and_the_record_body(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    search = paths["/v1/search"]["get"]["responses"]["200"]["content"]
    assert {"application/json", "text/csv", "application/x-ndjson"} <= set(search)
    for fmt, media_type in (("csv", "text/csv"), ("jsonl", "application/x-ndjson")):
        sent = client.get("/v1/search", params={"format": fmt}).headers["content-type"]
        assert sent.split(";")[0] == media_type
    assert set(paths["/v1/cases/bulk"]["post"]["responses"]["200"]["content"]) == {"application/x-ndjson"}
    body = paths["/v1/cases"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Record"}


def test_reads_declare_401_only_when_they_need_a_key(tmp_path: Path) -> None:
    keyed = create_app(Settings(data_path=tmp_path / "db.sqlite3", reads_require_key=True)).openapi()
    assert "401" in keyed["paths"]["/v1/search"]["get"]["responses"]
    assert "401" not in keyed["paths"]["/readyz"]["get"]["responses"]


# ---- HTML error pages --------------------------------------------------------------------------
def assert_error_page(response, status: int) -> str:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert "Traceback" not in response.text and "/srv/data" not in response.text
    assert '<h1 id="error-title">' in response.text
    return response.text


def test_pages_get_html_error_pages(client: TestClient) -> None:
    assert "找不到" in assert_error_page(client.get("/no-such-page", headers=HTML), 404)
    assert "服务出现了问题" in assert_error_page(client.get("/boom", headers=HTML), 500)
    assert_error_page(client.get("/cases/no-such-case"), 404)  # a page route, whatever it accepts
    assert_error_page(client.get("/?page=0"), 400)
    assert "GET, HEAD" == client.post("/crime-forms", headers=HTML).headers["allow"]
    assert_error_page(client.post("/crime-forms", headers=HTML), 405)


def test_the_api_and_probes_keep_json_errors(client: TestClient) -> None:
    assert_error_shape(client.get("/v1/nothing-here", headers=HTML), 404, "not_found")
    error = assert_error_shape(client.get("/v1/boom", headers=HTML), 500, "internal_error")
    assert "secret" not in error["message"]
    assert_error_shape(client.get("/no-such-page"), 404, "not_found")  # a client that did not ask for HTML
    assert_error_shape(client.post("/readyz", headers=HTML), 405, "method_not_allowed")
    assert_error_shape(client.get("/static/missing.css", headers=HTML), 404, "not_found")


# ---- /readyz and the sign-in, on each engine ---------------------------------------------------
@pytest.fixture(scope="module", params=ENGINES)
def keyed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app on each engine with reads requiring a key."""
    folder = tmp_path_factory.mktemp("keyed")
    settings = engine_settings(request.param, request, folder, reads_require_key=True, load_fixtures=False)
    app = create_app(settings)
    with TestClient(app) as test_client:
        test_client.folder = folder  # type: ignore[attr-defined]
        test_client.engine = app.state.casedigest.search.engine  # type: ignore[attr-defined]
        yield test_client
        discard(app.state.casedigest.search.engine)


def test_readyz_keeps_the_data_path_to_itself_when_reads_need_a_key(keyed: TestClient, tmp_path: Path) -> None:
    ready = keyed.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert str(keyed.folder) not in ready.text and "127.0.0.1" not in ready.text  # type: ignore[attr-defined]
    assert "detail" not in ready.json()
    # Open reads keep the full account, path included.
    with TestClient(create_app(Settings(data_path=tmp_path / "db.sqlite3", load_fixtures=False))) as open_reads:
        assert str(tmp_path) in open_reads.get("/readyz").json()["detail"]


def test_readyz_of_a_dead_engine_keeps_the_path_to_itself(tmp_path: Path) -> None:
    blocker = tmp_path / "blocker"
    blocker.write_text("not a folder")
    settings = Settings(data_path=blocker / "db.sqlite3", load_fixtures=False, reads_require_key=True)
    with TestClient(create_app(settings)) as dead:
        response = dead.get("/readyz")
        assert_error_shape(response, 503, "engine_unavailable")
        assert str(tmp_path) not in response.text


def signin_form(response) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    """The form's action and its hidden `next`."""
    action = re.search(r'<form method="post" action="([^"]+)">', response.text)
    target = re.search(r'name="next" value="([^"]*)"', response.text)
    assert action and target, response.text
    return action.group(1), target.group(1)


def test_a_page_that_needs_a_key_shows_the_signin_form(keyed: TestClient) -> None:
    keyed.cookies.clear()
    response = keyed.get("/crime-forms?x=1")
    assert response.status_code == 401 and response.headers["content-type"].startswith("text/html")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert "script-src 'self'" in response.headers["content-security-policy"]
    assert re.search(r"<script(?![^>]*\bsrc=)", response.text) is None  # no inline script
    assert signin_form(response) == ("/signin", "/crime-forms?x=1")
    assert "Authorization: Bearer" in response.text  # and how the API takes the key
    assert_error_shape(keyed.get("/v1/search"), 401, "unauthorized")  # the API stays JSON


def test_signing_in_keeps_the_key_for_reads_only(keyed: TestClient) -> None:
    keyed.cookies.clear()
    engine = keyed.engine  # type: ignore[attr-defined]
    secret = create_key(engine, "reader-page", "librarian")
    wrong = keyed.post("/signin", data={"key": "cdk_not-a-key", "next": "/crime-forms"}, follow_redirects=False)
    assert wrong.status_code == 401 and "密钥无效" in wrong.text and "set-cookie" not in wrong.headers

    signed = keyed.post("/signin", data={"key": secret, "next": "/crime-forms"}, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/crime-forms"
    cookie = signed.headers["set-cookie"]
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/" in cookie
    assert keyed.get("/crime-forms").status_code == 200
    assert keyed.get("/v1/search").status_code == 200
    # Writes never take the cookie: no other page can make a signed-in browser write.
    record = {"id": "t-cookie", "title": "测试", "summary": "测试摘要"}
    assert_error_shape(keyed.post("/v1/cases", json=record), 401, "unauthorized")

    out = keyed.post("/signout", follow_redirects=False)
    assert out.status_code == 303
    assert keyed.get("/crime-forms").status_code == 401


def test_a_revoked_key_in_the_cookie_asks_again(keyed: TestClient) -> None:
    keyed.cookies.clear()
    secret = create_key(keyed.engine, "reader-revoked", "librarian")  # type: ignore[attr-defined]
    assert keyed.post("/signin", data={"key": secret}, follow_redirects=False).status_code == 303
    assert keyed.get("/").status_code == 200
    revoke_key(keyed.engine, "reader-revoked")  # type: ignore[attr-defined]
    again = keyed.get("/")
    assert again.status_code == 401 and signin_form(again)[0] == "/signin"
    keyed.cookies.clear()


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:x"])
def test_signin_only_returns_to_this_site(keyed: TestClient, target: str) -> None:
    keyed.cookies.clear()
    secret = create_key(keyed.engine, f"reader-{abs(hash(target))}", "librarian")  # type: ignore[attr-defined]
    signed = keyed.post("/signin", data={"key": secret, "next": target}, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    keyed.cookies.clear()
