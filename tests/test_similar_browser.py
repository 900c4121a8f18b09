"""The 类案检索 page in a real browser (Debian's chromium), JavaScript off: paste real facts,
get similar cases, open one, come back with the text kept, and download the report."""

from __future__ import annotations

import io
import re
from typing import Iterator

import pytest
from docx import Document
from playwright.sync_api import Browser, expect

from conftest import cail_records
from conftest_browser import web_app
from service.settings import Settings
from test_web_browser import LiveServer, browser, browser_type_launch_args  # noqa: F401  (fixtures)

pytestmark = pytest.mark.real_data  # every test here reads the real cases

# Every EVERY-th real case is in the index; the pasted facts are those of a case that is not.
EVERY = 5


@pytest.fixture(scope="module")
def real_live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str, list[str]]]:
    records = cail_records()
    indexed = records[::EVERY]
    rest = [r for i, r in enumerate(records) if i % EVERY]
    pasted = next(r for r in rest if r.charges == ["走私、贩卖、运输、制造毒品"] and len(r.summary) >= 150)
    app = web_app(Settings(engine="embedded", data_path=tmp_path_factory.mktemp("similar-browser") / "db.sqlite3",
                           load_fixtures=False))
    with LiveServer(app) as server:
        engine = app.state.casedigest.search.engine
        engine.upsert(indexed)
        engine.finish_writes()
        yield server, pasted.summary, pasted.charges


def test_paste_real_facts_open_a_case_and_come_back(browser: Browser, real_live: tuple[LiveServer, str, list[str]]) -> None:  # noqa: F811
    live, facts, charges = real_live
    context = browser.new_context(base_url=live.url, java_script_enabled=False, accept_downloads=True)
    try:
        page = context.new_page()
        page.goto("/similar")
        page.locator("#text").fill(facts)
        page.get_by_role("button", name="检索类案").click()
        page.wait_for_url(re.compile(r"/similar\?t="))
        expect(page.locator(".predicted")).to_contain_text(charges[0])
        hits = page.locator("ol.hits > li.hit")
        assert hits.count() >= 10
        charged = page.locator("ol.hits > li.hit ul.why").filter(has_text=f"罪名相同：{charges[0]}").count()
        assert charged >= 8, f"only {charged} of the first results share the charge"
        expect(hits.first.locator("ul.why mark").first).to_be_visible()
        results_url = page.url
        # open a case, then come back: the same facts and results
        hits.first.locator("h3 a").click()
        page.wait_for_url(re.compile(r"/cases/cail-"))
        page.get_by_role("link", name="← 返回检索").click()
        page.wait_for_url(results_url)
        assert page.locator("#text").input_value() == facts
        # select two cases and download the report
        page.locator("input[name=pick]").nth(0).check()
        page.locator("input[name=pick]").nth(1).check()
        titles = [page.locator("ol.hits > li.hit h3 a").nth(i).inner_text() for i in (0, 1)]
        page.get_by_role("button", name="为所选案例生成类案检索报告").click()
        page.locator("input[name=searcher]").fill("检察官甲")
        with page.expect_download() as download:
            page.get_by_role("button", name="下载 Word 文档（.docx）").click()
        document = Document(io.BytesIO(open(download.value.path(), "rb").read()))
        text = "\n".join(p.text for p in document.paragraphs)
        assert all(t in text for t in titles) and "检察官甲" in "\n".join(c.text for row in document.tables[0].rows for c in row.cells)
        page.get_by_role("button", name="生成报告（可打印）").click()
        expect(page.locator("article.report h1")).to_have_text("类案检索报告")
        for title in titles:
            expect(page.locator("article.report")).to_contain_text(title)
    finally:
        context.close()
