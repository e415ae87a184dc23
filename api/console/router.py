"""Putting the console into the app: its pages, its static files, and how it answers a
request that is not signed in or not allowed."""

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from api.console import customers, login, results, review, status, trends, voice
from api.console.auth import Refused, SignInLimiter, SignInRequired
from api.console.pages import STATIC, error_page, is_htmx


def install_console(app: FastAPI) -> None:
    """Serve the console under /app, with / sending people there."""
    app.state.signin_limiter = SignInLimiter()
    app.mount("/app/static", StaticFiles(directory=STATIC), name="console-static")
    for module in (login, review, customers, trends, results, voice, status):
        app.include_router(module.router, include_in_schema=False)

    @app.get("/", include_in_schema=False)
    def home() -> RedirectResponse:
        return RedirectResponse("/app", status_code=307)

    @app.exception_handler(SignInRequired)
    async def _sign_in(request: Request, _: SignInRequired) -> Response:
        target = f"/app/login?next={quote(request.url.path, safe='/')}"
        if is_htmx(request):  # htmx swaps fragments: tell it to load the whole page instead
            return Response(status_code=204, headers={"HX-Redirect": target})
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(Refused)
    async def _refused(request: Request, exc: Refused) -> HTMLResponse:
        return error_page(request, exc.status, exc.message)
