"""Signed tokens for the links an email carries: unsubscribe (/u/) and click redirects (/r/).

A token is base64url (no padding) of a compact JSON payload followed by a 16-byte HMAC-SHA256
tag. The tag covers a label naming the token's kind, so one kind never verifies as the other.
Reading checks the encoding is canonical, so no two strings read as the same token. Every way
a token can be wrong raises the same `NotFoundError`, which tells a prober nothing."""

import base64
import binascii
import hashlib
import hmac
import json
import unicodedata
from urllib.parse import urlsplit

from engine.errors import NotFoundError

_TAG_BYTES = 16
_UNSUBSCRIBE = b"personalize/unsubscribe/v1"
_CLICK = b"personalize/click/v1"
_OPEN = b"personalize/open/v1"
_SCHEMES = ("http", "https")


def unsubscribe_token(key: bytes, *, customer_id: str, draft_id: int) -> str:
    """A URL-safe token naming a customer and the draft whose unsubscribe link they follow."""
    return _seal(key, _UNSUBSCRIBE, [draft_id, customer_id])


def read_unsubscribe_token(key: bytes, token: str) -> tuple[str, int]:
    """The customer id and draft id an unsubscribe token was signed for."""
    draft_id, customer_id = _open(key, _UNSUBSCRIBE, token)
    return customer_id, draft_id


def click_token(key: bytes, *, draft_id: int, url: str) -> str:
    """A URL-safe token for a redirect to `url` from a draft; only http(s) URLs are signed."""
    if not is_http_url(url):
        raise ValueError("only absolute http(s) URLs may be signed")
    return _seal(key, _CLICK, [draft_id, url])


def read_click_token(key: bytes, token: str) -> tuple[int, str]:
    """The draft id and URL a click token was signed for."""
    draft_id, url = _open(key, _CLICK, token)
    if not is_http_url(url):
        raise NotFoundError("no such link")
    return draft_id, url


def open_token(key: bytes, *, draft_id: int) -> str:
    """A URL-safe token for the open pixel of a draft."""
    return _seal(key, _OPEN, [draft_id, ""])


def read_open_token(key: bytes, token: str) -> int:
    """The draft id an open-pixel token was signed for."""
    draft_id, _ = _open(key, _OPEN, token)
    return draft_id


def is_http_url(url: str) -> bool:
    """True for an absolute http(s) URL with a host and no whitespace or control characters."""
    if not url or any(char.isspace() or unicodedata.category(char) == "Cc" for char in url):
        return False
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:  # a malformed port or IPv6 literal
        return False
    return parts.scheme.lower() in _SCHEMES and bool(host)


def _tag(key: bytes, label: bytes, payload: bytes) -> bytes:
    if not key:
        raise ValueError("the link key is empty")
    return hmac.new(key, label + b"\x00" + payload, hashlib.sha256).digest()[:_TAG_BYTES]


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _seal(key: bytes, label: bytes, fields: list[int | str]) -> str:
    payload = json.dumps(fields, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return _encode(payload + _tag(key, label, payload))


def _open(key: bytes, label: bytes, token: str) -> tuple[int, str]:
    """The [int, str] payload of a token of the kind `label`, checked; else NotFoundError."""
    payload = _verified_payload(key, label, token)
    try:
        fields = json.loads(payload.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError and JSONDecodeError both are ValueErrors
        raise NotFoundError("no such link") from None
    match fields:
        case [int() as number, str() as text] if not isinstance(number, bool):
            return number, text
    raise NotFoundError("no such link")


def _verified_payload(key: bytes, label: bytes, token: str) -> bytes:
    gone = NotFoundError("no such link")
    if not isinstance(token, str) or not token.isascii():
        raise gone
    try:
        raw = base64.b64decode(token + "=" * (-len(token) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise gone from None
    # Canonical only: stray padding, '+' or '/', or unused low bits in the last character
    # would otherwise let several strings stand for the same token.
    if len(raw) <= _TAG_BYTES or _encode(raw) != token:
        raise gone
    payload, tag = raw[:-_TAG_BYTES], raw[-_TAG_BYTES:]
    if not hmac.compare_digest(tag, _tag(key, label, payload)):
        raise gone
    return payload
