"""The HTML pages, server-side: every page answers, escapes record text, carries the CSP,
keeps its state in the URL, and costs little more than the JSON API for the same search."""

from __future__ import annotations

import re
from html import unescape
from typing import Iterator
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from fastapi.testclient import TestClient

from conftest_browser import XSS_RECORD, add_xss_record, citing_ids, web_app
from indexing.records.crime_forms import TAXONOMY
from service.settings import Settings


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """The app over a real embedded engine holding the demo fixtures and one hostile record."""
    data = tmp_path_factory.mktemp("web") / "db.sqlite3"
    app = web_app(Settings(engine="embedded", data_path=data, load_fixtures=True))
    with TestClient(app) as client:
        add_xss_record(app)
        yield client


PAGES = [
    "/",
    "/?q=走私+文物",
    "/?q=醉驾+贩毒",
    "/?crime_form=drugs&crime_form=cultural_property&country=CN&sort=date",
    "/?q=毒品&year_from=2000&year_to=2020&page=2",
    "/?q=网络犯罪&doc_type=resolution",
    "/cases/demo-cn-2016-001",
    "/cases/demo-cn-1996-001?q=海洛因",
    "/resolutions/ctoc-cop-6-1",
    "/crime-forms",
    "/upload",
    "/docs",
]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_answers_with_html(client: TestClient, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200, response.text[:500]
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in response.text


@pytest.mark.parametrize("url", [*PAGES, "/cases/no-such-case", '/?q="未闭合', "/?year_from=abc"])
def test_every_html_response_has_a_strict_csp(client: TestClient, url: str) -> None:
    response = client.get(url)
    csp = response.headers["content-security-policy"]
    directives = {d.split()[0]: d.split()[1:] for d in csp.split(";") if d.strip()}
    assert directives["script-src"] == ["'self'"]
    assert "'unsafe-inline'" not in csp and "'unsafe-eval'" not in csp
    assert directives["object-src"] == ["'none'"]
    assert directives["frame-ancestors"] == ["'none'"]
    html = response.text
    # Nothing the CSP would block: no inline scripts, styles or event handlers.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    tags = re.findall(r"<[a-zA-Z][^>]*>", html)  # real tags only; escaped record text has &lt;
    assert not [t for t in tags if re.match(r"<style\b", t) or re.search(r"\sstyle\s*=", t)]
    assert not [t for t in tags if re.search(r"\son[a-z]+\s*=", t)]


def test_api_docs_load_nothing_from_another_host(client: TestClient) -> None:
    html = client.get("/docs").text
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets and not [a for a in assets if not a.startswith("/")], assets
    for asset in assets:
        answer = client.get(asset)
        assert answer.status_code == 200, asset  # what the files fetch in turn is checked in the browser


def test_favicon_is_an_icon(client: TestClient) -> None:
    answer = client.get("/favicon.ico")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "image/x-icon"
    assert answer.content.startswith(b"\x00\x00\x01\x00")  # the ICO header


def test_record_text_is_escaped(client: TestClient) -> None:
    for url in ("/?q=走私测试案", f"/cases/{XSS_RECORD['id']}?q=走私", "/?country=CN&sort=date&year_from=2020&year_to=2020"):
        html = client.get(url).text
        assert "xss-1" in html, url
        assert "<script>alert" not in html and "<script>document" not in html, url
        assert "<img src=x" not in html and "<b>测试法院</b>" not in html, url
        assert "&lt;script&gt;" in html, url
    case = client.get("/cases/xss-1").text
    assert "&lt;b&gt;测试法院&lt;/b&gt;" in case


def test_user_input_is_escaped(client: TestClient) -> None:
    html = client.get("/", params={"q": '"><script>alert(1)</script>', "court": "<i>x</i>"}).text
    assert "<script>alert(1)" not in html and "<i>x</i>" not in html
    assert "&lt;script&gt;alert(1)" in html or "&#34;&gt;&lt;script&gt;" in html


def test_filters_live_in_the_url(client: TestClient) -> None:
    html = client.get("/?q=走私&crime_form=drugs&crime_form=cultural_property&country=CN&sort=date").text
    assert re.search(r'name="crime_form" value="drugs" checked', html)
    assert re.search(r'name="crime_form" value="cultural_property" checked', html)
    assert re.search(r'name="country" value="CN" checked', html)
    assert re.search(r'<option value="date" selected>', html)
    # each active filter is a chip whose button drops exactly that filter (the form holds the rest)
    drops = {unescape(m) for m in re.findall(r'<button type="submit" class="chip on" name="drop" value="([^"]+)"', html)}
    assert drops == {"crime_form:drugs", "crime_form:cultural_property", "country:CN"}
    dropped = client.get(
        "/?q=走私&crime_form=drugs&crime_form=cultural_property&country=CN&sort=date&drop=crime_form:drugs",
        follow_redirects=False,
    )
    assert dropped.status_code == 303
    assert set(parse_qsl(urlsplit(dropped.headers["location"]).query)) == {
        ("q", "走私"), ("crime_form", "cultural_property"), ("country", "CN"), ("sort", "date")}
    # export links carry the same search
    csv = unescape(re.search(r'href="(/v1/search\?[^"]*format=csv)"', html).group(1))  # type: ignore[union-attr]
    assert set(parse_qsl(urlsplit(csv).query)) == {
        ("q", "走私"), ("crime_form", "drugs"), ("crime_form", "cultural_property"), ("country", "CN"), ("sort", "date"),
        ("format", "csv"),
    }
    assert client.get(csv).status_code == 200


def test_page_links_keep_the_search(client: TestClient) -> None:
    html = client.get("/?doc_type=case&sort=date").text
    next_link = unescape(re.search(r'<a rel="next" href="([^"]+)"', html).group(1))  # type: ignore[union-attr]
    assert set(parse_qsl(urlsplit(next_link).query)) == {("doc_type", "case"), ("sort", "date"), ("page", "2")}
    page2 = client.get(next_link).text
    assert 'aria-current="page" aria-label="第 2 页"' in page2
    assert '<ol class="hits" start="11">' in page2


def test_partial_match_and_expansion_notices(client: TestClient) -> None:
    api = client.get("/v1/search", params={"q": "醉驾 贩毒"}).json()
    assert api["match"] == "partial"
    html = client.get("/", params={"q": "醉驾 贩毒"}).text
    assert "部分匹配" in html
    assert "已扩展：醉驾→醉酒驾驶" in html
    assert "命中原因：" in html
    plain = client.get("/", params={"q": "毒品"}).text
    assert "部分匹配" not in plain


def test_inferred_crime_forms_are_marked(client: TestClient) -> None:
    api = client.get("/v1/search", params={"size": 100, "sort": "date"}).json()
    inferred = [h for h in api["hits"] if any(b["source"] == "inferred" for b in h["crime_forms"])]
    if not inferred:
        pytest.fail("the fixtures should hold a record with an inferred crime form")
    html = client.get(f"/cases/{inferred[0]['id']}").text
    assert "推断" in html


def test_no_results_page_offers_to_drop_each_filter(client: TestClient) -> None:
    html = client.get("/?q=走私&crime_form=piracy&country=JP&year_from=1990&year_to=1991").text
    assert "没有找到结果" in html
    empty = html[html.index("没有找到结果"):]
    drops = re.findall(r'<button type="submit" class="linkish" name="drop" value="([^"]+)">去掉“([^”]+)”</button>', empty)
    labels = {label for _, label in drops}
    assert {"犯罪形式：海盗及海上犯罪", "国家/地区：日本", "年份：1990–1991"} <= labels
    for drop, label in drops:
        # the form submits the page's search and the chip's value; the answer is the search without it
        answer = client.get("/?q=走私&crime_form=piracy&country=JP&year_from=1990&year_to=1991&"
                            + urlencode({"drop": unescape(drop)}), follow_redirects=False)
        assert answer.status_code == 303
        params = parse_qsl(urlsplit(answer.headers["location"]).query)
        if label.startswith("国家"):
            assert ("country", "JP") not in params and ("crime_form", "piracy") in params
        if label.startswith("年份"):
            assert not any(k.startswith("year") for k, _ in params) and ("country", "JP") in params


def test_case_page(client: TestClient) -> None:
    html = client.get("/cases/demo-cn-2016-001", params={"q": "器官"}).text
    assert "<mark>人体器官</mark>" in html  # the text's own word that holds 器官, marked whole
    assert 'href="/resolutions/ctoc-cop-6-1#p16"' in html
    assert re.search(r'<textarea id="citation" readonly[^>]*>《', html)
    assert 'id="related-title"' in html and html.count('href="/cases/') >= 2


def test_resolution_page_links_paragraphs_and_citing_cases(client: TestClient) -> None:
    html = client.get("/resolutions/ctoc-cop-6-1").text
    assert 'id="p16"' in html and 'id="pp3"' in html
    assert 'href="#p16"' in html
    p16 = html[html.index('id="p16"'):]
    p16 = p16[: p16.index("</li>\n", p16.index("</details>"))]
    expected = citing_ids("CTOC/COP 第6/1号决议 第16段")
    assert len(expected) >= 2
    assert set(re.findall(r'href="/cases/([^"]+)"', p16)) == expected
    # no other paragraph claims those cases
    p1 = html[html.index('id="p1"'): html.index('id="p2"')]
    assert "/cases/" not in p1


def test_crime_forms_page_links_into_search(client: TestClient) -> None:
    html = client.get("/crime-forms").text
    for form in TAXONOMY.forms:
        assert f'href="/?crime_form={form.code}"' in html
        assert form.zh in html
    counts = {f["code"]: f["count"] for f in client.get("/v1/crime-forms").json()["crime_forms"]}
    assert f"{counts['drugs']} 条" in html


def test_errors_render_a_friendly_page(client: TestClient) -> None:
    bad = client.get("/", params={"q": '"未闭合'})
    assert bad.status_code == 400 and "查询语法有误" in bad.text and bad.headers["content-type"].startswith("text/html")
    assert 'href="/?q=' in bad.text  # the corrected query, one click away
    missing = client.get("/cases/no-such-case")
    assert missing.status_code == 404 and "找不到" in missing.text
    assert client.get("/?year_from=abc").status_code == 400
    assert client.get("/?crime_form=nonsense").status_code == 400


def test_upload_page_without_javascript_explains_the_cli(client: TestClient) -> None:
    html = client.get("/upload").text
    assert "casedigest load" in html
    assert '<form id="upload-form" class="uploadform" hidden>' in html
    assert 'type="file"' in html and 'type="password"' in html


def test_static_files(client: TestClient) -> None:
    css = client.get("/static/site.css")
    js = client.get("/static/app.js")
    assert css.status_code == js.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "javascript" in js.headers["content-type"]
    assert "innerHTML" not in js.text  # the script writes text only


def page_weight(client: TestClient, url: str) -> int:
    """Bytes of a page plus the stylesheets and scripts it loads (no fonts, no images)."""
    html = client.get(url).text
    assets = re.findall(r'<(?:link rel="stylesheet" href|script src)="([^"]+)"', html)
    return len(html.encode()) + sum(len(client.get(a).content) for a in assets)


def test_page_weight(client: TestClient) -> None:
    url = "/?q=毒品&sort=relevance"
    assert "共 0 条" not in client.get(url).text
    weight = page_weight(client, url)
    print(f"\npage weight of {url}: {weight / 1024:.1f} KB (HTML+CSS+JS)")
    assert weight <= 150 * 1024


def test_pages_answer_head_requests(client: TestClient) -> None:
    for path in ("/", "/crime-forms", "/upload"):
        response = client.head(path)
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")


def test_chip_button_drops_its_value_from_what_the_form_submits(client: TestClient) -> None:
    """The page's form sends every ticked value (as codes) plus the chip's `drop`, which names
    the value as the URL had it (a label, lower case, a trailing 罪): it still drops just that."""
    url = "/?q=走私&crime_form=毒品犯罪&country=cn&charge=走私文物罪&court=测试法院"
    html = client.get(url).text
    ticked = [(unescape(n), unescape(v)) for n, v in re.findall(r'<input type="checkbox" name="([a-z_]+)" value="([^"]+)" checked', html)]
    assert ("crime_form", "drugs") in ticked and ("country", "CN") in ticked
    chips = [unescape(d) for d in re.findall(r'<button type="submit" class="chip on" name="drop" value="([^"]+)"', html)]
    assert len(chips) == 4
    for chip in chips:
        answer = client.get("/?" + urlencode([("q", "走私"), *ticked, ("drop", chip)]), follow_redirects=False)
        assert answer.status_code == 303
        left = {name for name, _ in parse_qsl(urlsplit(answer.headers["location"]).query)}
        assert left == {"q", "crime_form", "country", "charge", "court"} - {chip.split(":")[0]}, (chip, left)


def test_crime_forms_without_results_are_folded_under_more(client: TestClient) -> None:
    html = client.get("/?q=毒品&crime_form=piracy").text
    shown, _, folded = html.partition('<details class="more">')
    folded = folded.partition("</details>")[0]
    chip = r'<label class="chip[^"]*"><input type="checkbox" name="crime_form" value="([^"]+)"( checked)?> [^<]+ <span class="count">(\d+)</span>'
    on_top = re.findall(chip, shown)
    under_more = re.findall(chip, folded)
    assert on_top and under_more
    assert all(int(count) > 0 or checked for _, checked, count in on_top)
    assert ("piracy", " checked", "0") in on_top  # a ticked form stays in sight even at 0
    assert all(count == "0" and not checked for _, checked, count in under_more)
    assert len(on_top) + len(under_more) == len(TAXONOMY.forms)
    assert f"更多…（{len(under_more)} 种犯罪形式" in html


def test_a_facet_with_more_values_offers_them(client: TestClient) -> None:
    courts = {b["value"] for b in client.get("/v1/search", params={"facet_size": 100}).json()["facets"]["court"]}
    assert len(courts) > 12, "the fixtures should hold more courts than a facet shows"
    checkbox = r'<input type="checkbox" name="court" value="([^"]+)"'
    html = client.get("/").text
    assert len(re.findall(checkbox, html)) == 12
    link = re.search(r'<p class="more"><a href="([^"]+)" aria-label="更多法院">更多…</a>', html)
    assert link, "the court facet should offer 更多"
    opened = client.get(unescape(link.group(1))).text
    assert {unescape(v) for v in re.findall(checkbox, opened)} == courts
    assert 'name="more" value="court"' in opened  # a ticked box keeps the list open
    assert ">收起</a>" in opened
