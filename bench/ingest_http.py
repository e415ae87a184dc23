"""Messages accepted per second by POST /v1/messages against `personalize serve` on loopback.

Starts the server on the embedded default (a fresh SQLite home), streams messages from N
concurrent keep-alive clients for D seconds, prints throughput and p50/p99 latency, then
checks that every accepted message is in the database.

    .venv/bin/python bench/ingest_http.py [--clients 16] [--seconds 20]
"""

import argparse
import asyncio
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Run as a script, bench/ is on the path: its sibling holds the shared helpers.
from _net import free_port

BIN = Path(sys.executable).parent


def start_server(home: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    # The benchmark is one key at full speed: the per-key rate limit would measure itself.
    env = {**os.environ, "PERSONALIZE_HOME": str(home), "RATE_LIMIT_PER_SECOND": "0"}
    env.pop("DATABASE_URL", None)
    created = subprocess.run(
        [BIN / "personalize", "keys", "create", "--scope", "ingest", "--name", "bench", "--json"],
        env=env,
        check=True,
        capture_output=True,
    )
    key = json.loads(created.stdout)["key"]
    server = subprocess.Popen(
        [BIN / "personalize", "serve", "--port", str(port), "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, key
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("server did not start")


async def client(
    number: int,
    port: int,
    key: str,
    stop_at: float,
    latencies: list[float],
    accepted: list[str],
    errors: list[str],
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    sequence = 0
    while time.monotonic() < stop_at:
        sequence += 1
        message_id = f"bench-{number}-{sequence}"
        body = json.dumps(
            {
                "conversation_id": f"bench-conv-{number}-{sequence // 20}",
                "customer": {"id": f"bench-customer-{number}-{sequence // 100}"},
                "message": {
                    "id": message_id,
                    "role": "customer",
                    "text": f"hi, message {sequence}: can't get the grinder to stop clicking",
                    "sent_at": "2026-11-20T10:00:00Z",
                },
            }
        ).encode()
        request = (
            f"POST /v1/messages HTTP/1.1\r\nhost: 127.0.0.1\r\nauthorization: Bearer {key}\r\n"
            f"content-type: application/json\r\ncontent-length: {len(body)}\r\n\r\n"
        ).encode() + body
        started = time.perf_counter()
        writer.write(request)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await reader.readexactly(length)
        latencies.append(time.perf_counter() - started)
        if b" 202 " in status_line:
            accepted.append(message_id)
        else:
            errors.append(status_line.decode().strip())
    writer.close()


async def run(
    port: int, key: str, clients: int, seconds: float
) -> tuple[list[float], list[str], list[str]]:
    latencies: list[float] = []
    accepted: list[str] = []
    errors: list[str] = []
    stop_at = time.monotonic() + seconds
    await asyncio.gather(
        *(client(n, port, key, stop_at, latencies, accepted, errors) for n in range(clients))
    )
    return latencies, accepted, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        home = Path(tmp)
        port = free_port()
        server, key = start_server(home, port)
        try:
            started = time.monotonic()
            latencies, accepted, errors = asyncio.run(run(port, key, args.clients, args.seconds))
            elapsed = time.monotonic() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
        with sqlite3.connect(home / "personalize.db") as conn:
            conn.execute("CREATE TEMP TABLE accepted (id TEXT PRIMARY KEY)")
            conn.executemany("INSERT INTO accepted VALUES (?)", [(i,) for i in accepted])
            stored = conn.execute(
                "SELECT count(*) FROM accepted JOIN messages ON messages.message_id = accepted.id"
            ).fetchone()[0]
    cuts = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    print(f"clients: {args.clients}, duration: {elapsed:.1f} s, requests: {len(latencies)}")
    print(f"accepted: {len(accepted)} messages, {len(accepted) / elapsed:,.0f} messages/s")
    print(f"latency p50: {cuts[49] * 1000:.1f} ms, p99: {cuts[98] * 1000:.1f} ms")
    print(f"errors: {len(errors)} {sorted(set(errors))[:3] if errors else ''}")
    print(f"accepted and found in the database: {stored} of {len(accepted)}")
    if stored != len(accepted) or errors:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
