"""The NextToken that continues a page of a list.

A token names the last row returned (its sort value and seq), not an offset, so rows added or
changed between pages neither repeat nor vanish from the pages still to come. It is bound to
a scope (the operation and its filters) so it cannot continue a different request, and signed
with HMAC-SHA256 under a secret kept in the database, so a token the service did not issue, or
one edited by hand, is refused before any of its fields is used.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
from typing import Any


class InvalidPageToken(Exception):
    """A NextToken this service did not issue, or issued for another request."""


_MAC_BYTES = 16
# SQLite integers are signed 64-bit.
_MAX_SEQ = 2**63 - 1


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode((text + "=" * (-len(text) % 4)).encode())


def _valid_sort_value(value: Any) -> bool:
    """A value SQLite can compare with a sort column: text, a 64-bit integer or a finite float."""
    if isinstance(value, str):
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return abs(value) <= _MAX_SEQ
    return isinstance(value, float) and math.isfinite(value)


class PageTokens:
    def __init__(self, key: bytes):
        self._key = key

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, payload, hashlib.sha256).digest()[:_MAC_BYTES]

    def encode(self, scope: str, sort_value: Any, seq: int) -> str:
        payload = json.dumps({"scope": scope, "after": [sort_value, seq]}, separators=(",", ":")).encode()
        return f"{_b64encode(payload)}.{_b64encode(self._mac(payload))}"

    def decode(self, token: str, scope: str) -> tuple[Any, int]:
        """The (sort value, seq) a token continues after; InvalidPageToken unless this service
        issued it for this request."""
        encoded_payload, _, encoded_mac = token.partition(".")
        try:
            payload, mac = _b64decode(encoded_payload), _b64decode(encoded_mac)
        except (ValueError, binascii.Error) as error:
            raise InvalidPageToken(f"NextToken: not a token this service issued ({error})") from error
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidPageToken("NextToken: not a token this service issued (its signature does not match)")
        try:
            document = json.loads(payload)
            sort_value, seq = document["after"]
            token_scope = document["scope"]
        except (ValueError, KeyError, TypeError) as error:
            raise InvalidPageToken(f"NextToken: not a token this service issued ({error})") from error
        # Signed tokens hold what the service wrote; checked anyway, as a last line.
        if not _valid_sort_value(sort_value) or type(seq) is not int or not 0 <= seq <= _MAX_SEQ:
            raise InvalidPageToken("NextToken: not a token this service issued (malformed position)")
        if token_scope != scope:
            raise InvalidPageToken(
                "NextToken: the token was issued for a different request; repeat the request with "
                "the same filters and sort order as the one that returned it"
            )
        return sort_value, seq
