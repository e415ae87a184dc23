"""Rendering a console page: the templates, what every page gets (the person, the CSRF
token, the menu), and the headers that keep it from being framed or fed foreign scripts."""

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from api.console.auth import CSRF_FIELD, CSRF_HEADER, Viewer, optional_viewer

HERE = Path(__file__).parent
STATIC = HERE / "static"
templates = Jinja2Templates(directory=HERE / "templates")

# (path, label): the menu, in the order a reviewer's day goes.
MENU = [
    ("/app", "Review"),
    ("/app/search", "Customers asking about"),
    ("/app/trends", "Trends"),
    ("/app/results", "Results"),
    ("/app/voice", "Voice guide"),
    ("/app/status", "Status"),
]

# Vega compiles chart expressions with `new Function`, hence 'unsafe-eval'; no inline script
# runs anywhere (chart specs travel as JSON data blocks), and nothing loads from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self' 'unsafe-eval'; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; "
        "base-uri 'none'; object-src 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def render(
    request: Request,
    template: str,
    *,
    viewer: Viewer | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """A page (or, for htmx, a fragment) with what every template may use."""
    context.setdefault("title", "")
    response = templates.TemplateResponse(
        request,
        template,
        {
            "viewer": viewer,
            "csrf": viewer.csrf if viewer else None,
            "csrf_field": CSRF_FIELD,
            "csrf_header": CSRF_HEADER,
            "menu": MENU,
            "path": request.url.path,
            **context,
        },
        status_code=status_code,
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def is_htmx(request: Request) -> bool:
    """Whether htmx sent the request (it wants a fragment, not a whole page)."""
    return request.headers.get("HX-Request") == "true"


def error_page(request: Request, status_code: int, message: str) -> HTMLResponse:
    """A console error as a page a person can read (the /v1 API answers JSON instead)."""
    return render(
        request,
        "error.html",
        viewer=optional_viewer(request),
        title="Something went wrong" if status_code >= 500 else "Not possible",
        message=message,
        status=status_code,
        status_code=status_code,
    )
