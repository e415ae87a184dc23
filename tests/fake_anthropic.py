"""A fake Anthropic API on a real local HTTP server, for driving the real SDK in tests: the
Messages endpoint, the Message Batches endpoints and the results file. It records every request
and can be scripted to fail."""

import json
import re
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

MODEL = "claude-sonnet-4-6"
_BATCH = re.compile(r"^/v1/messages/batches/([A-Za-z0-9_-]+)(/results|/cancel)?$")


@dataclass
class Recorded:
    """One request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Failure:
    """A scripted error answer."""

    status: int
    error_type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)


def tool_input(body: dict[str, Any]) -> dict[str, Any]:
    """A valid write_email input for a Messages request body."""
    return {
        "subject": "Your grinder, dialled in",
        "preheader": "One tip for the first week",
        "body": "Hi there,\n\nThanks for your order.\n\nThe team",
        "fact_ids": [11],
        "evidence": [
            {"sentence": "Thanks for your order.", "fact_ids": [11], "skus": ["G-1"], "intents": []}
        ],
        "products": ["Burr Grinder"],
    }


def tool_message(
    content_input: dict[str, Any],
    *,
    usage: dict[str, Any] | None = None,
    content: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A Messages API answer carrying one write_email call (or the given content)."""
    return {
        "id": "msg_fake",
        "type": "message",
        "role": "assistant",
        "model": MODEL,
        "content": content
        if content is not None
        else [
            {"type": "tool_use", "id": "toolu_fake", "name": "write_email", "input": content_input}
        ],
        "stop_reason": "tool_use" if content is None else "end_turn",
        "stop_sequence": None,
        "usage": usage
        or {
            "input_tokens": 120,
            "output_tokens": 210,
            "cache_read_input_tokens": 1500,
            "cache_creation_input_tokens": None,
        },
    }


class FakeAnthropic:
    """The fake API's state: recorded requests, scripted failures, batches."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.failures: deque[Failure] = deque()
        # Answers a Messages request body with a whole Message JSON.
        self.respond: Callable[[dict[str, Any]], dict[str, Any]] = lambda body: tool_message(
            tool_input(body)
        )
        # custom_ids whose batch result is "errored" (or another non-success type).
        self.batch_outcomes: dict[str, str] = {}
        # How many retrieves see the batch still in progress before it ends.
        self.polls_before_end = 1
        self.batches: dict[str, dict[str, Any]] = {}
        self.base_url = ""
        self._lock = threading.Lock()

    def fail_next(
        self, status: int = 529, *, error_type: str = "overloaded_error", times: int = 1
    ) -> None:
        """Answer the next `times` requests with an error (retry-after-ms keeps retries fast)."""
        for _ in range(times):
            self.failures.append(
                Failure(status, error_type, "scripted failure", {"retry-after-ms": "1"})
            )

    def paths(self, method: str | None = None) -> list[str]:
        """The paths requested, in order."""
        return [r.path for r in self.requests if method is None or r.method == method]

    def message_bodies(self) -> list[dict[str, Any]]:
        """The JSON bodies of every POST /v1/messages."""
        return [r.body for r in self.requests if r.method == "POST" and r.path == "/v1/messages"]

    def handle(
        self, method: str, path: str, headers: dict[str, str], body: Any
    ) -> tuple[int, dict[str, str], bytes]:
        """One request in, (status, headers, body) out."""
        with self._lock:
            self.requests.append(Recorded(method, path, headers, body))
            failure = self.failures.popleft() if self.failures else None
        if failure is not None:
            error = {
                "type": "error",
                "error": {"type": failure.error_type, "message": failure.message},
            }
            return failure.status, failure.headers, json.dumps(error).encode()
        if method == "POST" and path == "/v1/messages":
            return 200, {}, json.dumps(self.respond(body)).encode()
        if method == "POST" and path == "/v1/messages/batches":
            return 200, {}, json.dumps(self._create_batch(body)).encode()
        match = _BATCH.match(path)
        if match is None or match.group(1) not in self.batches:
            error = {"type": "error", "error": {"type": "not_found_error", "message": path}}
            return 404, {}, json.dumps(error).encode()
        batch_id, tail = match.group(1), match.group(2)
        if method == "GET" and tail is None:
            return 200, {}, json.dumps(self._retrieve(batch_id)).encode()
        if method == "GET" and tail == "/results":
            return 200, {"content-type": "application/binary"}, self._results(batch_id)
        if method == "POST" and tail == "/cancel":
            self.batches[batch_id]["cancelled"] = True
            return 200, {}, json.dumps(self._batch_json(batch_id, "canceling")).encode()
        return 405, {}, b"{}"

    def _create_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        batch_id = f"msgbatch_{len(self.batches) + 1:04d}"
        self.batches[batch_id] = {"requests": body["requests"], "polls": 0, "cancelled": False}
        return self._batch_json(batch_id, "in_progress")

    def _retrieve(self, batch_id: str) -> dict[str, Any]:
        batch = self.batches[batch_id]
        batch["polls"] += 1
        ended = self.polls_before_end >= 0 and batch["polls"] > self.polls_before_end
        return self._batch_json(batch_id, "ended" if ended else "in_progress")

    def _batch_json(self, batch_id: str, status: str) -> dict[str, Any]:
        count = len(self.batches[batch_id]["requests"])
        ended = status == "ended"
        return {
            "id": batch_id,
            "type": "message_batch",
            "processing_status": status,
            "request_counts": {
                "processing": 0 if ended else count,
                "succeeded": count if ended else 0,
                "errored": 0,
                "canceled": 0,
                "expired": 0,
            },
            "created_at": "2026-11-20T12:00:00Z",
            "expires_at": "2026-11-21T12:00:00Z",
            "ended_at": "2026-11-20T12:05:00Z" if ended else None,
            "archived_at": None,
            "cancel_initiated_at": None,
            "results_url": f"{self.base_url}/v1/messages/batches/{batch_id}/results"
            if ended
            else None,
        }

    def _results(self, batch_id: str) -> bytes:
        lines = []
        # Reversed: the real API does not promise request order either.
        for item in reversed(self.batches[batch_id]["requests"]):
            custom_id = item["custom_id"]
            outcome = self.batch_outcomes.get(custom_id, "succeeded")
            result: dict[str, Any]
            if outcome == "succeeded":
                result = {"type": "succeeded", "message": self.respond(item["params"])}
            elif outcome == "errored":
                result = {
                    "type": "errored",
                    "error": {
                        "type": "error",
                        "error": {"type": "invalid_request_error", "message": "bad request"},
                    },
                }
            else:
                result = {"type": outcome}
            lines.append(json.dumps({"custom_id": custom_id, "result": result}))
        return ("\n".join(lines) + "\n").encode()


def _handler(fake: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read the recorded requests instead."""

        def _serve(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, extra, payload = fake.handle(method, self.path.split("?")[0], headers, body)
            headers_out = {"content-type": "application/json"} | extra
            self.send_response(status)
            for name, value in headers_out.items():
                self.send_header(name, value)
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:
            self._serve("GET")

        def do_POST(self) -> None:
            self._serve("POST")

    return Handler


@contextmanager
def serve_fake_anthropic() -> Iterator[FakeAnthropic]:
    """A FakeAnthropic listening on 127.0.0.1 (a free port) in a thread, until the block ends."""
    fake = FakeAnthropic()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
