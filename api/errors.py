"""Every error as JSON `{"error": {"code", "message", "field"?}}`."""

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy.exc import DataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.console.pages import error_page
from chat_ingest.schemas import field_path
from engine.errors import EngineError

log = logging.getLogger(__name__)

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "invalid",
    429: "rate_limited",
}


def error_body(
    code: str, message: str, *, field: str | None = None, **extra: Any
) -> dict[str, Any]:
    """The JSON body of an error response."""
    error: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        error["field"] = field
    error.update(extra)
    return {"error": error}


def error_response(
    status: int, code: str, message: str, *, field: str | None = None, **extra: Any
) -> JSONResponse:
    """An error response with our JSON shape."""
    return JSONResponse(error_body(code, message, field=field, **extra), status_code=status)


# Our exceptions carry a code; the code decides the HTTP status.
_ENGINE_STATUS = {
    "invalid": 422,
    "invalid_scope": 422,
    "not_found": 404,
    "conflict": 409,
    "bad_signature": 401,
    "no_consent": 409,
    "drafting_failed": 502,
}


def _describe(error: dict[str, Any]) -> dict[str, str]:
    """One validation problem as {field, message}; a JSON syntax error is about the body."""
    if error.get("type") == "json_invalid":
        position = error["loc"][-1] if error.get("loc") else "?"
        reason = (error.get("ctx") or {}).get("error", "invalid JSON")
        return {"field": "body", "message": f"invalid JSON at character {position}: {reason}"}
    return {"field": field_path(tuple(error["loc"])), "message": error["msg"]}


def _on_console(request: Request) -> bool:
    """Whether a person's browser asked (the console's pages answer errors as pages)."""
    return request.url.path == "/app" or request.url.path.startswith("/app/")


def install_error_handlers(app: FastAPI) -> None:
    """Map framework and project exceptions onto the JSON error shape (a page on the console)."""

    @app.exception_handler(RequestValidationError)
    async def _validation(
        request: Request, exc: RequestValidationError
    ) -> JSONResponse | HTMLResponse:
        errors = [_describe(e) for e in exc.errors()]
        first = errors[0] if errors else {"field": "body", "message": "invalid request"}
        if _on_console(request):
            return error_page(request, 422, f"{first['field']}: {first['message']}")
        return error_response(422, "invalid", first["message"], field=first["field"], errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse | HTMLResponse:
        response: JSONResponse | HTMLResponse
        if _on_console(request):
            response = error_page(request, exc.status_code, str(exc.detail))
        else:
            response = error_response(
                exc.status_code, _STATUS_CODES.get(exc.status_code, "error"), str(exc.detail)
            )
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(DataError)
    async def _data(_: Request, exc: DataError) -> JSONResponse:
        # A value that passed validation but not the database (a number out of its column's
        # range, a NUL character): the caller's to fix, so 422, never a 500. The database's
        # message is not echoed: it quotes the values, which can be personal.
        log.warning("the database refused a value: %s", type(exc.orig).__name__)
        return error_response(
            422, "invalid", "a value the database cannot store (out of range, or a NUL character)"
        )

    @app.exception_handler(EngineError)
    async def _engine(request: Request, exc: EngineError) -> JSONResponse | HTMLResponse:
        message = getattr(exc, "message", None) or str(exc)
        status = _ENGINE_STATUS.get(exc.code, 500)
        if _on_console(request):
            return error_page(request, status, message)
        return error_response(status, exc.code, message, field=getattr(exc, "field", None))
