"""The 类案检索 page and its report (HTML and .docx), on both engines, without JavaScript."""

from __future__ import annotations

import io
import json
import re
from typing import Iterator

import pytest
from docx import Document
from fastapi.testclient import TestClient

from conftest import ENGINES, engine_settings, sample_records
from service.app import create_app

FACTS = "经查，被告人在出租屋附近多次向吸毒人员贩卖甲基苯丙胺，共计二十余克，后被民警抓获。"


@pytest.fixture(scope="module", params=ENGINES)
def client(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    folder = tmp_path_factory.mktemp("similar-web")
    fixtures = folder / "fixtures"
    fixtures.mkdir()
    (fixtures / "sample.jsonl").write_text(
        "\n".join(json.dumps(r.model_dump(mode="json"), ensure_ascii=False) for r in sample_records()), "utf-8"
    )
    with TestClient(create_app(engine_settings(request.param, request, folder, fixtures_path=fixtures))) as test_client:
        yield test_client


def results_page(client: TestClient) -> tuple[str, str]:
    """POST the facts; follow the redirect; (result page URL, its HTML)."""
    posted = client.post("/similar", data={"text": FACTS}, follow_redirects=False)
    assert posted.status_code == 303 and posted.headers["location"].startswith("/similar?t=")
    page = client.get(posted.headers["location"])
    assert page.status_code == 200
    return posted.headers["location"], page.text


def test_page_shows_similar_cases_why_and_predicted_charges(client: TestClient) -> None:
    empty = client.get("/similar")
    assert empty.status_code == 200 and 'name="text"' in empty.text and "Content-Security-Policy" in empty.headers
    url, html = results_page(client)
    assert "预测罪名" in html and "走私、贩卖、运输、制造毒品" in html
    assert "共有关键词" in html and "<mark>" in html
    assert FACTS in html  # the text is kept in the box
    picks = re.findall(r'name="pick" value="([^"]+)"', html)
    assert picks and picks[0] in {"t-drugs-1", "t-drugs-2", "t-tw-1"}
    # a case link carries the way back to the same facts
    link = re.search(r'href="(/cases/[^"]+back=[^"]+)"', html)
    assert link is not None
    case_page = client.get(link.group(1).replace("&amp;", "&"))
    assert case_page.status_code == 200 and 'href="/similar?t=' in case_page.text


def test_page_refuses_empty_and_too_long_text(client: TestClient) -> None:
    assert client.post("/similar", data={"text": "  "}).status_code == 400
    too_long = client.post("/similar", data={"text": "案" * 20_001})
    assert too_long.status_code == 413 and "超过上限" in too_long.text
    expired = client.get("/similar", params={"t": "no-such-key"})
    assert expired.status_code == 200 and "已过期" in expired.text


def test_report_html_and_docx_hold_every_selected_case(client: TestClient) -> None:
    url, html = results_page(client)
    key = re.search(r"t=([0-9a-f]+)", url).group(1)  # type: ignore[union-attr]
    picks = re.findall(r'name="pick" value="([^"]+)"', html)[:2]
    assert len(picks) == 2
    form = client.post("/similar/report", data={"t": key, "pick": picks})
    assert form.status_code == 200 and all(f'name="use-{p}"' in form.text for p in picks)
    data = {"t": key, "pick": picks, "searcher": "张法官", "disputed": "贩卖数量的认定",
            f"use-{picks[0]}": "followed", f"reason-{picks[0]}": "行为方式相同"}
    report = client.post("/similar/report.html", data=data)
    assert report.status_code == 200
    for needle in ("类案检索报告", "张法官", "贩卖数量的认定", "检索方法", "参照", "行为方式相同", FACTS):
        assert needle in report.text, needle
    titles = [client.get(f"/v1/cases/{p}").json()["title"] for p in picks]
    assert all(t in report.text for t in titles)
    docx = client.post("/similar/report.docx", data=data)
    assert docx.status_code == 200 and docx.headers["content-type"].startswith("application/vnd.openxmlformats")
    text = "\n".join(p.text for p in Document(io.BytesIO(docx.content)).paragraphs)
    assert all(t in text for t in titles) and "贩卖数量的认定" in text and "行为方式相同" in text


def test_report_needs_a_selection(client: TestClient) -> None:
    url, _ = results_page(client)
    key = re.search(r"t=([0-9a-f]+)", url).group(1)  # type: ignore[union-attr]
    response = client.post("/similar/report.html", data={"t": key})
    assert response.status_code == 400
