"""People who sign in to the console: created with a role, checked by password (Argon2id),
listed, and disabled rather than deleted (the audit trail names them)."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from engine.db import insert_ignoring_conflicts
from engine.errors import ConflictError, InvalidInput, NotFoundError
from engine.models import ROLES, ConsoleSession, User, utcnow

MIN_PASSWORD = 12
SESSION_HOURS = 8
_HASHER = PasswordHasher()
# Checked against when no such account exists, so a wrong email takes as long as a wrong
# password and does not tell an attacker which addresses have accounts.
_DECOY = _HASHER.hash("no such account, compared against to take the same time")


@dataclass(frozen=True)
class UserRead:
    """A person as listed: never their password hash."""

    id: int
    email: str
    role: str
    disabled_at: datetime | None
    created_at: datetime


def _normalized(email: str) -> str:
    """The address as stored: trimmed and lower-case (one account per mailbox)."""
    value = email.strip().lower()
    if "@" not in value or len(value) > 320 or any(c.isspace() for c in value):
        raise InvalidInput("is not an email address", field="email")
    return value


def create_user(session: Session, *, email: str, password: str, role: str) -> UserRead:
    """A new person with a role; a password shorter than MIN_PASSWORD is refused."""
    if role not in ROLES:
        raise InvalidInput(f"must be one of {', '.join(ROLES)}", field="role")
    if len(password) < MIN_PASSWORD:
        raise InvalidInput(f"needs at least {MIN_PASSWORD} characters", field="password")
    address = _normalized(email)
    row = {"email": address, "password_hash": _HASHER.hash(password), "role": role}
    if not insert_ignoring_conflicts(session, User, row, key=["email"]):
        raise ConflictError(f"a user {address!r} exists already", field="email")
    user = session.scalars(select(User).where(User.email == address)).one()
    return _read(user)


def list_users(session: Session) -> list[UserRead]:
    """Everyone, in the order they were created."""
    return [_read(user) for user in session.scalars(select(User).order_by(User.id))]


def disable_user(session: Session, *, email: str) -> UserRead:
    """Stop a person signing in from now on (their history stays)."""
    user = session.scalars(select(User).where(User.email == _normalized(email))).first()
    if user is None:
        raise NotFoundError(f"no user {email!r}")
    if user.disabled_at is None:
        user.disabled_at = utcnow()
    return _read(user)


def authenticate(session: Session, *, email: str, password: str) -> UserRead | None:
    """The person these credentials belong to, or None (unknown, disabled, or wrong)."""
    try:
        address = _normalized(email)
    except InvalidInput:
        return None
    user = session.scalars(select(User).where(User.email == address)).first()
    try:
        _HASHER.verify(user.password_hash if user else _DECOY, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None or user.disabled_at is not None:
        return None
    if _HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = _HASHER.hash(password)
    return _read(user)


def _read(user: User) -> UserRead:
    return UserRead(
        id=user.id,
        email=user.email,
        role=user.role,
        disabled_at=user.disabled_at,
        created_at=user.created_at,
    )


@dataclass(frozen=True)
class SignedIn:
    """A browser's console session: the id its cookie carries, and the token its forms do."""

    session_id: str
    csrf: str
    user: UserRead
    expires_at: datetime


def _hashed(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start_session(session: Session, *, user: UserRead, now: datetime | None = None) -> SignedIn:
    """A new session for a person who just signed in, good for SESSION_HOURS."""
    now = now or utcnow()
    # Sessions past their time are of no use to anyone: swept as new ones start.
    session.execute(delete(ConsoleSession).where(ConsoleSession.expires_at < now))
    session_id, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    expires_at = now + timedelta(hours=SESSION_HOURS)
    session.add(
        ConsoleSession(
            id=_hashed(session_id),
            user_id=user.id,
            csrf=csrf,
            created_at=now,
            expires_at=expires_at,
        )
    )
    return SignedIn(session_id=session_id, csrf=csrf, user=user, expires_at=expires_at)


def find_session(
    session: Session, *, session_id: str, now: datetime | None = None
) -> SignedIn | None:
    """The live session with this id, or None (unknown, expired, signed out, or its person
    disabled)."""
    row = session.execute(
        select(ConsoleSession, User)
        .join(User, User.id == ConsoleSession.user_id)
        .where(ConsoleSession.id == _hashed(session_id))
    ).first()
    if row is None:
        return None
    found, user = row
    if found.expires_at <= (now or utcnow()) or user.disabled_at is not None:
        return None
    return SignedIn(
        session_id=session_id, csrf=found.csrf, user=_read(user), expires_at=found.expires_at
    )


def end_session(session: Session, *, session_id: str) -> None:
    """Sign a browser out: its cookie no longer opens anything."""
    session.execute(delete(ConsoleSession).where(ConsoleSession.id == _hashed(session_id)))
