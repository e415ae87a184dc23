"""A guard in front of every route: bodies over the size limit get 413, non-UTF-8 or too deeply
nested JSON 422."""

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import error_body

MAX_BODY_BYTES = 8 * 1024 * 1024


class BodyGuard:
    """Reads a request body once, refuses it if too large or not UTF-8, then replays it."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send, 413, "too_large", f"body over {self.max_bytes} bytes")
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(send, 413, "too_large", f"body over {self.max_bytes} bytes")
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if b"json" in headers.get(b"content-type", b"application/json"):
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as error:
                await self._refuse(
                    send, 422, "invalid", f"body is not valid UTF-8 (byte {error.start})", "body"
                )
                return
            if _nested_too_deeply(text):
                # FastAPI would answer 400 with no field; every other unreadable body is a 422.
                await self._refuse(
                    send, 422, "invalid", "body is not valid JSON: nested too deeply", "body"
                )
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    @staticmethod
    async def _refuse(
        send: Send, status: int, code: str, message: str, field: str | None = None
    ) -> None:
        payload: dict[str, Any] = error_body(code, message, field=field)
        data = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})


# Python's JSON parser gives up near a thousand levels (RecursionError), which FastAPI answers
# with a bare 400. A body with fewer opening brackets than this cannot nest that deep, so only
# bodies with many brackets are parsed a second time here.
_CHECK_DEPTH_OVER_BRACKETS = 500


def _nested_too_deeply(text: str) -> bool:
    """Whether a JSON body nests deeper than Python's parser can read."""
    if text.count("[") + text.count("{") <= _CHECK_DEPTH_OVER_BRACKETS:
        return False
    try:
        json.loads(text)
    except RecursionError:
        return True
    except ValueError:
        return False  # not JSON at all: the route says so, naming the body
    return False
