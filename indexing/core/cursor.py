"""Signed page cursors: where the next page of a search starts, in a form no client can forge.

A cursor carries the engine's position (an offset on the embedded engine, a point in time
and sort values on Elasticsearch), the fingerprint of the search it belongs to, and whether
the page lists partial matches. Clients could otherwise choose the position: a forged offset
of 10^11 once made the embedded engine try to allocate 1.6 TB and abort the process. So the
payload is signed with HMAC-SHA256 under a per-installation secret that every worker of one
installation shares (kept by the engine in use, or set with `CASEDIGEST_CURSOR_SECRET`), and
anything that does not verify is a 400 `invalid_cursor`, never an engine call.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from typing import Literal

from indexing.errors import InvalidCursor

# A real cursor is a few hundred characters (an Elasticsearch point-in-time id is the longest
# part); anything much longer is not one we issued and is refused before decoding.
MAX_CURSOR_CHARS = 4096
SECRET_BYTES = 32
_TAG_BYTES = 16  # 128 bits of HMAC-SHA256: forging one is out of reach


def new_secret() -> str:
    """A fresh random secret, as stored (hex)."""
    return secrets.token_hex(SECRET_BYTES)


@dataclass(frozen=True)
class Position:
    """Where the next page starts (the engine's opaque `after`) and which match kind it lists."""

    after: str
    match: Literal["all", "partial"]


class CursorCodec:
    """Encodes positions as signed cursors and checks cursors a client sends back."""

    def __init__(self, secret: str | bytes) -> None:
        key = secret.encode() if isinstance(secret, str) else secret
        if len(key) < 16:
            raise ValueError("the cursor secret must be at least 16 bytes long")
        self._key = key

    def encode(self, position: Position, fingerprint: str) -> str:
        """The cursor for `position` within the search whose fingerprint is `fingerprint`."""
        payload = json.dumps(
            {"a": position.after, "f": fingerprint, "m": position.match}, separators=(",", ":"), ensure_ascii=False
        ).encode()
        return _b64(payload) + "." + _b64(self._tag(payload))

    def decode(self, cursor: str, fingerprint: str) -> Position:
        """The position a cursor holds; `InvalidCursor` unless we issued it for this very search."""
        detail = {"cursor": cursor[:100]}
        if len(cursor) > MAX_CURSOR_CHARS:
            raise InvalidCursor("cursor is not one this service issued", detail)
        body, _, tag = cursor.partition(".")
        try:
            payload, sent_tag = _unb64(body), _unb64(tag)
        except (binascii.Error, ValueError):
            raise InvalidCursor("cursor is not one this service issued", detail) from None
        if not hmac.compare_digest(sent_tag, self._tag(payload)):
            raise InvalidCursor("cursor is not one this service issued", detail)
        try:
            data = json.loads(payload)
            after, owner, match = data["a"], data["f"], data["m"]
        except (ValueError, KeyError, TypeError):
            raise InvalidCursor("cursor is not one this service issued", detail) from None
        if not isinstance(after, str) or match not in ("all", "partial"):
            raise InvalidCursor("cursor is not one this service issued", detail)
        if owner != fingerprint:
            raise InvalidCursor(
                "cursor belongs to a different search; repeat the query and filters it came from", detail
            )
        return Position(after, match)

    def _tag(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_TAG_BYTES]


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    if not text.isascii():
        raise ValueError("not base64")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
