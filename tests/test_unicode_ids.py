"""A court's case number as the record id, on both engines: load, fetch, update, export, delete."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Iterator
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from conftest import ENGINES, discard, engine_settings
from service.app import create_app
from service.auth import create_key
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CASE_NUMBER = "（2019）京01刑初12号"
OTHER_NUMBER = "（2020）沪02刑终3号 之一"  # a space inside is printable too
CLI = [sys.executable, "-c", "from service.cli import main; main()"]


def numbered_case(record_id: str, summary: str) -> dict[str, object]:
    return {"id": record_id, "title": "张某走私文物案", "summary": summary, "country": "CN",
            "court": "北京市第一中级人民法院", "decision_date": "2019-06-01", "case_number": record_id}


def cli_env(settings: Settings) -> dict[str, str]:
    """The environment that points `casedigest` at the same store as `settings`."""
    if settings.engine == "embedded":
        return {**os.environ, "CASEDIGEST_DATA_PATH": str(settings.data_path), "PYTHONPATH": str(ROOT)}
    return {**os.environ, "PYTHONPATH": str(ROOT), "CASEDIGEST_ENGINE": "elasticsearch",
            "CASEDIGEST_ELASTICSEARCH_URL": settings.elasticsearch_url,
            "CASEDIGEST_ELASTICSEARCH_INDEX": settings.elasticsearch_index}


def cli(args: list[str], settings: Settings, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=cli_env(settings), capture_output=True, text=True, timeout=300, cwd=cwd)


@pytest.fixture(params=ENGINES)
def loaded(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[Settings, Path]]:
    """A store of each engine into which the CLI loaded two records numbered like court cases."""
    settings = engine_settings(request.param, request, tmp_path, load_fixtures=False)
    source = tmp_path / "numbered.jsonl"
    records = [numbered_case(CASE_NUMBER, "被告人张某将青铜器藏于货柜企图走私文物出境。"),
               numbered_case(OTHER_NUMBER, "被告人李某走私文物，二审维持原判。")]
    source.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), "utf-8")
    result = cli(["load", str(source), "--quiet"], settings, tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout.splitlines()[-1])["inserted"] == 2
    yield settings, tmp_path
    if settings.engine == "elasticsearch":
        app = create_app(settings)
        with TestClient(app):
            discard(app.state.casedigest.search.engine)


def test_a_case_number_id_is_fetched_updated_exported_and_deleted(loaded: tuple[Settings, Path]) -> None:
    settings, tmp_path = loaded
    path = "/v1/cases/" + quote(CASE_NUMBER, safe="")
    app = create_app(settings)
    with TestClient(app) as client:
        fetched = client.get(path)
        assert fetched.status_code == 200, fetched.text
        assert fetched.json()["id"] == CASE_NUMBER
        assert client.get("/v1/cases/" + quote(OTHER_NUMBER, safe="")).json()["id"] == OTHER_NUMBER

        # the page links the hit by its percent-encoded id, and that link opens the case page
        search_page = client.get("/", params={"q": "走私文物"}).text
        assert f'href="{path.removeprefix("/v1")}?' in search_page
        assert "张某走私文物案" in client.get(path.removeprefix("/v1")).text

        key = create_key(app.state.casedigest.search.engine, "lib-unicode", "librarian")
        changed = numbered_case(CASE_NUMBER, "被告人张某将青铜器藏于货柜企图走私文物出境，二审改判。")
        updated = client.put(path, json=changed, headers={"Authorization": f"Bearer {key}"})
        assert updated.status_code == 200, updated.text
        assert updated.json() == {"id": CASE_NUMBER, "outcome": "updated"}
        assert client.get(path).json()["summary"].endswith("二审改判。")

        exported = [json.loads(line) for line in client.get("/v1/search", params={"format": "jsonl"}).text.splitlines()]
        assert {r["id"] for r in exported} == {CASE_NUMBER, OTHER_NUMBER}

        deleted = client.delete(path, headers={"Authorization": f"Bearer {key}"})
        assert deleted.status_code == 200, deleted.text
        assert deleted.json() == {"id": CASE_NUMBER, "deleted": True}
        assert client.get(path).status_code == 404

    exported_csv = cli(["export", "--format", "csv"], settings, tmp_path)
    assert exported_csv.returncode == 0, exported_csv.stderr
    rows = list(csv.DictReader(io.StringIO(exported_csv.stdout.lstrip("\ufeff"))))
    assert [row["id"] for row in rows] == [OTHER_NUMBER]
    removed = cli(["delete", OTHER_NUMBER], settings, tmp_path)
    assert json.loads(removed.stdout) == {"deleted": 1, "not_found": 0}, removed.stderr


@pytest.mark.parametrize("bad_id, reason", [("京01/12号", "'/'"), ("第12号#p1", "'#'"), ("12\n号", "printable"),
                                            ("12\u200b号", "printable"), ("..", "only dots")])
def test_ids_a_url_or_a_document_id_cannot_carry_are_a_400(tmp_path: Path, bad_id: str, reason: str | None) -> None:
    app = create_app(Settings(engine="embedded", data_path=tmp_path / "db.sqlite3", load_fixtures=False))
    with TestClient(app) as client:
        key = create_key(app.state.casedigest.search.engine, "lib-bad", "librarian")
        answer = client.post("/v1/cases", json=numbered_case(bad_id, "摘要。"), headers={"Authorization": f"Bearer {key}"})
        assert answer.status_code == 400, answer.text
        error = answer.json()["error"]
        assert error["detail"]["field"] == "id"
        if reason:
            assert reason in error["message"]
