"""The HTML front door: search, case, resolution, crime-form and upload pages.

Server-rendered with Jinja2 (autoescape on) and usable with JavaScript off; `static/app.js`
only enhances. Every page asks the one search core (`SearchService`) for its data, exactly
as the JSON API does — the search page makes one `search()` call and renders its result.
All search state lives in the query string, so a page is shareable and back/forward restore it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote, urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

from indexing.records import countries
from indexing.records.crime_forms import TAXONOMY
from indexing.errors import BadRequest, CasedigestError, NotFound
from indexing.text.highlight import marked
from indexing.query.parser import parse_query
from indexing.records.model import CaseDigest, Resolution
from indexing.core.models import MAX_PAGE_DEPTH, SearchRequest, SearchResult
from indexing.core.search import SearchService
from indexing.core.dressing import highlight_needles
from service.state import get_search, get_state

HERE = Path(__file__).resolve().parent
STATIC_DIR = HERE / "static"
TEMPLATES_DIR = HERE / "templates"
PAGE_SIZE = 10
FACET_SIZE = 12  # values a facet shows; one more is asked for, to know whether to offer "更多"
MORE_FACET_SIZE = 100  # values asked for the one facet the user opened with "更多"

# Scripts and styles only from our own origin: no inline code can run even if a record's
# text were ever rendered unescaped.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}

FIELD_LABELS = {
    "title": "标题", "summary": "摘要", "full_text": "全文", "charges": "罪名", "keywords": "关键词",
    "legal_basis": "法律依据", "court": "法院", "case_number": "案号",
}
FILTER_LABELS = {
    "crime_form": "犯罪形式", "doc_type": "文书类型", "country": "国家/地区", "court": "法院", "charge": "罪名",
    "year": "年份",
}
LIST_FILTERS = ("crime_form", "doc_type", "country", "court", "charge")
DROP = "drop"  # query parameter of a chip's button: the filter value to take out
EXPANDABLE_FACETS = ("country", "court", "charge", "year")

# "CTOC/COP 第6/1号决议 第16段" or "… 序言部分第3段": a citation of one resolution paragraph.
CITATION = re.compile(
    r"第\s*(?P<number>[0-9A-Za-z/.\-]+?)\s*号决议\s*(?:(?P<pre>序言部分)?第\s*(?P<para>\d+)\s*段)?"
)

router = APIRouter(tags=["web"], include_in_schema=False)
env = Environment(
    loader=FileSystemLoader(TEMPLATES_DIR),
    autoescape=select_autoescape(["html"], default_for_string=True, default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def mount_static(app: FastAPI) -> None:
    """Serve `service/static/` (the stylesheet and the scripts) at `/static`, and the site icon."""
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # Browsers ask for /favicon.ico on their own; outside the read-key routes, like /static.
    app.add_api_route("/favicon.ico", favicon, methods=["GET", "HEAD"], include_in_schema=False)


def favicon() -> FileResponse:
    return FileResponse(STATIC_DIR / "favicon.ico", media_type="image/x-icon",
                        headers={"Cache-Control": "public, max-age=86400"})


def render(template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page from a template, with the security headers every HTML response carries."""
    html = env.get_template(template).render(**context)
    return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)


ERROR_TITLES = {
    "query_syntax": "查询语法有误",
    "invalid_cursor": "翻页位置已失效",
    "bad_request": "请求有误",
    "invalid_parameter": "请求参数有误",
    "method_not_allowed": "该页面不支持此请求方法",
    "forbidden": "此密钥无权访问该页面",
    "not_found": "找不到该页面或记录",
    "engine_unavailable": "检索服务暂时不可用，请稍后再试",
}


def error_page(exc: CasedigestError) -> HTMLResponse:
    """The friendly Chinese page for an error of the core (the API answers the same error as JSON)."""
    title = ERROR_TITLES.get(exc.code, "很抱歉，服务出现了问题")
    suggestion = exc.detail.get("suggestion") if isinstance(exc.detail, dict) else None
    return render(
        "error.html", status=exc.status, title=title, message=exc.message, code=exc.code,
        suggestion_url=("/?" + urlencode({"q": suggestion})) if isinstance(suggestion, str) else None,
        suggestion=suggestion,
    )


def service_or_error(request: Request) -> SearchService:
    """The search core, or the core's own error (e.g. engine unavailable) for an error page."""
    return get_search(get_state(request))


