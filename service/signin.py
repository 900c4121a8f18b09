"""Signing in to the pages when reads require a key.

A browser cannot send an `Authorization` header with a link, so `/signin` takes a key once,
checks it and keeps it in an HttpOnly, SameSite=Strict cookie that the read dependency accepts
(`service.auth.optional_reader`). Scripts never see the cookie, other sites never send it, and
writes ignore it. It lasts until the browser closes or `/signout`.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from indexing.errors import CasedigestError
from service.auth import SIGNIN_COOKIE, authenticate
from service.state import get_search, get_state
from service.web import SECURITY_HEADERS, error_page, render

router = APIRouter(tags=["web"], include_in_schema=False)

MAX_FORM_BYTES = 4096


def safe_next(target: str | None) -> str:
    """A path on this site to return to; anything else (another host, a scheme) becomes `/`."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    return target


def signin_page(request: Request, status: int = 200, message: str | None = None, target: str | None = None) -> HTMLResponse:
    """The sign-in form; a page that needed a key shows it with a 401 and comes back after."""
    if target is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    required = get_state(request).settings.reads_require_key
    return render("signin.html", status=status, message=message, next=safe_next(target), required=required)


@router.get("/signin", response_class=HTMLResponse)
def signin_form(request: Request, next: str = "/") -> HTMLResponse:
    """The form that takes a key once for the pages."""
    return signin_page(request, target=next)


@router.post("/signin", response_class=HTMLResponse)
async def signin(request: Request) -> Response:
    """Check the key from the form; keep it in the cookie and go back, or show the form again."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return signin_page(request, 400, "表单内容过长。", "/")
    form = parse_qs(body.decode("utf-8", "replace"))
    key = (form.get("key") or [""])[0].strip()
    target = safe_next((form.get("next") or ["/"])[0])
    try:
        authenticate(get_search(get_state(request)).engine, key)
    except CasedigestError as exc:
        if exc.status != 401:
            return error_page(exc)
        return signin_page(request, 401, "密钥无效或已撤销，请检查后重新输入。", target)
    response = RedirectResponse(target, status_code=303, headers=SECURITY_HEADERS)
    response.set_cookie(
        SIGNIN_COOKIE, key, httponly=True, samesite="strict", secure=request.url.scheme == "https", path="/",
    )
    return response


@router.post("/signout")
def signout() -> Response:
    """Forget the key this browser was given."""
    response = RedirectResponse("/signin?" + urlencode({"next": "/"}), status_code=303, headers=SECURITY_HEADERS)
    response.delete_cookie(SIGNIN_COOKIE, path="/", httponly=True, samesite="strict")
    return response
