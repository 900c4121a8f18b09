"""Export streams every matching record; loading an export into an empty store gives the same records."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import ENGINES, discard, engine_settings
from indexing.loading.export import export_chunks
from indexing.loading.loader import load_files
from indexing.core.models import SearchRequest
from indexing.core.search import SearchService
from indexing.text.segmenter import Segmenter
from indexing.loading.writes import Writer
from service.app import create_app
from service.state import open_engine

ROOT = Path(__file__).resolve().parents[1]


def all_records(service: SearchService) -> dict[str, dict]:
    return {r.id: r.model_dump(mode="json") for r in service.matching_records(SearchRequest())}


@pytest.fixture(scope="module", params=ENGINES)
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app on each engine with the demo fixtures loaded on first start."""
    settings = engine_settings(request.param, request, tmp_path_factory.mktemp("export"))
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
        discard(app.state.casedigest.search.engine)


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_of_fixtures_loads_back_identical(
    demo: TestClient, fmt: str, request: pytest.FixtureRequest, segmenter: Segmenter, tmp_path: Path
) -> None:
    response = demo.get("/v1/search", params={"format": fmt})
    assert response.status_code == 200
    assert response.headers["content-disposition"].endswith(f'.{fmt}"')
    exported = tmp_path / f"export.{fmt}"
    exported.write_bytes(response.content)
    original = all_records(demo.app.state.casedigest.search)  # type: ignore[attr-defined]
    assert len(original) == 78
    for kind in ENGINES:
        target = open_engine(engine_settings(kind, request, tmp_path / kind), segmenter)
        try:
            report = load_files([exported], Writer(target, "test"))
            assert report.rejected == 0 and report.inserted == 78, report.rejections[:3]
            assert all_records(SearchService(target, segmenter)) == original
        finally:
            discard(target)


def test_export_streams_all_matches_not_one_page(demo: TestClient) -> None:
    total = demo.get("/v1/search", params={"crime_form": "drugs", "size": 1}).json()["total"]
    lines = demo.get("/v1/search", params={"crime_form": "drugs", "format": "jsonl", "size": 1}).text.splitlines()
    assert len(lines) == total > 1
    assert all("drugs" in [t["code"] for t in json.loads(line)["crime_forms"]] for line in lines)
    # a resolution matched by a paragraph is exported once, whole
    resolutions = demo.get("/v1/search", params={"q": "网络犯罪", "doc_type": "resolution", "format": "jsonl"}).text
    ids = [json.loads(line)["id"] for line in resolutions.splitlines()]
    assert len(ids) == len(set(ids)) >= 1 and all(json.loads(l)["paragraphs"] for l in resolutions.splitlines())


def test_export_csv_opens_in_a_spreadsheet(demo: TestClient) -> None:
    text = demo.get("/v1/search", params={"format": "csv", "q": "冰毒"}).content.decode("utf-8")
    assert text.startswith("\ufeffid,doc_type,title,summary")
    import csv

    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows and all("冰毒" in "".join(r.values()) for r in rows)


def test_bad_export_request_is_a_400_before_streaming(demo: TestClient) -> None:
    response = demo.get("/v1/search", params={"format": "csv", "q": '"unclosed'})
    assert response.status_code == 400 and response.json()["error"]["code"] == "query_syntax"


@pytest.mark.real_data
@pytest.mark.slow
def test_real_cases_round_trip_across_engines(
    request: pytest.FixtureRequest, segmenter: Segmenter, tmp_path: Path
) -> None:
    from conftest import CAIL
    from indexing.loading.field_map import FieldMap

    stores = {kind: open_engine(engine_settings(kind, request, tmp_path / kind), segmenter) for kind in ENGINES}
    copies = {kind: open_engine(engine_settings(kind, request, tmp_path / f"copy-{kind}"), segmenter) for kind in ENGINES}
    try:
        for store in stores.values():
            load_files([CAIL], Writer(store, "test"), FieldMap.load(ROOT / "indexing/field_maps/cail2018.toml"))
        # CSV out of Elasticsearch into the embedded engine, JSON lines the other way round
        for source, target, fmt in (("elasticsearch", "embedded", "csv"), ("embedded", "elasticsearch", "jsonl")):
            service = SearchService(stores[source], segmenter)
            path = tmp_path / f"real.{fmt}"
            with path.open("w", encoding="utf-8", newline="") as out:
                for chunk in export_chunks(service.matching_records(SearchRequest()), fmt):  # type: ignore[arg-type]
                    out.write(chunk)
            report = load_files([path], Writer(copies[target], "test"))
            assert report.rejected == 0 and report.inserted == 4496
            assert all_records(SearchService(copies[target], segmenter)) == all_records(service)
    finally:
        for engine in [*stores.values(), *copies.values()]:
            discard(engine)