# ---- search state in the URL ---------------------------------------------------------------------
@dataclass(frozen=True)
class SearchState:
    """Everything a search page shows, as read from (and written back to) the query string."""

    q: str = ""
    crime_form: tuple[str, ...] = ()
    doc_type: tuple[str, ...] = ()
    country: tuple[str, ...] = ()
    court: tuple[str, ...] = ()
    charge: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    sort: str = ""
    expand: bool = True
    page: int = 1
    more: str = ""  # the facet opened in full by its "更多" link

    @classmethod
    def from_query(cls, items: Iterable[tuple[str, str]]) -> "SearchState":
        """Read the query string leniently: blanks are ignored, bad numbers are a 400 page."""
        # dicts as ordered sets: a repeated value is dropped in constant time
        lists: dict[str, dict[str, None]] = {name: {} for name in LIST_FILTERS}
        single: dict[str, str] = {}
        drops: set[tuple[str, str]] = set()
        for key, value in items:
            value = value.strip()
            if key in lists:
                if value:
                    lists[key][value] = None
            elif key == DROP:
                name, _, dropped = value.partition(":")
                drops.add((name, filter_key(name, dropped)))
            elif key in ("q", "year_from", "year_to", "sort", "expand", "page", "more"):
                single[key] = value
        if ("year", "") in drops:
            single.pop("year_from", None)
            single.pop("year_to", None)
        if drops:
            lists = {name: {v: None for v in values if (name, filter_key(name, v)) not in drops}
                     for name, values in lists.items()}
        return cls(
            q=single.get("q", ""),
            **{name: tuple(values) for name, values in lists.items()},  # type: ignore[arg-type]
            year_from=_int_param(single, "year_from", 1800, 2100),
            year_to=_int_param(single, "year_to", 1800, 2100),
            sort=single.get("sort", "") if single.get("sort") in ("relevance", "date") else "",
            expand=single.get("expand", "1") not in ("0", "false", "off"),
            page=_int_param(single, "page", 1, MAX_PAGE_DEPTH) or 1,
            more=single.get("more", "") if single.get("more") in EXPANDABLE_FACETS else "",
        )

    def request(self, explain: bool = True) -> SearchRequest:
        return SearchRequest(
            q=self.q, crime_form=list(self.crime_form), doc_type=list(self.doc_type), country=list(self.country),
            court=list(self.court), charge=list(self.charge), year_from=self.year_from, year_to=self.year_to,
            sort=self.sort or None, page=self.page, size=PAGE_SIZE,
            facet_size=MORE_FACET_SIZE if self.more else FACET_SIZE + 1, expand=self.expand,
            explain=explain,
        )

    def items(self, page: bool = True) -> list[tuple[str, str]]:
        """The query-string pairs of this state (defaults left out, so URLs stay short)."""
        out: list[tuple[str, str]] = [("q", self.q)] if self.q else []
        for name in LIST_FILTERS:
            out += [(name, v) for v in getattr(self, name)]
        if self.year_from is not None:
            out.append(("year_from", str(self.year_from)))
        if self.year_to is not None:
            out.append(("year_to", str(self.year_to)))
        if self.sort:
            out.append(("sort", self.sort))
        if not self.expand:
            out.append(("expand", "0"))
        if self.more:
            out.append(("more", self.more))
        if page and self.page > 1:
            out.append(("page", str(self.page)))
        return out

    def href(self, **changes: Any) -> str:
        state = replace(self, **changes) if changes else self
        if "page" not in changes:
            state = replace(state, page=1)  # any other change starts again at page 1
        query = urlencode(state.items())
        return "/?" + query if query else "/"

    def at_page(self, page: int) -> str:
        return self.href(page=page)

    def without(self, name: str, value: str | None = None) -> str:
        if name == "year":
            return self.href(year_from=None, year_to=None)
        if name == "q":
            return self.href(q="")
        return self.href(**{name: tuple(v for v in getattr(self, name) if v != value)})

    def more_href(self, facet: str) -> str:
        """This page with `facet` shown in full ("" folds it again), back at that facet."""
        return self.href(more=facet, page=self.page) + f"#facet-{facet or self.more}"

    def export_href(self, fmt: str) -> str:
        """The API's export of the whole result set, with the same parameters."""
        return "/v1/search?" + urlencode([(k, v) for k, v in self.items(page=False) if k != "more"] + [("format", fmt)])

    def without_filters(self) -> str:
        return self.href(**{name: () for name in LIST_FILTERS}, year_from=None, year_to=None)

    @property
    def has_filters(self) -> bool:
        return any(getattr(self, n) for n in LIST_FILTERS) or self.year_from is not None or self.year_to is not None


def _int_param(values: dict[str, str], name: str, low: int, high: int) -> int | None:
    text = values.get(name, "")
    if not text:
        return None
    if not text.isdigit() or not low <= int(text) <= high:
        raise BadRequest(f"{name} must be a whole number from {low} to {high}", {name: text})
    return int(text)


