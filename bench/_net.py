"""Network helpers the benchmark scripts share (a module, not a benchmark: it prints nothing).

The scripts run as `python bench/<script>.py`, so this directory is first on sys.path and they
import it by its bare name, as campaign.py imports claude_tokens. tests/servers.py keeps its own
free_port: a script here cannot import `tests.servers` (the repository root is not on its path),
and a test importing `bench._net` would give mypy this file under two names (`_net` through
mypy_path, `bench._net`)."""

import socket


def free_port() -> int:
    """A TCP port free on the loopback interface right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
