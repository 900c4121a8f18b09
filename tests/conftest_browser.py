"""Helpers for the web page tests (server-side and browser): the app with the pages, a hostile record."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi import FastAPI

from indexing.records.enrich import with_inferred_forms
from indexing.records.model import parse_record
from service.app import create_app
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures"

# A record whose text tries to run script in a page: it must show as text and run nothing.
XSS_RECORD = {
    "id": "xss-1",
    "title": "<script>document.title='pwned';alert('x')</script>走私测试案",
    "summary": "摘要里有<script>alert('pwned')</script><img src=x onerror=alert(1)>走私文字。",
    "country": "CN",
    "court": "<b>测试法院</b>",
    "decision_date": "2020",
    "crime_forms": ["cultural_property"],
}


def web_app(settings: Settings) -> FastAPI:
    """The service app (the web pages are part of it)."""
    return create_app(settings)


def add_xss_record(app: FastAPI) -> None:
    """Store the script-bearing record through the engine (the app must be started)."""
    engine = app.state.casedigest.search.engine
    engine.upsert([with_inferred_forms(parse_record(XSS_RECORD))])
    finish = getattr(engine, "finish_writes", None)
    if callable(finish):
        finish()


def citing_ids(citation: str) -> set[str]:
    """Ids of the fixture cases whose legal basis holds exactly this citation."""
    out = set()
    for line in (FIXTURES / "cases.jsonl").read_text("utf-8").splitlines():
        record = json.loads(line)
        if citation in record.get("legal_basis", []):
            out.add(record["id"])
    return out
