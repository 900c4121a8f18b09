"""The attack suite's property-based part: every operation of the OpenAPI description, fuzzed.

Schemathesis reads the app's own description (`app.openapi()`) and generates requests from it,
valid ones and deliberately invalid ones, which run in-process against each real engine holding
the sample corpus. Every answer must be below 500, carry no traceback, and match what the
description declares (status code, media type, headers, body schema) — so the description a
generated client is built from stays true. Writes run with a librarian key, the audit with an
admin key. Bounded by `MAX_EXAMPLES` per operation and mode so the suite stays fast.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any, Iterator

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from conftest import ENGINES, RESOLUTION, SAMPLE, discard, engine_settings
from service.app import create_app
from service.auth import create_key
from service.settings import Settings

MAX_EXAMPLES = 15
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
# The operations, read from the description of an app that is built but not started.
OPERATIONS = [
    f"{method.upper()} {path}"
    for path, methods in create_app(Settings(load_fixtures=False)).openapi()["paths"].items()
    for method in methods
]


@schemathesis.serializer("application/x-ndjson")
def _ndjson(ctx: Any, value: Any) -> bytes:
    # The bulk body is declared as a string of NDJSON lines: send the generated text as it is.
    return value.encode("utf-8") if isinstance(value, str) else json.dumps(value).encode("utf-8")


class Fuzzed:
    """The app under attack on one engine, with its keys and a tally of what it answered."""

    def __init__(self, app: FastAPI, engine: str, librarian: str, admin: str) -> None:
        self.app = app
        self.engine = engine
        self.schema = schemathesis.openapi.from_asgi("/openapi.json", app)
        self.keys = {"librarian": librarian, "admin": admin}
        self.statuses: Counter[int] = Counter()

    def headers(self, label: str) -> dict[str, str]:
        role = "admin" if label.endswith("/v1/audit") else "librarian"
        return {"Authorization": f"Bearer {self.keys[role]}"}


@pytest.fixture(scope="module", params=ENGINES)
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fuzzed]:
    folder = tmp_path_factory.mktemp("attack")
    fixtures = folder / "fixtures"
    fixtures.mkdir()
    (fixtures / "sample.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in [*SAMPLE, RESOLUTION]), "utf-8"
    )
    app = create_app(engine_settings(request.param, request, folder, fixtures_path=fixtures))
    with TestClient(app):
        engine = app.state.casedigest.search.engine
        target = Fuzzed(app, request.param, create_key(engine, "fuzz-librarian", "librarian"),
                        create_key(engine, "fuzz-admin", "admin"))
        yield target
        tried, errors = sum(target.statuses.values()), sum(n for s, n in target.statuses.items() if s >= 500)
        capture = request.config.pluginmanager.get_plugin("capturemanager")
        with capture.global_and_fixture_disabled():  # the counts are the suite's figures: always shown
            print(f"\nattack suite on {request.param}: {tried} requests, {errors} answered 5xx; "
                  f"statuses {dict(sorted(target.statuses.items()))}")
        discard(engine)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
@pytest.mark.parametrize("label", OPERATIONS)
def test_no_operation_answers_5xx_or_a_traceback(fuzzed: Fuzzed, label: str, mode: GenerationMode) -> None:
    operation = fuzzed.schema.find_operation_by_label(label)
    assert operation is not None, label
    headers = fuzzed.headers(label)
    checks = CHECKS
    if "application/x-ndjson" in operation.get_request_payload_content_types():
        # Any text is a valid NDJSON body at the HTTP level: its bad lines are rejected one by
        # one in a 200 answer, so "invalid" bodies are rightly accepted.
        checks = [check for check in CHECKS if check is not negative_data_rejection]

    @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def attack(case: schemathesis.Case) -> None:
        try:
            response = case.call(headers=headers)
        except Exception:
            fuzzed.statuses[500] += 1  # the in-process client re-raises what the app did not handle
            raise
        fuzzed.statuses[response.status_code] += 1
        assert "Traceback" not in response.text, response.text[:2000]
        answered = checks
        if response.status_code == 413:
            # A body over the size limit is refused before it is read: a rejection, though not
            # one of the statuses the negative-data check lists (seen with a 21 MB record).
            assert response.json()["error"]["code"] == "payload_too_large", response.text[:2000]
            answered = [check for check in checks if check is not negative_data_rejection]
        case.validate_response(response, checks=answered, headers=headers)

    try:
        attack()
    except Unsatisfiable:
        # An operation without parameters or body has no invalid request to generate.
        assert mode is GenerationMode.NEGATIVE and not operation.query and not operation.body, label
