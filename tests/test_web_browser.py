"""The web pages in a real browser: Debian's chromium driven by pytest-playwright against the
real app served by uvicorn on a loopback port, over the demo fixtures and one hostile record.

If chromium or a CJK font is missing, these tests fail with a message saying what to
install; they are never skipped.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, BrowserType, Page, expect
from playwright.sync_api import Error as PlaywrightError

from conftest_browser import XSS_RECORD, add_xss_record, web_app
from service.auth import create_key
from service.settings import Settings

CHROMIUM_CANDIDATES = ("/usr/lib/chromium/chromium", "/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]
INSTALL_HINT = "install them with: apt-get install -y --no-install-recommends chromium fonts-wqy-microhei"


def chromium_path() -> str:
    for candidate in CHROMIUM_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    found = shutil.which("chromium")
    if not found:
        pytest.fail(f"Debian's chromium is not installed; {INSTALL_HINT}", pytrace=False)
    return found


@pytest.fixture(scope="session")
def browser_type_launch_args() -> dict[str, Any]:
    """pytest-playwright launches Debian's chromium, not a downloaded browser."""
    return {"executable_path": chromium_path(), "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser(browser_type: BrowserType, browser_type_launch_args: dict[str, Any]) -> Iterator[Browser]:
    """pytest-playwright's browser, failing (never skipping) with a clear message."""
    fonts = subprocess.run(["fc-list", ":lang=zh"], capture_output=True, text=True)
    if fonts.returncode != 0 or not fonts.stdout.strip():
        pytest.fail(f"no Chinese (CJK) font is installed, so pages cannot be checked; {INSTALL_HINT}", pytrace=False)
    try:
        launched = browser_type.launch(**browser_type_launch_args)
    except PlaywrightError as exc:
        pytest.fail(f"chromium at {browser_type_launch_args['executable_path']} did not start: {exc}", pytrace=False)
    yield launched
    launched.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """uvicorn serving the app in a background thread on 127.0.0.1."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "LiveServer":
        self.thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the app did not start under uvicorn", pytrace=False)
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data = tmp_path_factory.mktemp("browser") / "db.sqlite3"
    app = web_app(Settings(engine="embedded", data_path=data, load_fixtures=True))
    with LiveServer(app) as server:
        add_xss_record(app)
        yield server


@pytest.fixture
def page(browser: Browser, live: LiveServer) -> Iterator[Page]:
    context = browser.new_context(base_url=live.url, locale="zh-CN")
    page = context.new_page()
    yield page
    context.close()


def api(live: LiveServer, path: str, params: Any = None) -> Any:
    return httpx.get(live.url + path, params=params, timeout=30).json()


def total_shown(page: Page) -> int:
    text = page.locator("#results-title").inner_text()
    match = re.search(r"共\s*(\d+)\s*条", text)
    assert match, text
    return int(match.group(1))


def hit_titles(page: Page) -> list[str]:
    return page.locator("ol.hits > li h3").all_inner_texts()


def state_of(url: str) -> set[tuple[str, str]]:
    return set(parse_qsl(urlsplit(url).query))


def test_type_a_chinese_query_and_submit(page: Page, live: LiveServer) -> None:
    page.goto("/")
    page.get_by_label("检索有组织犯罪案例与公约决议").fill("贩卖毒品")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"q=%E8%B4%A9%E5%8D%96%E6%AF%92%E5%93%81"))
    expected = api(live, "/v1/search", {"q": "贩卖毒品"})["total"]
    assert total_shown(page) == expected > 0
    expect(page.locator("ol.hits mark").first).to_be_visible()
    assert page.locator("ol.hits > li").count() == min(10, expected)


def test_facets_paging_case_and_back(page: Page, live: LiveServer, browser: Browser) -> None:
    page.goto("/")
    all_total = total_shown(page)
    first_titles = hit_titles(page)
    country_counts = page.locator("fieldset.facet").filter(has_text="国家/地区").locator(".count").all_inner_texts()

    # two crime forms: the checkbox change submits the form (JS), counts and results follow
    page.locator('input[name=crime_form][value=drugs]').check()
    page.wait_for_url(re.compile(r"crime_form=drugs"))
    drugs_total = total_shown(page)
    assert drugs_total == api(live, "/v1/search", {"crime_form": "drugs"})["total"] < all_total
    assert hit_titles(page) != first_titles
    assert page.locator("fieldset.facet").filter(has_text="国家/地区").locator(".count").all_inner_texts() != country_counts

    page.locator('input[name=crime_form][value=organized_crime_group]').check()
    page.wait_for_url(re.compile(r"crime_form=organized_crime_group"))
    both = api(live, "/v1/search", {"crime_form": ["drugs", "organized_crime_group"]})["total"]
    assert total_shown(page) == both > drugs_total
    assert both > 10, "the fixtures should give a second page for this test"
    expect(page.locator('input[name=crime_form][value=drugs]')).to_be_checked()

    # page forward
    page.locator("nav.pager a[rel=next]").click()
    page.wait_for_url(re.compile(r"page=2"))
    expect(page.locator("nav.pager [aria-current=page]")).to_have_text("2")
    state_url = page.url
    page_two = hit_titles(page)
    assert page_two and page.locator("ol.hits").get_attribute("start") == "11"

    # open a case, then come back to the same state
    page.locator("ol.hits > li h3 a").first.click()
    page.wait_for_url(re.compile(r"/(cases|resolutions)/"))
    expect(page.locator("h1#record-title")).to_be_visible()
    page.go_back()
    page.wait_for_url(state_url)
    assert hit_titles(page) == page_two
    expect(page.locator('input[name=crime_form][value=drugs]')).to_be_checked()
    expect(page.locator('input[name=crime_form][value=organized_crime_group]')).to_be_checked()
    assert state_of(page.url) == {("crime_form", "drugs"), ("crime_form", "organized_crime_group"), ("page", "2")}

    # the copied URL reproduces the state in a fresh browser context
    fresh = browser.new_context(base_url=live.url)
    try:
        other = fresh.new_page()
        other.goto(state_url)
        assert hit_titles(other) == page_two
        assert total_shown(other) == both
        expect(other.locator('input[name=crime_form][value=organized_crime_group]')).to_be_checked()
    finally:
        fresh.close()


def test_hostile_record_renders_as_text_and_runs_nothing(page: Page) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    titles = {"/?q=走私测试案": "走私测试案 - 检索 · casedigest",
              f"/cases/{XSS_RECORD['id']}": f"{XSS_RECORD['title']} · casedigest"}
    for url, title in titles.items():
        page.goto(url)
        page.wait_for_load_state("load")
        assert page.evaluate("document.title") == title  # the record's script would set it to 'pwned'
        assert page.locator("script:not([src])").count() == 0
        assert page.locator("img").count() == 0
    page.goto("/?q=走私测试案")
    expect(page.locator("ol.hits > li h3").first).to_contain_text("<script>document.title='pwned'")
    page.goto(f"/cases/{XSS_RECORD['id']}")
    expect(page.locator("h1#record-title")).to_contain_text("<script>")
    expect(page.locator("article")).to_contain_text("<img src=x onerror=alert(1)>")
    assert dialogs == []


def test_search_works_without_javascript(browser: Browser, live: LiveServer) -> None:
    context = browser.new_context(base_url=live.url, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/")
        page.locator("#q").fill("走私")
        page.locator(".qrow button[type=submit]").click()
        page.wait_for_url(re.compile(r"q=%E8%B5%B0%E7%A7%81"))
        with_query = total_shown(page)
        assert with_query == api(live, "/v1/search", {"q": "走私"})["total"] > 0
        # without JS a ticked facet waits for the apply button
        page.locator('input[name=crime_form][value=cultural_property]').check()
        page.locator("button.apply").click()
        page.wait_for_url(re.compile(r"crime_form=cultural_property"))
        assert total_shown(page) == api(live, "/v1/search", {"q": "走私", "crime_form": "cultural_property"})["total"]
        # the syntax help opens without JS
        page.locator("details.help summary").click()
        expect(page.locator("details.help dl")).to_be_visible()
        # case page: the citation is readable, the copy button (JS only) stays hidden
        page.locator("ol.hits > li h3 a").first.click()
        expect(page.locator("#citation")).to_be_visible()
        expect(page.locator("button.copy")).to_be_hidden()
        # upload page: instructions instead of the JS form
        page.goto("/upload")
        expect(page.locator(".nojs")).to_be_visible()
        expect(page.locator("#upload-form")).to_be_hidden()
    finally:
        context.close()


@pytest.mark.parametrize("url", ["/?q=贩卖毒品&crime_form=drugs&country=CN", "/cases/demo-cn-2016-001?q=器官",
                                 "/resolutions/ctoc-cop-6-1", "/crime-forms", "/upload", "/?q=没有这样的词语xyz&country=CN"])
def test_narrow_screen_has_no_horizontal_scroll(browser: Browser, live: LiveServer, url: str) -> None:
    context = browser.new_context(base_url=live.url, viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        page.goto(url)
        page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")  # open content must fit too
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 360, f"{url} is {width}px wide at a 360px viewport"
        if url.startswith("/?q=贩卖"):
            expect(page.locator("ol.hits > li").first).to_be_visible()
    finally:
        context.close()


def test_slash_focuses_the_query_box(page: Page) -> None:
    page.goto("/?q=毒品")
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("/")
    assert page.evaluate("document.activeElement.id") == "q"
    assert page.locator("#q").input_value() == "毒品"  # the slash was not typed into it


def test_keyboard_focus_is_visible(page: Page) -> None:
    page.goto("/")
    page.keyboard.press("Tab")  # the skip link
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", ""), outline


def test_copy_button_copies_the_citation(browser: Browser, live: LiveServer) -> None:
    context = browser.new_context(base_url=live.url)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live.url)
    try:
        page = context.new_page()
        page.goto("/cases/demo-cn-2016-001")
        button = page.locator("button.copy")
        expect(button).to_be_visible()
        button.click()
        expect(page.locator(".copy-status")).to_have_text("已复制到剪贴板")
        assert page.evaluate("navigator.clipboard.readText()") == page.locator("#citation").input_value()
    finally:
        context.close()


def test_legal_basis_link_reaches_the_paragraph(page: Page) -> None:
    page.goto("/cases/demo-cn-2016-001")
    page.get_by_role("link", name="CTOC/COP 第6/1号决议 第16段").click()
    page.wait_for_url(re.compile(r"/resolutions/ctoc-cop-6-1#p16$"))
    paragraph = page.locator("#p16")
    expect(paragraph).to_be_in_viewport()
    paragraph.locator("summary").click()
    expect(paragraph.locator("details.citing a[href='/cases/demo-cn-2016-001']")).to_be_visible()


def test_upload_page_posts_to_the_bulk_endpoint(page: Page, live: LiveServer, tmp_path: Path) -> None:
    key = create_key(live.app.state.casedigest.search.engine, "web-upload-test", "librarian")
    lines = [
        json.dumps({"id": "upload-1", "title": "网页上传测试案", "summary": "经由网页上传的走私案摘要。"}, ensure_ascii=False),
        json.dumps({"id": "upload-2", "title": "缺少摘要的记录"}, ensure_ascii=False),
        "{not json",
    ]
    file = tmp_path / "records.jsonl"
    file.write_text("\n".join(lines) + "\n", "utf-8")
    page.goto("/upload")
    expect(page.locator(".nojs")).to_be_hidden()
    page.locator("#upload-file").set_input_files(str(file))
    page.locator("#upload-key").fill(key)
    page.get_by_role("button", name="上传").click()
    expect(page.locator("#upload-status")).to_contain_text("完成", timeout=30_000)
    expect(page.locator("#upload-status")).to_contain_text("新增 1")
    expect(page.locator("#upload-status")).to_contain_text("拒绝 2")
    assert page.locator("#upload-progress").evaluate("p => p.value === p.max")
    link = page.locator("#upload-rejects-link")
    expect(link).to_be_visible()
    with page.expect_download() as download:
        link.click()
    rejects = [json.loads(line) for line in Path(download.value.path()).read_text("utf-8").splitlines()]
    assert [r["line"] for r in rejects] == [2, 3]
    assert api(live, "/v1/cases/upload-1")["title"] == "网页上传测试案"

    # a wrong key is reported, not swallowed
    page.locator("#upload-key").fill("cdk_wrong")
    page.get_by_role("button", name="上传").click()
    expect(page.locator("#upload-status")).to_contain_text("401")


def test_api_docs_list_the_operations_offline(browser: Browser, live: LiveServer) -> None:
    context = browser.new_context(base_url=live.url)
    outside: list[str] = []

    def this_machine_only(route: Any) -> None:
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost"):
            route.continue_()
        else:  # as on a machine without internet
            outside.append(route.request.url)
            route.abort("internetdisconnected")

    context.route("**/*", this_machine_only)
    try:
        page = context.new_page()
        blocked: list[str] = []
        page.on("console", lambda message: blocked.append(message.text) if "Content Security Policy" in message.text else None)
        response = page.goto("/docs")
        assert response is not None and "script-src 'self'" in response.headers["content-security-policy"]
        expect(page.locator(".opblock-summary-path", has_text="/v1/search").first).to_be_visible(timeout=30_000)
        assert page.locator(".opblock").count() >= 10
        assert not outside, outside
        assert not blocked, blocked
    finally:
        context.close()


@pytest.mark.parametrize("javascript", [True, False])
def test_on_a_phone_the_first_result_shows_without_scrolling(browser: Browser, live: LiveServer, javascript: bool) -> None:
    context = browser.new_context(base_url=live.url, viewport={"width": 360, "height": 740},
                                  java_script_enabled=javascript)
    try:
        page = context.new_page()
        page.goto("/?q=毒品")
        first = page.locator("ol.hits > li h3").first.bounding_box()
        assert first is not None and first["y"] + first["height"] <= 740, first
        count = page.locator("#results-title").bounding_box()
        assert count is not None and count["y"] < first["y"]
        # the facets wait behind "筛选", which opens without any script
        expect(page.locator("aside.facets")).to_be_hidden()
        page.locator("details.filters > summary").click()
        expect(page.locator("aside.facets")).to_be_visible()
        expect(page.locator("fieldset.forms")).to_be_visible()
    finally:
        context.close()


def test_on_a_wide_screen_the_facets_are_open_beside_the_results(browser: Browser, live: LiveServer) -> None:
    context = browser.new_context(base_url=live.url, viewport={"width": 1280, "height": 900}, java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto("/?q=毒品")
        expect(page.locator("details.filters > summary")).to_be_hidden()
        facets = page.locator("aside.facets").bounding_box()
        results = page.locator("section.results").bounding_box()
        assert facets is not None and results is not None
        assert facets["x"] + facets["width"] <= results["x"]  # side by side
        expect(page.locator("fieldset.forms .chip").first).to_be_visible()
    finally:
        context.close()


def test_counts_never_break_inside_a_number(browser: Browser, live: LiveServer) -> None:
    context = browser.new_context(base_url=live.url, viewport={"width": 360, "height": 740})
    try:
        page = context.new_page()
        page.goto("/?more=court")
        page.locator("details.filters > summary").click()
        lines = page.evaluate("""Array.from(document.querySelectorAll('.count')).filter(e => e.offsetParent)
            .map(e => [e.textContent, e.getClientRects().length, e.getBoundingClientRect().height,
                       parseFloat(getComputedStyle(e).lineHeight)])""")
        assert lines
        broken = [(text, rects) for text, rects, height, line in lines if rects != 1 or height > 1.5 * line]
        assert not broken, broken
    finally:
        context.close()
