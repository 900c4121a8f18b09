"""The HTTP API in-process (ASGI), on a real embedded engine in a temporary folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import ENGINES, RESOLUTION, SAMPLE, discard, engine_settings
from service.app import create_app
from service.settings import Settings

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.fixture(scope="module", params=ENGINES)
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app on each engine, with the sample corpus loaded as its first-start fixtures."""
    folder = tmp_path_factory.mktemp("api")
    fixtures = folder / "fixtures"
    fixtures.mkdir()
    (fixtures / "sample.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in [*SAMPLE, RESOLUTION]), "utf-8"
    )
    settings = engine_settings(
        request.param, request, folder, fixtures_path=fixtures, cors_origins=["https://portal.example"]
    )
    app = create_app(settings)
    with TestClient(app) as test_client:
        test_client.engine_name = request.param  # type: ignore[attr-defined]
        yield test_client
        discard(app.state.casedigest.search.engine)


def assert_error_shape(response, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "detail"}
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    if code:
        assert body["error"]["code"] == code
    return body["error"]


def test_search_returns_ranked_highlighted_hits(client: TestClient) -> None:
    body = client.get("/v1/search", params={"q": "冰毒"}).json()
    assert body["total"] == 1
    hit = body["hits"][0]
    assert hit["id"] == "t-drugs-1" and hit["court"] == "广东省深圳市中级人民法院"
    assert "<mark>冰毒</mark>" in hit["highlights"][0]
    assert hit["crime_forms"] == [{"code": "drugs", "label": "毒品犯罪", "source": "curated"}]
    assert hit["country_name"] == "中国"


def test_repeated_filters_and_facets(client: TestClient) -> None:
    body = client.get("/v1/search", params=[("crime_form", "drugs"), ("crime_form", "piracy"), ("doc_type", "case")]).json()
    assert {h["id"] for h in body["hits"]} == {"t-drugs-1", "t-drugs-2", "t-tw-1", "t-piracy-1"}
    chips = {b["value"]: (b["count"], b["selected"]) for b in body["facets"]["crime_form"]}
    assert chips["drugs"] == (3, True) and chips["piracy"] == (1, True) and chips["organs"][1] is False


def test_inferred_crime_forms_are_marked(client: TestClient) -> None:
    hit = client.get("/v1/search", params={"q": "人体器官", "doc_type": "case"}).json()["hits"][0]
    assert hit["crime_forms"] == [{"code": "organs", "label": "人体器官贩运", "source": "inferred"}]


def test_case_and_related_and_resolution(client: TestClient) -> None:
    record = client.get("/v1/cases/t-tw-1").json()
    assert record["country_name"] == "中国台湾" and record["language"] == "zh-Hant"
    related = client.get("/v1/cases/t-drugs-1/related", params={"size": 2}).json()
    assert related and all(r["id"] != "t-drugs-1" for r in related)
    resolution = client.get("/v1/resolutions/t-res-6-1").json()
    assert [p["anchor"] for p in resolution["paragraphs"]] == ["pp1", "p1", "p2"]
    assert_error_shape(client.get("/v1/resolutions/t-tw-1"), 404, "not_found")


def test_resolution_paragraph_hit(client: TestClient) -> None:
    hit = client.get("/v1/search", params={"q": "海盗行为"}).json()["hits"][0]
    assert hit["resolution"]["paragraph"]["number"] == 2
    assert hit["resolution"]["url"] == "/v1/resolutions/t-res-6-1#p2"


def test_crime_forms_endpoint(client: TestClient) -> None:
    body = client.get("/v1/crime-forms").json()
    forms = {f["code"]: f for f in body["crime_forms"]}
    assert body["version"] and len(forms) >= 15
    assert forms["drugs"]["count"] == 3 and forms["drugs"]["label"] == "毒品犯罪"
    assert forms["environment.pollution"]["parent"] == "environment"
    for code in ("cybercrime", "piracy", "cultural_property", "organs", "environment", "falsified_medicines",
                 "trafficking_in_persons", "migrant_smuggling", "firearms", "drugs", "money_laundering",
                 "corruption", "obstruction_of_justice", "organized_crime_group", "counterfeiting"):
        assert code in forms


def test_cursor_paging_over_http(client: TestClient) -> None:
    first = client.get("/v1/search", params={"size": 5}).json()
    second = client.get("/v1/search", params={"size": 5, "cursor": first["next_cursor"]}).json()
    assert first["total"] == second["total"] == 11
    assert not {h["id"] for h in first["hits"]} & {h["id"] for h in second["hits"]}


