"""Pure ASGI middleware that keeps hostile or broken requests inside the one error shape.

- `UnexpectedErrors`: an unexpected exception becomes a normal 500 answer. Starlette's own
  last-resort handler sends its 500 and then raises the exception again, so the server
  drops the keep-alive connection (without `Connection: close`) and the client's next,
  innocent request on it fails.
- `RequestTargetLimit`: a request target (path and query string) longer than
  `MAX_REQUEST_TARGET_BYTES` is a 414 `uri_too_long`, before any route reads it.

The HTTP server reads a request head of at most `MAX_REQUEST_HEAD_BYTES` (`casedigest
serve` sets it); beyond that the server itself refuses the request, outside the app.
"""

from __future__ import annotations

import logging

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from indexing.errors import CasedigestError
from service.errors import HttpError, error_response

log = logging.getLogger("casedigest")

# A legitimate search URL stays well below this: a 500-character query and 50 values in
# each filter, percent-encoded, come to about 25 KB.
MAX_REQUEST_TARGET_BYTES = 64 * 1024
# What the server reads of a request line and headers before giving up. uvicorn's h11
# default, 16 KiB, answered longer heads outside the app (a plain-text 400, or from about
# 300 KB a TCP reset with no answer at all); up to this size the app answers them itself.
MAX_REQUEST_HEAD_BYTES = 1024 * 1024


class UnexpectedErrors:
    """Answer an unexpected exception with the 500 error body, keeping the connection usable."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            if started:
                # Part of an answer is already on the wire (an export cut short): only closing
                # the connection tells the client it is incomplete.
                raise
            log.exception("unexpected error on %s", scope.get("path", "?"))
            error = CasedigestError("the service hit an unexpected error")
            await error_response(Request(scope), error)(scope, receive, send)


class RequestTargetLimit:
    """Refuse request targets longer than `MAX_REQUEST_TARGET_BYTES` with a 414."""

    def __init__(self, app: ASGIApp, limit: int = MAX_REQUEST_TARGET_BYTES) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            size = len(scope.get("raw_path") or scope["path"].encode()) + len(scope.get("query_string", b""))
            if size > self.limit:
                error = HttpError(
                    414,
                    "uri_too_long",
                    f"the request URL is {size} bytes long; the limit is {self.limit}",
                    {"length": size, "limit": self.limit},
                )
                await error_response(Request(scope), error)(scope, receive, send)
                return
        await self.app(scope, receive, send)
