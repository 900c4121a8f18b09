"""Elasticsearch with security on: the right password, a wrong one, and a read-only user.

One real node with `xpack.security` (file-realm users, HTTP without TLS) is started by the
project's script on port 9253 for this module. A node that cannot start fails every test
here with the script's message; nothing is skipped.
"""

from __future__ import annotations

import secrets
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from fastapi.testclient import TestClient

from conftest import sample_records
from indexing.engines.elastic.engine import ElasticEngine
from indexing.engines.elastic.errors import EngineWriteRefused
from indexing.errors import CasedigestError
from indexing.records.model import parse_record
from indexing.text.segmenter import Segmenter
from service.app import create_app
from service.settings import Settings
from service.state import open_engine

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "scripts/elasticsearch.sh")
PORT = "9253"
ALIAS = "sec-test"
ADMIN = "casedigest-admin"
READER = "casedigest-reader"


@dataclass(frozen=True)
class SecuredNode:
    url: str
    admin_password: str
    reader_password: str

    def settings(self, username: str, password: str) -> Settings:
        return Settings(
            engine="elasticsearch",
            elasticsearch_url=self.url,
            elasticsearch_username=username,
            elasticsearch_password=password,
            elasticsearch_index=ALIAS,
            load_fixtures=False,
        )

    @property
    def admin(self) -> Settings:
        return self.settings(ADMIN, self.admin_password)

    @property
    def reader(self) -> Settings:
        return self.settings(READER, self.reader_password)


@pytest.fixture(scope="module")
def node() -> Iterator[SecuredNode]:
    # Hex passwords: never start with "-" (the users tool would read that as an option).
    admin_password, reader_password = secrets.token_hex(12), secrets.token_hex(12)
    started = subprocess.run(
        [SCRIPT, "start", "--port", PORT, "--security",
         "--user", ADMIN, "--password", admin_password,
         "--reader-user", READER, "--reader-password", reader_password],
        capture_output=True, text=True, timeout=600,
    )
    try:
        if started.returncode != 0:
            pytest.fail(f"secured Elasticsearch could not be started by {SCRIPT}:\n{started.stderr[-4000:]}",
                        pytrace=False)
        yield SecuredNode(started.stdout.strip().splitlines()[-1], admin_password, reader_password)
    finally:
        subprocess.run([SCRIPT, "stop", "--port", PORT], capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def admin_engine(node: SecuredNode, segmenter: Segmenter) -> Iterator[ElasticEngine]:
    """The alias, created and filled by the superuser (the reader cannot create it)."""
    engine = open_engine(node.admin, segmenter)
    assert isinstance(engine, ElasticEngine)
    engine.drop()
    engine.close()
    engine = open_engine(node.admin, segmenter)
    assert isinstance(engine, ElasticEngine)
    outcomes = engine.upsert(sample_records())
    assert set(outcomes) == {"inserted"}
    yield engine
    engine.drop()
    engine.close()


def assert_error_shape(body: dict[str, Any]) -> dict[str, Any]:
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"code", "message", "detail"}, error
    assert isinstance(error["message"], str) and error["message"]
    return error


def assert_no_stack_trace(text: str) -> None:
    for marker in ("Traceback", 'File "', "elasticsearch.exceptions", "ApiError(", "Exception("):
        assert marker not in text, text


def test_right_password_searches(node: SecuredNode, admin_engine: ElasticEngine) -> None:
    with TestClient(create_app(node.admin)) as client:
        response = client.get("/v1/search", params={"q": "毒品"})
        assert response.status_code == 200, response.text
        ids = {hit["id"] for hit in response.json()["hits"]}
        assert {"t-drugs-1", "t-drugs-2"} <= ids
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["engine"] == "elasticsearch"
        assert ready.json()["records"] == len(sample_records())


def test_wrong_password_is_503_naming_authentication(node: SecuredNode, admin_engine: ElasticEngine) -> None:
    wrong = node.settings(ADMIN, node.admin_password + "-wrong")
    with TestClient(create_app(wrong), raise_server_exceptions=False) as client:
        response = client.get("/v1/search", params={"q": "毒品"})
        assert response.status_code == 503, response.text
        error = assert_error_shape(response.json())
        assert error["code"] == "engine_unavailable"
        assert "authentication" in error["message"].lower()
        assert error["detail"].get("reason") == "authentication"
        assert_no_stack_trace(response.text)

        ready = client.get("/readyz")
        assert ready.status_code == 503, ready.text
        error = assert_error_shape(ready.json())
        assert error["detail"]["engine"] == "elasticsearch"
        assert "authentication" in error["detail"]["reason"].lower()
        assert_no_stack_trace(ready.text)
        print(f"\nwrong password: /v1/search {response.status_code} {response.text}\n"
              f"                /readyz {ready.status_code} {ready.text}")
    # The password itself never appears in what a user sees.
    assert wrong.elasticsearch_password not in response.text + ready.text


def test_reader_reads_but_cannot_write(node: SecuredNode, admin_engine: ElasticEngine, segmenter: Segmenter) -> None:
    with TestClient(create_app(node.reader)) as client:
        response = client.get("/v1/search", params={"q": "毒品"})
        assert response.status_code == 200, response.text
        assert "t-drugs-1" in {hit["id"] for hit in response.json()["hits"]}
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text

    reader = open_engine(node.reader, segmenter)
    assert isinstance(reader, ElasticEngine)
    try:
        assert reader.get("t-drugs-1") is not None
        new = parse_record({"id": "t-reader-write", "title": "读者写入测试案", "summary": "只读用户不应能写入这条记录。"})
        with pytest.raises(EngineWriteRefused) as refused:
            reader.upsert([new])
        assert isinstance(refused.value, CasedigestError)
        assert "privilege" in refused.value.message
        assert refused.value.detail.get("reason") == "authorization"
        print(f"\nread-only user: upsert raised {type(refused.value).__name__}: {refused.value.message} "
              f"{refused.value.detail}")
        # Nothing was written.
        assert admin_engine.get("t-reader-write") is None
    finally:
        reader.close()
