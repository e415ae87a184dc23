"""Provider events accepted per second by POST /v1/webhooks/email/sendgrid against `personalize
serve` on loopback.

Builds a fresh embedded home with N customers, each with one sent draft (customers, drafts and
`email_sends` rows written straight into the database: events for drafts we never sent are
dropped), starts the server on it, and streams SendGrid Event Webhook batches (JSON arrays of
100 events: delivered, open, click and bounce, each with its own `sg_event_id` and the draft id
echoed as a top-level key) from concurrent keep-alive clients for D seconds, resending about 2%
of the batches as SendGrid does after a timeout. Prints throughput and p50/p99 batch latency,
then checks that every distinct event id sent is stored exactly once in `email_events`.
Goal: 5,000 events/s.

Unsigned by default (SENDGRID_WEBHOOK_PUBLIC_KEY unset: the server checks no signature);
`--signed` makes a P-256 key pair, gives the server its public key and signs every batch
(ECDSA over the timestamp header followed by the body), as SendGrid does.

    .venv/bin/python bench/events.py [--clients 8] [--seconds 20] [--drafts 1000] [--signed]
"""

import argparse
import asyncio
import base64
import json
import os
import random
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Run as a script, bench/ is on the path: its sibling holds the shared helpers.
from _net import free_port
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import insert

from engine.db import Database
from engine.email.providers import SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER
from engine.models import DRAFT_KINDS, Customer, Draft, EmailSend
from engine.settings import Settings

BIN = Path(sys.executable).parent
GOAL = 5_000  # events per second
BATCH = 100
RESEND = 0.02  # the share of batches sent twice
SENT_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
# The mix of one batch: most events are deliveries and opens, a few bounce (a third of those
# hard, which suppresses the address: the server's list hygiene runs as it would in earnest).
MIX = [("delivered", 45), ("open", 35), ("click", 17), ("bounce", 3)]


def build_sent(home: Path, drafts: int) -> list[tuple[int, str]]:
    """N consenting customers with one sent draft each; their (draft id, email)."""
    settings = Settings(personalize_home=home, database_url=None, qdrant_url=None)
    db = Database(settings)
    db.migrate()
    customers = [
        {
            "id": f"cus_{n:06d}",
            "email": f"cus_{n:06d}@example.com",
            "first_name": "Sam",
            "subscribed_at": SENT_AT - timedelta(days=30),
            "marketing_consent": True,
        }
        for n in range(drafts)
    ]
    rows: list[dict[str, Any]] = [
        {
            "id": n + 1,
            "customer_id": f"cus_{n:06d}",
            "kind": DRAFT_KINDS[n % len(DRAFT_KINDS)],
            "step": "first",
            "anchor": "bench",
            "status": "sent",
            "subject": "Your grinder",
            "preheader": "A note from the shop",
            "body": "Hi Sam, thanks for your order.",
            "original": {},
            "fact_ids": [],
            "evidence": [],
            "context": {},
            "problems": [],
            "drafter": "template",
            "template": "bench",
            "reviewed_at": SENT_AT - timedelta(hours=1),
            "reviewed_by": "bench",
        }
        for n in range(drafts)
    ]
    sends = [
        {
            "draft_id": n + 1,
            "customer_id": f"cus_{n:06d}",
            "message_id": f"<bench-{n + 1}@shop.example>",
            "transport": "smtp",
            "state": "sent",
            "attempts": 1,
            "next_attempt_at": SENT_AT,
            "sent_at": SENT_AT,
        }
        for n in range(drafts)
    ]
    with db.write() as session:
        for model, values in ((Customer, customers), (Draft, rows), (EmailSend, sends)):
            for start in range(0, len(values), 5000):
                session.execute(insert(model), values[start : start + 5000])
    db.dispose()
    return [(n + 1, f"cus_{n:06d}@example.com") for n in range(drafts)]


