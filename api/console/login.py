"""Signing in and out of the console."""

import math
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.console.auth import (
    COOKIE,
    LOGIN_COOKIE,
    FormDep,
    SignInLimiter,
    ViewerDep,
    cookie_value,
    new_login_token,
    same_token,
)
from api.console.pages import render
from api.deps import DatabaseDep, SettingsDep
from engine.settings import Settings
from engine.users import SESSION_HOURS, authenticate, end_session, start_session

router = APIRouter(prefix="/app")


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a console page, never another site."""
    if target and target.startswith("/app") and not target.startswith("/app//"):
        return target
    return "/app"


def _secure(request: Request, settings: Settings) -> bool:
    """Cookies are Secure when the console is reached over https."""
    return request.url.scheme == "https" or (settings.public_url or "").startswith("https://")


def _form(
    request: Request, settings: Settings, *, error: str | None, email: str, status: int
) -> HTMLResponse:
    token = new_login_token()
    response = render(
        request,
        "login.html",
        viewer=None,
        title="Sign in",
        error=error,
        email=email,
        login_token=token,
        next=_safe_next(request.query_params.get("next")),
        status_code=status,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=_secure(request, settings),
        path="/app/login",
    )
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_page(request: Request, settings: SettingsDep) -> HTMLResponse:
    """The sign-in form."""
    return _form(request, settings, error=None, email="", status=200)


@router.post("/login", include_in_schema=False)
def login(
    request: Request,
    db: DatabaseDep,
    settings: SettingsDep,
    email: Annotated[str, Form(max_length=320)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    login_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/app",
) -> Response:
    """Check the password; on success, a session cookie and the page asked for."""
    if not same_token(login_token, request.cookies.get(LOGIN_COOKIE) or ""):
        return _form(
            request,
            settings,
            error="The sign-in form expired. Please try again.",
            email=email,
            status=403,
        )
    limiter: SignInLimiter = request.app.state.signin_limiter
    account = email.strip().lower()
    address = request.client.host if request.client else "unknown"
    wait = limiter.wait(account=account, address=address)
    if wait > 0:
        minutes = max(1, math.ceil(wait / 60))
        return _form(
            request,
            settings,
            error=f"Too many failed sign-ins. Try again in {minutes} minute"
            f"{'s' if minutes > 1 else ''}.",
            email=email,
            status=429,
        )
    with db.write() as session:
        user = authenticate(session, email=email, password=password)
        signed_in = start_session(session, user=user) if user else None
    if signed_in is None:
        limiter.failed(account=account, address=address)
        return _form(request, settings, error="Wrong email or password.", email=email, status=401)
    limiter.succeeded(account=account)
    response = RedirectResponse(_safe_next(next), status_code=303)
    response.set_cookie(
        COOKIE,
        cookie_value(request, signed_in),
        max_age=SESSION_HOURS * 3600,
        httponly=True,
        samesite="lax",
        secure=_secure(request, settings),
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/app/login")
    return response


@router.post("/logout", include_in_schema=False)
def logout(viewer: ViewerDep, _: FormDep, db: DatabaseDep) -> Response:
    """End this browser's session."""
    with db.write() as session:
        end_session(session, session_id=viewer.session_id)
    response = RedirectResponse("/app/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