@pytest.mark.parametrize(
    "path, params, status, code",
    [
        ("/v1/search", {"q": '"走私'}, 400, "query_syntax"),
        ("/v1/search", {"q": "(走私"}, 400, "query_syntax"),
        ("/v1/search", {"size": "500"}, 400, "invalid_parameter"),
        ("/v1/search", {"size": "ten"}, 400, "invalid_parameter"),
        ("/v1/search", {"crime_form": "space-crime"}, 400, "bad_request"),
        ("/v1/search", {"year_from": "2020", "year_to": "2000"}, 400, "bad_request"),
        ("/v1/search", {"sort": "random"}, 400, "invalid_parameter"),
        ("/v1/search", {"cursor": "garbage"}, 400, "invalid_cursor"),
        ("/v1/cases/no-such-case", {}, 404, "not_found"),
        ("/v1/cases/no-such-case/related", {}, 404, "not_found"),
        ("/v1/nothing-here", {}, 404, "not_found"),
    ],
)
def test_every_error_has_one_shape(client: TestClient, path: str, params: dict, status: int, code: str) -> None:
    assert_error_shape(client.get(path, params=params), status, code)


def test_query_error_names_problem_and_suggests(client: TestClient) -> None:
    error = assert_error_shape(client.get("/v1/search", params={"q": '"走私 文物'}), 400, "query_syntax")
    assert "quotation" in error["message"] and error["detail"]["suggestion"] == '"走私 文物"'


def test_method_not_allowed_has_the_shape(client: TestClient) -> None:
    assert_error_shape(client.delete("/v1/search"), 405, "method_not_allowed")


def test_health_ready_docs_and_cors(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["engine"] == client.engine_name and ready["records"] == 11  # type: ignore[attr-defined]
    assert client.get("/docs").status_code == 200
    assert "/v1/search" in client.get("/openapi.json").json()["paths"]
    preflight = client.options(
        "/v1/search", headers={"Origin": "https://portal.example", "Access-Control-Request-Method": "GET"}
    )
    assert preflight.headers["access-control-allow-origin"] == "https://portal.example"
    other = client.get("/v1/search", headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in other.headers


def dead_settings(kind: str, tmp_path: Path) -> Settings:
    if kind == "embedded":
        # The data path is a file where a folder must be: the engine cannot open.
        blocker = tmp_path / "blocker"
        blocker.write_text("not a folder")
        return Settings(data_path=blocker / "db.sqlite3", load_fixtures=False)
    # Nothing listens on port 9 of the loopback address.
    return Settings(engine="elasticsearch", elasticsearch_url="http://127.0.0.1:9", elasticsearch_timeout=2,
                    load_fixtures=False)


@pytest.mark.parametrize("kind, names", [("embedded", "embedded"), ("elasticsearch", "Elasticsearch")])
def test_dead_engine_gives_503_not_a_trace(tmp_path: Path, kind: str, names: str) -> None:
    with TestClient(create_app(dead_settings(kind, tmp_path))) as dead:
        error = assert_error_shape(dead.get("/v1/search", params={"q": "毒品"}), 503, "engine_unavailable")
        assert names in error["message"] and "Traceback" not in error["message"]
        ready = assert_error_shape(dead.get("/readyz"), 503, "engine_unavailable")
        assert ready["detail"]["engine"] == kind and ready["detail"]["reason"]
        assert dead.get("/healthz").status_code == 200


def test_engine_that_comes_back_is_used(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    import service.state

    settings = dead_settings("elasticsearch", tmp_path)
    app = create_app(settings)
    with TestClient(app) as client:
        assert client.get("/readyz").status_code == 503
        live = engine_settings("elasticsearch", request, tmp_path, load_fixtures=False)
        app.state.casedigest.settings = live  # the cluster now answers at the configured address
        app.state.casedigest.last_attempt -= service.state.RETRY_ENGINE_SECONDS
        assert client.get("/readyz").status_code == 200
        assert client.get("/v1/search").json()["total"] == 0
        discard(app.state.casedigest.search.engine)


def test_fixtures_load_on_first_start(tmp_path: Path) -> None:
    settings = Settings(data_path=tmp_path / "db.sqlite3")
    with TestClient(create_app(settings)) as fresh:
        forms = {f["code"]: f["count"] for f in fresh.get("/v1/crime-forms").json()["crime_forms"]}
        assert all(count >= 3 for code, count in forms.items() if "." not in code), forms
        resolutions = FIXTURES.joinpath("resolutions.jsonl").read_text("utf-8").splitlines()
        # each resolution once, however many paragraphs it has
        assert fresh.get("/v1/search", params={"doc_type": "resolution"}).json()["total"] == len(resolutions) == 3