def start_server(
    home: Path, port: int, extra_env: dict[str, str]
) -> tuple[subprocess.Popen[bytes], str]:
    """`personalize serve` on the home (the per-key rate limit off), and an ingest-scope key."""
    env = {**os.environ, "PERSONALIZE_HOME": str(home), "RATE_LIMIT_PER_SECOND": "0"}
    for name in ("DATABASE_URL", "SENDGRID_WEBHOOK_PUBLIC_KEY"):
        env.pop(name, None)
    env.update(extra_env)
    created = subprocess.run(
        [BIN / "personalize", "keys", "create", "--scope", "ingest", "--name", "bench", "--json"],
        env=env,
        check=True,
        capture_output=True,
    )
    key = json.loads(created.stdout)["key"]
    log = (home / "serve.log").open("wb")
    server = subprocess.Popen(
        [BIN / "personalize", "serve", "--port", str(port), "--no-access-log"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return server, str(key)
        except OSError:
            time.sleep(0.1)
    server.kill()
    raise SystemExit("server did not start: " + (home / "serve.log").read_text()[-2000:])


def sendgrid_event(
    rng: random.Random, event_id: str, draft: tuple[int, str], now: int
) -> dict[str, Any]:
    """One event as SendGrid's Event Webhook posts it, our draft id echoed (`unique_args`)."""
    draft_id, email = draft
    name = rng.choices([name for name, _ in MIX], [weight for _, weight in MIX])[0]
    item: dict[str, Any] = {
        "email": email,
        "timestamp": now,
        "smtp-id": f"<bench-{draft_id}@shop.example>",
        "event": name,
        "category": "bench",
        "sg_event_id": event_id,
        "sg_message_id": f"bench{draft_id}.filter0001.16648.5515E0B88.0",
        "draft_id": str(draft_id),
    }
    if name == "open":
        item |= {"useragent": "Mozilla/5.0", "ip": "192.0.2.1", "sg_machine_open": False}
    elif name == "click":
        item |= {"useragent": "Mozilla/5.0", "ip": "192.0.2.1", "url": "https://shop.example/"}
    elif name == "bounce":
        hard = rng.random() < 1 / 3
        item |= {
            "reason": "550 unknown recipient" if hard else "421 try again later",
            "status": "5.0.0" if hard else "4.0.0",
            "type": "bounce" if hard else "blocked",
        }
    return item


@dataclass
class Tally:
    """What the clients saw, together."""

    latencies: list[float] = field(default_factory=list)
    sent_ids: list[str] = field(default_factory=list)  # of accepted first sends
    events_accepted: int = 0  # every event in a 200 answer, resent ones too
    batches: int = 0
    resent_batches: int = 0
    stored: int = 0
    duplicates: int = 0
    unknown: int = 0
    errors: list[str] = field(default_factory=list)


async def client(
    number: int,
    port: int,
    key: str,
    drafts: list[tuple[int, str]],
    signer: ec.EllipticCurvePrivateKey | None,
    stop_at: float,
    tally: Tally,
) -> None:
    rng = random.Random(number)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def post(body: bytes) -> dict[str, Any] | None:
        headers = ""
        if signer is not None:
            timestamp = str(int(time.time()))
            signature = signer.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
            headers = (
                f"{SENDGRID_SIGNATURE_HEADER}: {base64.b64encode(signature).decode()}\r\n"
                f"{SENDGRID_TIMESTAMP_HEADER}: {timestamp}\r\n"
            )
        request = (
            "POST /v1/webhooks/email/sendgrid HTTP/1.1\r\nhost: 127.0.0.1\r\n"
            f"authorization: Bearer {key}\r\ncontent-type: application/json\r\n{headers}"
            f"content-length: {len(body)}\r\n\r\n"
        ).encode() + body
        started = time.perf_counter()
        writer.write(request)
        status_line = await reader.readline()
        length = 0
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.lower() == "content-length":
                length = int(value)
        answer = await reader.readexactly(length)
        tally.latencies.append(time.perf_counter() - started)
        tally.batches += 1
        if b" 200 " not in status_line:
            tally.errors.append(f"{status_line.decode().strip()} {answer[:200]!r}")
            return None
        report: dict[str, Any] = json.loads(answer)
        tally.events_accepted += BATCH
        tally.stored += report["stored"]
        tally.duplicates += report["duplicates"]
        tally.unknown += report["unknown"]
        return report

    sequence = 0
    while time.monotonic() < stop_at:
        sequence += 1
        now = int(time.time())
        ids = [f"bench-{number}-{sequence}-{n}" for n in range(BATCH)]
        body = json.dumps(
            [sendgrid_event(rng, i, drafts[rng.randrange(len(drafts))], now) for i in ids]
        ).encode()
        if await post(body) is not None:
            tally.sent_ids.extend(ids)
            # SendGrid resends a batch it got no answer for in time: the same events again.
            if rng.random() < RESEND:
                tally.resent_batches += 1
                await post(body)
    writer.close()


async def run(
    port: int,
    key: str,
    drafts: list[tuple[int, str]],
    signer: ec.EllipticCurvePrivateKey | None,
    clients: int,
    seconds: float,
) -> Tally:
    tally = Tally()
    stop_at = time.monotonic() + seconds
    await asyncio.gather(
        *(client(n, port, key, drafts, signer, stop_at, tally) for n in range(clients))
    )
    return tally


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--drafts", type=int, default=1000)
    parser.add_argument("--signed", action="store_true", help="sign batches, the server checks")
    args = parser.parse_args()
    signer: ec.EllipticCurvePrivateKey | None = None
    extra_env: dict[str, str] = {}
    if args.signed:
        signer = ec.generate_private_key(ec.SECP256R1())
        der = signer.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        extra_env["SENDGRID_WEBHOOK_PUBLIC_KEY"] = base64.b64encode(der).decode()
    with tempfile.TemporaryDirectory(prefix="bench-events-") as tmp:
        home = Path(tmp)
        drafts = build_sent(home, args.drafts)
        port = free_port()
        server, key = start_server(home, port, extra_env)
        try:
            started = time.monotonic()
            tally = asyncio.run(run(port, key, drafts, signer, args.clients, args.seconds))
            elapsed = time.monotonic() - started
        finally:
            server.terminate()
            server.wait(timeout=30)
        with sqlite3.connect(home / "personalize.db") as conn:
            rows, distinct = conn.execute(
                "SELECT count(*), count(DISTINCT event_id) FROM email_events"
                " WHERE provider = 'sendgrid'"
            ).fetchone()
            conn.execute("CREATE TEMP TABLE sent (id TEXT PRIMARY KEY)")
            conn.executemany("INSERT INTO sent VALUES (?)", [(i,) for i in tally.sent_ids])
            once = conn.execute(
                "SELECT count(*) FROM (SELECT sent.id FROM sent JOIN email_events e"
                " ON e.provider = 'sendgrid' AND e.event_id = sent.id"
                " GROUP BY sent.id HAVING count(*) = 1)"
            ).fetchone()[0]
            suppressed = conn.execute(
                "SELECT count(*) FROM customers WHERE suppressed_at IS NOT NULL"
            ).fetchone()[0]
    cuts = statistics.quantiles(tally.latencies, n=100) if len(tally.latencies) > 1 else [0.0] * 99
    rate = tally.events_accepted / elapsed
    sent = len(tally.sent_ids)
    signing = (
        "on (--signed: every batch ECDSA-signed, the server verifies)"
        if args.signed
        else "OFF (SENDGRID_WEBHOOK_PUBLIC_KEY unset; --signed measures with it)"
    )
    print(f"signature checking: {signing}")
    print(
        f"clients: {args.clients}, duration: {elapsed:.1f} s, sent drafts: {args.drafts:,}, "
        f"batches: {tally.batches:,} of {BATCH} events ({tally.resent_batches} resent)"
    )
    print(
        f"accepted: {tally.events_accepted:,} events, {rate:,.0f} events/s "
        f"({sent / elapsed:,.0f} distinct events/s)"
    )
    print(f"batch latency p50: {cuts[49] * 1000:.1f} ms, p99: {cuts[98] * 1000:.1f} ms")
    print(f"errors: {len(tally.errors)} {sorted(set(tally.errors))[:3] if tally.errors else ''}")
    print(
        f"server said: stored {tally.stored:,}, duplicates {tally.duplicates:,} "
        f"(resent {tally.resent_batches * BATCH:,}), unknown {tally.unknown}; "
        f"customers suppressed by hard bounces: {suppressed}"
    )
    print(f"email_events: {rows:,} rows, {distinct:,} distinct event ids")
    print(f"stored once: {once:,} of {sent:,}")
    verdict = "met" if rate >= GOAL else "MISSED"
    print(f"goal: {GOAL:,} events/s: {verdict}")
    if tally.errors or once != sent or rows != distinct or distinct != sent:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
