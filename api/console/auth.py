"""Who is looking at the console: the signed session cookie, the CSRF token every form carries,
roles, and the limit on failed sign-ins."""

import hmac
import secrets
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from itsdangerous import BadSignature, Signer
from starlette.datastructures import FormData

from api.deps import DatabaseDep
from engine.db import Database, stored_secret
from engine.users import SignedIn, UserRead, find_session

COOKIE = "personalize_session"
LOGIN_COOKIE = "personalize_login"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SESSION_KEY = "console_session_key"


class SignInRequired(Exception):
    """The request has no live session: the console sends it to the sign-in page."""


class Refused(Exception):
    """A signed-in person may not do this (a missing CSRF token, or a role they lack)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Viewer:
    """The person signed in, and the token their forms must send back."""

    user: UserRead
    csrf: str
    session_id: str

    @property
    def actor(self) -> str:
        """How the audit trail names them: the person, not a key."""
        return self.user.email

    @property
    def is_admin(self) -> bool:
        """Admins may also forget customers."""
        return self.user.role == "admin"


def signer(request: Request) -> Signer:
    """Signs the session cookie with a key the product keeps in its database (read once)."""
    state = request.app.state
    if getattr(state, "console_signer", None) is None:
        db: Database = state.db
        state.console_signer = Signer(stored_secret(db, SESSION_KEY), salt="console-session")
    made: Signer = state.console_signer
    return made


def cookie_value(request: Request, signed_in: SignedIn) -> str:
    """The session cookie's value: the session id, signed."""
    return signer(request).sign(signed_in.session_id).decode()


def session_id_of(request: Request) -> str | None:
    """The session id the request's cookie carries, if its signature holds."""
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        return signer(request).unsign(raw).decode()
    except BadSignature:
        return None


def current_viewer(request: Request, db: DatabaseDep) -> Viewer:
    """The signed-in person; a request without a live session goes to the sign-in page."""
    session_id = session_id_of(request)
    if session_id is None:
        raise SignInRequired()
    with db.read() as session:
        found = find_session(session, session_id=session_id)
    if found is None:
        raise SignInRequired()
    return Viewer(user=found.user, csrf=found.csrf, session_id=session_id)


ViewerDep = Annotated[Viewer, Depends(current_viewer)]


def optional_viewer(request: Request) -> Viewer | None:
    """The signed-in person if there is one (an error page still shows them the menu)."""
    try:
        return current_viewer(request, request.app.state.db)
    except SignInRequired:
        return None


def same_token(sent: str | None, expected: str) -> bool:
    """Whether a sent CSRF token is the expected one (compared in constant time)."""
    return bool(sent) and hmac.compare_digest(str(sent).encode(), expected.encode())


async def posted_form(request: Request, viewer: ViewerDep) -> FormData:
    """The posted form, refused unless it carries the session's CSRF token (as a field, or as
    the header htmx sends)."""
    form = await request.form()
    sent = form.get(CSRF_FIELD) or request.headers.get(CSRF_HEADER)
    if not same_token(sent if isinstance(sent, str) else None, viewer.csrf):
        raise Refused(
            403,
            "This form is out of date or was not sent by the console. "
            "Reload the page and try again.",
        )
    return form


FormDep = Annotated[FormData, Depends(posted_form)]


def admin_viewer(viewer: ViewerDep) -> Viewer:
    """The signed-in person, who must be an admin."""
    if not viewer.is_admin:
        raise Refused(403, "Only an admin can do this.")
    return viewer


AdminDep = Annotated[Viewer, Depends(admin_viewer)]


def new_login_token() -> str:
    """The token a sign-in form carries before there is a session (double-submitted)."""
    return secrets.token_urlsafe(24)


class SignInLimiter:
    """Failed sign-ins, counted per address and per account over a sliding window: past the
    limit, further attempts are refused until the oldest failure ages out."""

    def __init__(
        self, *, per_account: int = 5, per_address: int = 20, window_seconds: float = 900
    ) -> None:
        self.per_account = per_account
        self.per_address = per_address
        self.window = window_seconds
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures[key]
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def wait(self, *, account: str, address: str) -> float:
        """Seconds until this account may try again from this address (0: now)."""
        now = time.monotonic()
        with self._lock:
            waits = [
                times[0] + self.window - now
                for key, limit in (
                    (f"account:{account}", self.per_account),
                    (f"address:{address}", self.per_address),
                )
                if len(times := self._recent(key, now)) >= limit
            ]
        return max(waits, default=0.0)

    def failed(self, *, account: str, address: str) -> None:
        """Count a failed sign-in against both."""
        now = time.monotonic()
        with self._lock:
            for key in (f"account:{account}", f"address:{address}"):
                self._recent(key, now).append(now)

    def succeeded(self, *, account: str) -> None:
        """A right password clears the account's count (not the address's)."""
        with self._lock:
            self._failures.pop(f"account:{account}", None)
