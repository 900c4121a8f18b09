"""One exception hierarchy for the whole service; the HTTP layer maps it to one error shape."""

from __future__ import annotations

from typing import Any


class CasedigestError(Exception):
    """Root of every error the service reports to a user."""

    code = "internal_error"
    status = 500

    def __init__(self, message: str, detail: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or {}


class BadRequest(CasedigestError):
    code = "bad_request"
    status = 400


class InvalidParameter(BadRequest):
    """A parameter outside its bounds (the same code the API gives a value of the wrong type)."""

    code = "invalid_parameter"


class QuerySyntaxError(BadRequest):
    """A query the parser cannot read; `detail` carries the position and a corrected query."""

    code = "query_syntax"


class InvalidCursor(BadRequest):
    code = "invalid_cursor"


class NotFound(CasedigestError):
    code = "not_found"
    status = 404


class EngineUnavailable(CasedigestError):
    """The search engine cannot be reached or refused to answer."""

    code = "engine_unavailable"
    status = 503


class StorageFull(CasedigestError):
    """The disk holding the store has no space left: nothing was written; reads still work."""

    code = "storage_full"
    status = 507
