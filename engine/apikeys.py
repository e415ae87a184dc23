"""API keys: created once, stored as a prefix and a SHA-256 hash, checked in constant time."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.errors import EngineError, NotFoundError
from engine.models import ApiKey, utcnow

SCOPES = ("ingest", "marketer", "admin")
_KEY_PREFIX = "pk"


class InvalidScope(EngineError):
    """A scope name we do not know."""

    code = "invalid_scope"


@dataclass(frozen=True)
class KeyIdentity:
    """Who a verified key is: what requests may be attributed to, and what they may do."""

    id: int
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        """True when the key holds the scope; admin holds every scope."""
        return scope in self.scopes or "admin" in self.scopes


def _hash(secret: str) -> str:
    # Keys are 192 random bits, so a plain SHA-256 (no slow KDF) cannot be brute-forced.
    return hashlib.sha256(secret.encode()).hexdigest()


def create_key(session: Session, *, name: str, scopes: list[str]) -> tuple[KeyIdentity, str]:
    """Create a key; the plaintext is returned here once and never stored."""
    unknown = sorted(set(scopes) - set(SCOPES))
    if unknown or not scopes:
        raise InvalidScope(f"scopes must be among {', '.join(SCOPES)}; got {scopes}")
    prefix = secrets.token_hex(6)
    plaintext = f"{_KEY_PREFIX}_{prefix}_{secrets.token_urlsafe(24)}"
    row = ApiKey(
        name=name, prefix=prefix, key_hash=_hash(plaintext), scopes=",".join(sorted(set(scopes)))
    )
    session.add(row)
    session.flush()
    return KeyIdentity(id=row.id, name=name, scopes=frozenset(scopes)), plaintext


def verify_key(session: Session, *, presented: str) -> KeyIdentity | None:
    """The identity of a presented key, or None when it is unknown, wrong or revoked."""
    parts = presented.split("_")
    if len(parts) < 3 or parts[0] != _KEY_PREFIX:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == parts[1]))
    if row is None or row.revoked_at is not None:
        return None
    if not hmac.compare_digest(row.key_hash, _hash(presented)):
        return None
    return KeyIdentity(id=row.id, name=row.name, scopes=frozenset(row.scopes.split(",")))


def list_keys(session: Session) -> list[ApiKey]:
    """Every key, newest first (without secrets: only prefixes are stored)."""
    return list(session.scalars(select(ApiKey).order_by(ApiKey.id.desc())))


def revoke_key(session: Session, *, prefix: str) -> None:
    """Revoke the key with this prefix; it stops working at once."""
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None:
        raise NotFoundError(f"no key with prefix {prefix!r}")
    row.revoked_at = utcnow()
