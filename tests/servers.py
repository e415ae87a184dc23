"""A real HTTP server for tests that must cross a socket (path decoding, access logs)."""

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import uvicorn


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def running(app: Any) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, with its access log on."""
    port = free_port()
    # log_config=None: uvicorn's records reach the root logger, where caplog sees them.
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=True)
    )
    thread = threading.Thread(target=server.run)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join()


def recording_transport(received: list[httpx.Request]) -> httpx.MockTransport:
    """An HTTP transport that answers 204 to every request and keeps each in `received`."""

    def answer(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    return httpx.MockTransport(answer)
