"""How Elasticsearch client errors become the service's errors."""

from __future__ import annotations


from elasticsearch import (
    ApiError,
    AuthenticationException,
    AuthorizationException,
    ConnectionError as ESConnectionError,
    ConnectionTimeout,
)

from indexing.errors import CasedigestError, EngineUnavailable, StorageFull


class EngineWriteRefused(CasedigestError):
    """Elasticsearch refused a write (permissions, a read-only index, a rejected document)."""

    code = "engine_write_refused"
    status = 503


# What Elasticsearch says of an index it has blocked because a node's disk passed the
# flood-stage watermark (the block lifts itself once space is freed).
_DISK_BLOCK_MARKS = ("read-only-allow-delete", "flood-stage")


def disk_full(reason: object, action: str) -> StorageFull | None:
    """`StorageFull` when an error reason is Elasticsearch's flood-stage write block."""
    text = str(reason)
    if not any(mark in text for mark in _DISK_BLOCK_MARKS):
        return None
    return StorageFull(
        f"Elasticsearch refused {action}: a node's disk is past its flood-stage watermark and the index "
        "is read-only; nothing more was written. Free disk space on the node (the block lifts itself) and retry",
        {"engine": "elasticsearch", "reason": "flood_stage_watermark"},
    )


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
    if isinstance(exc, ApiError) and (full := disk_full(exc.body or exc.message, action)) is not None:
        return full
    if isinstance(exc, ApiError):
        return EngineUnavailable(
            f"Elasticsearch failed while {action}: HTTP {exc.meta.status} {exc.message}",
            {"engine": "elasticsearch", "reason": str(exc.message)},
        )
    return EngineUnavailable(f"Elasticsearch failed while {action}: {exc}", {"engine": "elasticsearch"})
