"""Cases that arrive without charges get predicted charges after a load, kept apart and marked."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from fastapi.testclient import TestClient

from conftest import ENGINES, discard, engine_settings
from indexing.core.search import SearchService
from indexing.engines.embedded import EmbeddedEngine
from indexing.records.enrich import with_inferred_forms
from indexing.records.model import CaseDigest
from indexing.loading.writes import Writer
from indexing.similar.charge_fill import predict_missing_charges
from indexing.text.segmenter import Segmenter
from service.app import create_app
from service.write_path import finish_writes
from service.settings import Settings
from test_charge_model import written_cases

ROOT = Path(__file__).resolve().parents[1]
BRIBE_FACTS = "被告人在担任某县国土资源局科长期间，利用职务上的便利，为他人办理用地审批提供帮助，收受对方所送现金人民币六万元。"


def uncharged() -> CaseDigest:
    return CaseDigest(id="no-charge-1", title="某某案", summary=BRIBE_FACTS)


def test_a_case_without_charges_gets_predicted_charges_and_their_forms(segmenter: Segmenter, tmp_path: Path) -> None:
    engine = EmbeddedEngine(tmp_path / "fill.db", segmenter)
    try:
        engine.upsert([with_inferred_forms(r) for r in [*written_cases(), uncharged()]])
        service = SearchService(engine, segmenter)
        ids = [r.id for r in written_cases()] + ["no-charge-1"]
        assert predict_missing_charges(service, ids, "test") == 1
        record = engine.get("no-charge-1")
        assert isinstance(record, CaseDigest)
        assert record.charges == []  # the court's charges stay empty
        assert record.predicted_charges[0].charge == "受贿"
        assert 0 < record.predicted_charges[0].confidence <= 1
        assert ("corruption", "inferred") in {(t.code, t.source) for t in record.crime_forms}
        # Charged cases are left alone, and a second pass predicts nothing new.
        assert engine.get(ids[0]).predicted_charges == []  # type: ignore[union-attr]
        assert predict_missing_charges(service, ids, "test") == 0
    finally:
        engine.close()


def test_cli_load_predicts_and_the_case_page_marks_them_as_predicted(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    lines = [r.model_dump_json(exclude_defaults=True) for r in [*written_cases(), uncharged()]]
    records.write_text("\n".join(lines) + "\n", "utf-8")
    data = tmp_path / "db.sqlite3"
    env = {**os.environ, "CASEDIGEST_DATA_PATH": str(data), "PYTHONPATH": str(ROOT)}
    result = subprocess.run([sys.executable, "-c", "from service.cli import main; main()", "load", str(records), "--quiet"],
                            capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1])["predicted_charges"] == 1
    with TestClient(create_app(Settings(engine="embedded", data_path=data))) as client:
        page = client.get("/cases/no-charge-1").text
        assert "预测罪名" in page and "受贿" in page and "非法院认定" in page
        charged = client.get(f"/cases/{written_cases()[0].id}").text
        assert "预测罪名" not in charged


def test_loading_the_same_file_again_keeps_the_prediction_and_counts_it_unchanged(tmp_path: Path) -> None:
    records = tmp_path / "records.jsonl"
    lines = [r.model_dump_json(exclude_defaults=True) for r in [*written_cases(), uncharged()]]
    records.write_text("\n".join(lines) + "\n", "utf-8")
    env = {**os.environ, "CASEDIGEST_DATA_PATH": str(tmp_path / "db.sqlite3"), "PYTHONPATH": str(ROOT)}

    def load(path: Path) -> dict[str, int]:
        result = subprocess.run([sys.executable, "-c", "from service.cli import main; main()", "load", str(path), "--quiet"],
                                capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])

    assert load(records)["predicted_charges"] == 1
    again = load(records)
    assert again["unchanged"] == len(lines) and again["updated"] == 0 and again["predicted_charges"] == 0
    engine = EmbeddedEngine(tmp_path / "db.sqlite3", Segmenter())
    try:
        kept = engine.get("no-charge-1")
        assert isinstance(kept, CaseDigest) and kept.predicted_charges[0].charge == "受贿"
    finally:
        engine.close()
    # A changed case is stored as given and predicted afresh.
    changed = tmp_path / "changed.jsonl"
    changed.write_text(uncharged().model_copy(update={"title": "某某受贿线索案"}).model_dump_json(exclude_defaults=True) + "\n", "utf-8")
    summary = load(changed)
    assert summary["updated"] == 1 and summary["predicted_charges"] == 1


# ---- cases written over HTTP -----------------------------------------------------------------------
def _bearer(engine: EmbeddedEngine | object) -> dict[str, str]:
    from service.auth import create_key

    return {"Authorization": f"Bearer {create_key(engine, 'lib-fill', 'librarian')}"}  # type: ignore[arg-type]


def _wait_for_prediction(client: TestClient, record_id: str, seconds: float = 120.0) -> dict[str, object]:
    deadline = time.monotonic() + seconds
    while True:
        record = client.get(f"/v1/cases/{record_id}").json()
        if record.get("predicted_charges") or time.monotonic() > deadline:
            return record  # type: ignore[no-any-return]
        time.sleep(0.5)


@pytest.mark.parametrize("kind", ENGINES)
def test_a_bulk_write_without_charges_gets_them_predicted_before_the_answer(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    app = create_app(engine_settings(kind, request, tmp_path, load_fixtures=False))
    with TestClient(app) as client:
        service = app.state.casedigest.search
        try:
            Writer(service.engine, "test").upsert([with_inferred_forms(r) for r in written_cases()])
            finish_writes(service.engine)
            assert service.charge_predictor.ready(300)
            body = (uncharged().model_dump_json(exclude_defaults=True) + "\n").encode("utf-8")
            headers = {**_bearer(service.engine), "Content-Type": "application/x-ndjson"}
            answer = client.post("/v1/cases/bulk", content=body, headers=headers)
            assert answer.status_code == 200, answer.text
            summary = json.loads(answer.text.strip().splitlines()[-1])["summary"]
            assert summary["inserted"] == 1 and summary["predicted_charges"] == 1
            stored = client.get("/v1/cases/no-charge-1").json()
            assert stored["charges"] == [] and stored["predicted_charges"][0]["charge"] == "受贿"
            # Posting the same case again changes nothing and predicts nothing.
            again = client.post("/v1/cases/bulk", content=body, headers=headers)
            summary = json.loads(again.text.strip().splitlines()[-1])["summary"]
            assert summary["unchanged"] == 1 and "predicted_charges" not in summary
        finally:
            discard(service.engine)


def test_a_case_posted_while_the_model_trains_is_filled_once_it_is_ready(tmp_path: Path) -> None:
    data = tmp_path / "db.sqlite3"
    engine = EmbeddedEngine(data, Segmenter())
    try:
        engine.upsert([with_inferred_forms(r) for r in written_cases()])
    finally:
        engine.close()
    app = create_app(Settings(engine="embedded", data_path=data, load_fixtures=False))
    with TestClient(app) as client:
        service = app.state.casedigest.search
        assert not service.charge_predictor.ready(0)  # a fresh process: no model yet
        answer = client.post("/v1/cases", json=json.loads(uncharged().model_dump_json(exclude_defaults=True)),
                             headers=_bearer(service.engine))
        assert answer.status_code == 201, answer.text
        stored = _wait_for_prediction(client, "no-charge-1")
        assert stored["charges"] == [] and stored["predicted_charges"][0]["charge"] == "受贿"  # type: ignore[index]


def test_predict_charges_fills_the_cases_stored_without_any(tmp_path: Path) -> None:
    data = tmp_path / "db.sqlite3"
    engine = EmbeddedEngine(data, Segmenter())
    try:  # written straight to the store, as by a process that stopped before predicting
        engine.upsert([with_inferred_forms(r) for r in [*written_cases(), uncharged()]])
    finally:
        engine.close()
    env = {**os.environ, "CASEDIGEST_DATA_PATH": str(data), "PYTHONPATH": str(ROOT)}

    def run() -> dict[str, int]:
        result = subprocess.run([sys.executable, "-c", "from service.cli import main; main()", "predict-charges"],
                                capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]

    assert run() == {"without_charges": 1, "predicted_charges": 1}
    assert run() == {"without_charges": 0, "predicted_charges": 0}
    engine = EmbeddedEngine(data, Segmenter())
    try:
        record = engine.get("no-charge-1")
        assert isinstance(record, CaseDigest) and record.predicted_charges[0].charge == "受贿"
    finally:
        engine.close()
