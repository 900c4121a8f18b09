"""API keys: creating, listing and revoking them, and the dependencies that require them.

A secret looks like `cdk_<43 url-safe characters>`; only its SHA-256 is stored (`ApiKey.key_hash`),
so a stolen copy of the store gives no usable key and a lost secret cannot be shown again —
the remedy is a new key. Requests present a key as `Authorization: Bearer <key>` or
`X-API-Key: <key>`.

Roles: `librarian` may write records; `admin` may also read the audit trail. Reads need a key
(any role) only when the `reads_require_key` setting is on; see `read_dependencies`. Reads also
accept the key a browser was given at `/signin` (an HttpOnly, SameSite=Strict cookie); writes
never do, so no other site can make a signed-in browser write.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from typing import Annotated, get_args

from fastapi import Depends, Request
from fastapi.params import Depends as DependsParam

from indexing.engines.base import ApiKey, Engine, Role
from indexing.errors import BadRequest, CasedigestError, NotFound
from indexing.loading.writes import utc_now
from service.settings import Settings
from service.state import Search, State, Writes, WriteSearch

SECRET_PREFIX = "cdk_"
SIGNIN_COOKIE = "casedigest_key"
ROLES: tuple[str, ...] = get_args(Role)
_NAME = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class Unauthorized(CasedigestError):
    """No key, or a key the service does not know or has revoked."""

    code = "unauthorized"
    status = 401
    # RFC 9110 §11.6.1: a 401 names the scheme the client should use.
    headers = {"WWW-Authenticate": 'Bearer realm="casedigest"'}


class Forbidden(CasedigestError):
    """A valid key whose role does not allow the request."""

    code = "forbidden"
    status = 403


# ---- the keys themselves ---------------------------------------------------------------------
def hash_secret(secret: str) -> str:
    """The stored form of a secret: its SHA-256 in hex."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_key(engine: Engine, name: str, role: str) -> str:
    """Store a new key and return its secret, which is not kept and cannot be shown again.

    Raises `BadRequest` for a malformed name, an unknown role or a name already in use
    (revoked keys keep their names, so the audit trail stays unambiguous).
    """
    if not _NAME.match(name):
        raise BadRequest(
            "a key name is 1–64 characters of A–Z, a–z, 0–9, '.', '_' or '-'",
            {"field": "name", "reason": "must match [A-Za-z0-9._-]{1,64}"},
        )
    if role not in ROLES:
        raise BadRequest(
            f"unknown role {role!r}; use {' or '.join(ROLES)}",
            {"field": "role", "reason": f"must be one of {', '.join(ROLES)}"},
        )
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    engine.put_key(ApiKey(name=name, role=role, key_hash=hash_secret(secret), created_at=utc_now()))  # type: ignore[arg-type]
    return secret


def list_keys(engine: Engine) -> list[ApiKey]:
    """Every key, revoked ones included, oldest first."""
    return engine.keys()


def revoke_key(engine: Engine, name: str) -> None:
    """Revoke the active key called `name`; raises `NotFound` if there is none."""
    if not engine.revoke_key(name, utc_now()):
        raise NotFound(f"no active key named {name!r}", {"name": name})


def authenticate(engine: Engine, secret: str) -> ApiKey:
    """The active key whose secret this is; raises `Unauthorized` otherwise."""
    key = engine.key_by_hash(hash_secret(secret)) if secret.startswith(SECRET_PREFIX) else None
    if key is None:
        raise Unauthorized("the API key is not valid")
    if key.revoked_at is not None:
        raise Unauthorized("the API key has been revoked", {"revoked_at": key.revoked_at})
    return key


# ---- FastAPI dependencies ----------------------------------------------------------------------
def presented_secret(request: Request) -> str | None:
    """The key a request carries, from `Authorization: Bearer` or else `X-API-Key`."""
    authorization = request.headers.get("authorization")
    if authorization:
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise Unauthorized("use 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
        return value.strip()
    value = request.headers.get("x-api-key", "").strip()
    return value or None


def required_secret(request: Request) -> str:
    """The key a request carries; raises `Unauthorized` when it carries none."""
    secret = presented_secret(request)
    if secret is None:
        raise Unauthorized("an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'")
    return secret


def require_key(request: Request, service: Search) -> ApiKey:
    """Any active key, of any role."""
    return authenticate(service.engine, required_secret(request))


async def require_librarian(request: Request, writes: Writes, service: WriteSearch) -> ApiKey:
    """A key allowed to write records (librarian or admin).

    Checked on the write path (the key lookup runs on the writer thread), so a write never
    waits for the thread pool that serves reads.
    """
    key = await writes.call(authenticate, service.engine, required_secret(request))
    if key.role not in ("librarian", "admin"):
        raise Forbidden(f"the key {key.name!r} may not write records", {"role": key.role})
    return key


def require_admin(key: Annotated[ApiKey, Depends(require_key)]) -> ApiKey:
    """A key allowed to administer the service (admin only)."""
    if key.role != "admin":
        raise Forbidden(f"the key {key.name!r} is not an admin key", {"role": key.role, "required": "admin"})
    return key


def optional_reader(request: Request, state: State, service: Search) -> ApiKey | None:
    """Any active key when the `reads_require_key` setting is on; nothing otherwise.

    The key may come from a header or from the sign-in cookie of the pages.
    """
    if not state.settings.reads_require_key:
        return None
    secret = presented_secret(request) or request.cookies.get(SIGNIN_COOKIE)
    if not secret:
        raise Unauthorized(
            "an API key is required: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>', or sign in at /signin"
        )
    return authenticate(service.engine, secret)


Librarian = Annotated[ApiKey, Depends(require_librarian)]
Admin = Annotated[ApiKey, Depends(require_admin)]
Reader = Annotated[ApiKey | None, Depends(optional_reader)]


def read_dependencies(settings: Settings) -> list[DependsParam]:
    """Dependencies for the read routers: a key check when `settings.reads_require_key` is on.

    Used as `app.include_router(search.router, dependencies=read_dependencies(settings))`;
    health checks stay open so probes work without a key.
    """
    return [Depends(optional_reader)] if settings.reads_require_key else []