@dataclass
class ActiveFilter:
    """A chip of the search page; its button submits the page's form with `drop=<drop>`.

    A link per chip would have to repeat every other selected value, so the page grew with
    the square of the number of values; the form already holds them all, once.
    """

    label: str
    drop: str  # "<filter>:<value>", or "year:" for the year range


def filter_key(name: str, value: str) -> str:
    """A filter value as the search core reads it, so a value matches however it was written."""
    if name == "crime_form":
        return TAXONOMY.resolve(value) or value
    if name == "country":
        try:
            return countries.normalize(value)
        except ValueError:
            return value
    if name == "charge":
        return value.removesuffix("罪")
    return value


@dataclass
class SearchPage:
    """What the search template shows, built from one `SearchResult`."""

    state: SearchState
    result: SearchResult
    active: list[ActiveFilter] = field(default_factory=list)
    pages: list[int | None] = field(default_factory=list)
    last_page: int = 1


def search_page(state: SearchState, result: SearchResult) -> SearchPage:
    labels = {name: {b.value: b.label for b in buckets} for name, buckets in result.facets.items()}
    active = []
    for name in LIST_FILTERS:
        for value in getattr(state, name):
            label = labels.get(name, {}).get(value) or _value_label(name, value)
            active.append(ActiveFilter(f"{FILTER_LABELS[name]}：{label}", f"{name}:{value}"))
    if state.year_from is not None or state.year_to is not None:
        span = f"{state.year_from or ''}–{state.year_to or ''}"
        active.append(ActiveFilter(f"年份：{span}", "year:"))
    last = max(1, min(-(-result.total // PAGE_SIZE), MAX_PAGE_DEPTH // PAGE_SIZE))
    return SearchPage(state, result, active, page_window(state.page, last), last)


def _value_label(name: str, value: str) -> str:
    if name == "crime_form":
        form = TAXONOMY.get(TAXONOMY.resolve(value) or "")
        return form.zh if form else value
    if name == "country":
        try:
            return countries.chinese_name(countries.normalize(value))
        except ValueError:
            return value
    return {"case": "案例", "resolution": "决议"}.get(value, value) if name == "doc_type" else value


def page_window(current: int, last: int, around: int = 2) -> list[int | None]:
    """Page numbers to link: first, last and a few around the current one; None marks a gap."""
    shown = sorted({1, last, *range(max(1, current - around), min(last, current + around) + 1)})
    out: list[int | None] = []
    for number in shown:
        if out and number - (out[-1] or 0) > 1:
            out.append(None)
        out.append(number)
    return out


def explanation_text(words: list[Any] | None) -> str:
    """"命中原因" as one line: each matched word (and the query word it stands for) with its fields."""
    parts = []
    for word in words or []:
        where = "、".join(FIELD_LABELS.get(f, f) for f in word.fields)
        via = f"（“{word.for_word}”的扩展）" if word.for_word else ""
        parts.append(f"“{word.word}”{via}见于{where}")
    return "；".join(parts)


# ---- pages -------------------------------------------------------------------------------------
@router.api_route("/", methods=["GET", "HEAD"], response_class=HTMLResponse)
def search(request: Request) -> Response:
    """The search page: one query box, facets, results — all state in the URL."""
    try:
        items = request.query_params.multi_items()
        state = SearchState.from_query(items)
        if any(key == DROP for key, _ in items):
            # a chip's button: show the search without that value at its own, shareable URL
            return RedirectResponse(state.href(), status_code=303)
        result = service_or_error(request).search(state.request())
    except CasedigestError as exc:
        return error_page(exc)
    return render(
        "search.html", page=search_page(state, result), state=state, result=result,
        explanation_text=explanation_text, filter_labels=FILTER_LABELS, facet_shown=FACET_SIZE,
        case_query=urlencode({"q": state.q}) if state.q else "",
    )


@router.api_route("/cases/{record_id}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def case(record_id: str, request: Request, q: str = "", back: str = "") -> HTMLResponse:
    """One record in full, the query's words marked, with related cases and cited paragraphs."""
    try:
        service = service_or_error(request)
        record = service.get(record_id)
        if isinstance(record, Resolution):
            return resolution(record_id, request, q)
        related = service.related(record.id, 5)
        resolution_ids = resolution_numbers(service) if any(CITATION.search(b) for b in record.legal_basis) else {}
    except CasedigestError as exc:
        return error_page(exc)
    needles = query_needles(service, q)
    return render(
        "case.html", record=record, q=q, marked=lambda text: marked(text, needles, service.segmenter),
        country_name=countries.chinese_name(record.country) if record.country else None,
        forms=[(TAXONOMY.get(t.code), t.source) for t in record.crime_forms],
        basis=[(text, citation_href(text, resolution_ids)) for text in record.legal_basis],
        citation=case_citation(record, str(request.base_url).rstrip("/")), related=related,
        # a similar-case result page sends its own URL, so "back" returns to the same facts
        back_url=back if back.startswith("/similar?") else ("/?" + urlencode({"q": q}) if q else "/"),
    )


@router.api_route("/resolutions/{record_id}", methods=["GET", "HEAD"], response_class=HTMLResponse)
def resolution(record_id: str, request: Request, q: str = "") -> HTMLResponse:
    """A resolution's numbered paragraphs, each linkable, each with the cases that cite it."""
    try:
        service = service_or_error(request)
        record = service.get(record_id)
        if not isinstance(record, Resolution):
            raise NotFound(f"{record_id!r} is a case, not a resolution", {"id": record_id})
        citing = citing_cases(service, record)
    except CasedigestError as exc:
        return error_page(exc)
    needles = query_needles(service, q)
    return render(
        "resolution.html", record=record, citing=citing, q=q,
        marked=lambda text: marked(text, needles, service.segmenter),
        forms=[(TAXONOMY.get(t.code), t.source) for t in record.crime_forms],
    )


@router.api_route("/crime-forms", methods=["GET", "HEAD"], response_class=HTMLResponse)
def crime_forms(request: Request) -> HTMLResponse:
    """The taxonomy with record counts, each form a link into a filtered search."""
    try:
        counts = service_or_error(request).crime_form_counts()
    except CasedigestError as exc:
        return error_page(exc)
    rows = [(form, counts.get(form.code, 0), "/?" + urlencode({"crime_form": form.code})) for form in TAXONOMY.forms]
    return render("crime_forms.html", rows=rows, version=TAXONOMY.version)


@router.api_route("/upload", methods=["GET", "HEAD"], response_class=HTMLResponse)
def upload() -> HTMLResponse:
    """The librarians' upload page (the upload itself is JavaScript calling /v1/cases/bulk)."""
    return render("upload.html")


# ---- helpers of the record pages ------------------------------------------------------------------
def query_needles(service: SearchService, q: str) -> list[str]:
    """The words a search for `q` marks in its hits (synonyms included), for the record page."""
    if not q.strip():
        return []
    try:
        node = service.rewriter.expand(parse_query(q, service.segmenter).node)[0]
    except CasedigestError:
        return []  # a query that does not parse only loses its highlighting here
    return highlight_needles(node)


def resolution_numbers(service: SearchService) -> dict[str, str]:
    """Resolution number → record id, for the resolutions the store holds."""
    records = service.matching_records(SearchRequest(doc_type=["resolution"], partial=False, expand=False))
    return {r.number: r.id for r in records if isinstance(r, Resolution)}


def citation_href(text: str, resolution_ids: dict[str, str]) -> str | None:
    """The resolution page (at the paragraph) a legal-basis entry cites, if the store holds it."""
    match = CITATION.search(text)
    if not match or match.group("number") not in resolution_ids:
        return None
    url = f"/resolutions/{quote(resolution_ids[match.group('number')], safe='')}"
    if match.group("para"):
        url += f"#{'pp' if match.group('pre') else 'p'}{match.group('para')}"
    return url


def citing_cases(service: SearchService, record: Resolution) -> dict[str, list[CaseDigest]]:
    """Cases whose legal basis cites a paragraph of `record`, by paragraph anchor.

    One core query finds every case whose legal basis names the resolution; the citation of
    each is then read exactly, so "第1段" never counts as "第16段".
    """
    request = SearchRequest(q=f"legal_basis:({record.number}号决议)", doc_type=["case"], partial=False,
                            expand=False, sort="date")
    out: dict[str, list[CaseDigest]] = {}
    for case in service.matching_records(request):
        if not isinstance(case, CaseDigest):
            continue
        anchors = []
        for text in case.legal_basis:
            for match in CITATION.finditer(text):
                if match.group("number") == record.number and match.group("para"):
                    anchors.append(f"{'pp' if match.group('pre') else 'p'}{match.group('para')}")
        for anchor in dict.fromkeys(anchors):
            out.setdefault(anchor, []).append(case)
    return out


def case_citation(record: CaseDigest, base_url: str) -> str:
    """A citation of the case in the usual Chinese order: title, court, number, date, source."""
    parts = [f"《{record.title}》"]
    parts += [p for p in (record.court, record.case_number, _date_zh(record.decision_date)) if p]
    return "，".join(parts) + f"。载 casedigest 案例摘要库，{base_url}/cases/{quote(record.id, safe='')}"


def _date_zh(value: str | None) -> str | None:
    if not value:
        return None
    pieces = value.split("-")
    return "".join(f"{int(p)}{unit}" for p, unit in zip(pieces, ("年", "月", "日")))
