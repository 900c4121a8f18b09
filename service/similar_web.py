"""The 类案检索 pages: paste facts, read similar cases and why, select some, get the report.

The facts are sent with POST (a judgment does not fit in a URL) and kept for an hour under
a key in a file every worker shares (`service/facts_store.py`); the answer redirects to `GET /similar?t=KEY…`, so the
result page has a URL, and leaving for a case and coming back shows the same text and results
(post/redirect/get). Everything works with JavaScript off.

The report follows art. 8 of 最高人民法院《关于统一法律适用加强类案检索的指导意见（试行）》
(法发〔2020〕24号): who searched, when, on which platform, by which method, the results, each
similar case's holding, whether it was followed or only consulted and why, and the disputed
issues of the pending case. It is offered as print-ready HTML and as a .docx file.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.datastructures import FormData

from indexing.records.crime_forms import TAXONOMY
from indexing.errors import BadRequest, CasedigestError
from indexing.records.model import CaseDigest
from indexing.similar.models import MAX_TEXT_CHARS, SimilarRequest, SimilarResult
from service.facts_store import FactsStore
from service.routes.similar import BodyTooLarge
from service.similar_report import USES, Report, compose_report
from service.web import error_page, render, service_or_error

router = APIRouter(tags=["web"], include_in_schema=False)

PAGE_SIZE = 20
MAX_PICKED = 30
FILTERS = ("crime_form", "charge", "court", "year_from", "year_to")


# A form's 20,000 characters of Chinese are 180 KB once percent-encoded.
MAX_FORM_BYTES = 512 * 1024


async def read_form(request: Request) -> FormData:
    """An url-encoded form body (what a browser sends without JavaScript), size-limited."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            raise BodyTooLarge(f"the form may not exceed {MAX_FORM_BYTES} bytes", {"limit": MAX_FORM_BYTES})
    return FormData(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


def facts_store(request: Request) -> FactsStore:
    store: FactsStore = request.app.state.similar_facts
    return store


@dataclass(frozen=True)
class Filters:
    """The filters of the page, as read from a form or the query string."""

    crime_form: str = ""
    charge: str = ""
    court: str = ""
    year_from: str = ""
    year_to: str = ""

    @classmethod
    def read(cls, items: Any) -> "Filters":
        return cls(**{k: str(items.get(k) or "").strip() for k in FILTERS})

    def request_fields(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in ("crime_form", "charge", "court"):
            if getattr(self, name):
                out[name] = [getattr(self, name)]
        for name in ("year_from", "year_to"):
            value = getattr(self, name)
            if value:
                if not value.isdigit():
                    raise BadRequest(f"{name} must be a year", {name: value})
                out[name] = int(value)
        return out

    def query(self) -> dict[str, str]:
        return {k: v for k, v in self.__dict__.items() if v}


def _search(request: Request, text: str, filters: Filters, size: int = PAGE_SIZE) -> SimilarResult:
    return service_or_error(request).similar(SimilarRequest(text=text, size=size, **filters.request_fields()))


def _forms() -> list[tuple[str, str]]:
    return [(f.code, f.zh) for f in TAXONOMY.forms]


@router.api_route("/similar", methods=["GET", "HEAD"], response_class=HTMLResponse)
def similar_page(request: Request, t: str = "") -> HTMLResponse:
    """The 类案检索 page: the facts box, and the results when the URL names stored facts."""
    filters = Filters.read(request.query_params)
    text = facts_store(request).get(t) if t else None
    result, notice = None, None
    if t and text is None:
        notice = "粘贴的案情已过期（保存一小时），请重新粘贴后检索。"
    if text:
        try:
            result = _search(request, text, filters)
        except CasedigestError as exc:
            return error_page(exc)
    return render("similar.html", text=text or "", key=t if text else "", filters=filters, result=result,
                  notice=notice, forms=_forms(), max_chars=MAX_TEXT_CHARS, uses=USES,
                  back_query=urlencode({"t": t, **filters.query()}) if text else "")


@router.post("/similar", response_class=HTMLResponse)
async def similar_submit(request: Request) -> Response:
    """Keep the pasted facts and redirect to their result page (post/redirect/get)."""
    try:
        form = await read_form(request)
    except CasedigestError as exc:
        return error_page(exc)
    text = str(form.get("text") or "").strip()
    filters = Filters.read(form)
    if not text:
        return render("similar.html", status=400, text="", key="", filters=filters, result=None,
                      notice="请先粘贴案件事实。", forms=_forms(), max_chars=MAX_TEXT_CHARS, uses=USES, back_query="")
    if len(text) > MAX_TEXT_CHARS:
        return render("similar.html", status=413, text=text[:MAX_TEXT_CHARS], key="", filters=filters, result=None,
                      notice=f"案情共 {len(text)} 字，超过上限 {MAX_TEXT_CHARS} 字，请删减后再检索。",
                      forms=_forms(), max_chars=MAX_TEXT_CHARS, uses=USES, back_query="")
    key = facts_store(request).put(text)
    return RedirectResponse("/similar?" + urlencode({"t": key, **filters.query()}), status_code=303)


def _report(request: Request, form: Any) -> Report:
    """The report's content from the report form: the facts by key, the selected cases."""
    key = str(form.get("t") or "")
    text = facts_store(request).get(key)
    if text is None:
        raise BadRequest("the pasted facts have expired; search again", {"t": key})
    filters = Filters.read(form)
    return compose_report(
        service_or_error(request),
        SimilarRequest(text=text, **filters.request_fields()),
        [str(v) for v in form.getlist("pick")][:MAX_PICKED],
        lambda record_id: (str(form.get(f"use-{record_id}") or "consulted"),
                           str(form.get(f"reason-{record_id}") or "")),
        searcher=str(form.get("searcher") or ""),
        disputed=str(form.get("disputed") or ""),
        platform=f"casedigest 有组织犯罪案例摘要检索 {request.app.version}（{str(request.base_url).rstrip('/')}）",
        filters_used="；".join(f"{k}={v}" for k, v in filters.query().items()),
    )


@router.post("/similar/report", response_class=HTMLResponse)
async def report_form(request: Request) -> HTMLResponse:
    """The report form for the selected cases: searcher, disputed issues, followed or consulted."""
    try:
        form = await read_form(request)
        key = str(form.get("t") or "")
        text = facts_store(request).get(key)
        if text is None:
            raise BadRequest("the pasted facts have expired; search again", {"t": key})
        picked = list(dict.fromkeys(str(v) for v in form.getlist("pick")))[:MAX_PICKED]
        if not picked:
            raise BadRequest("select at least one case for the report", {"pick": []})
        records = service_or_error(request).engine.get_many(picked)
    except CasedigestError as exc:
        return error_page(exc)
    cases = [records[i] for i in picked if i in records]
    return render("similar_report_form.html", key=key, cases=cases, filters=Filters.read(form), uses=USES)


@router.post("/similar/report.html", response_class=HTMLResponse)
async def report_html(request: Request) -> HTMLResponse:
    """The report as a print-ready page."""
    try:
        report = _report(request, await read_form(request))
    except CasedigestError as exc:
        return error_page(exc)
    return render("similar_report.html", report=report, uses=USES)


@router.post("/similar/report.docx")
async def report_docx(request: Request) -> Response:
    """The report as a Word document."""
    try:
        report = _report(request, await read_form(request))
    except CasedigestError as exc:
        return error_page(exc)
    from service.similar_docx import report_document

    return Response(report_document(report, USES), media_type=DOCX,
                    headers={"Content-Disposition": 'attachment; filename="similar-case-report.docx"'})


DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
