"""How Elasticsearch client errors become the service's errors."""

from __future__ import annotations


from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConnectionError as ESConnectionError,
    ConnectionTimeout,
)

from indexing.errors import CasedigestError, EngineUnavailable


class EngineWriteRefused(CasedigestError):
    """Elasticsearch refused a write (permissions, a read-only index, a rejected document)."""

    code = "engine_write_refused"
    status = 503


def translate(exc: Exception, action: str) -> CasedigestError:
    """One place that turns client errors into the service's errors (never a stack trace)."""
    if isinstance(exc, AuthenticationException):
        return EngineUnavailable(
            f"Elasticsearch rejected the credentials while {action}: authentication failed",
            {"engine": "elasticsearch", "reason": "authentication"},
        )
    if isinstance(exc, AuthorizationException):
        return EngineWriteRefused(
            f"Elasticsearch refused {action}: the configured user lacks the privilege",
            {"engine": "elasticsearch", "reason": "authorization"},
        )
    if isinstance(exc, (ESConnectionError, ConnectionTimeout)):
        return EngineUnavailable(
            f"Elasticsearch cannot be reached while {action}: {exc.__class__.__name__}",
            {"engine": "elasticsearch", "reason": "unreachable"},
        )
    if isinstance(exc, ApiError):
        return EngineUnavailable(
            f"Elasticsearch failed while {action}: HTTP {exc.meta.status} {exc.message}",
            {"engine": "elasticsearch", "reason": str(exc.message)},
        )
    return EngineUnavailable(f"Elasticsearch failed while {action}: {exc}", {"engine": "elasticsearch"})
