"""Load: chat widgets streaming messages while marketers search, against `personalize serve`.

Builds a fresh embedded home (SQLite + Qdrant Edge in a temporary PERSONALIZE_HOME), creates an
ingest key and a marketer key with the CLI, loads the bundled sample business (customers,
orders, and its transcripts, processed), then starts `personalize serve` on a free loopback
port with its in-process pipeline worker. First the marketers run alone for a few seconds
(`--baseline-seconds`: search latency without ingest, and a warm server); then for D seconds it
runs, concurrently:

- W chat widgets: each one customer's conversations, a message every 0.5-2 s (customer, agent
  and bot turns, short realistic texts) via `POST /v1/messages`; about 2% of messages are sent
  again with the same id (half after the answer, half racing the first copy) to check dedupe;
- M marketers: `GET /v1/search/customers?q=...` with varied questions, then
  `GET /v1/customers/{id}/context` for up to two customers of the answer, 0.2-0.5 s apart;
- a sampler reading `GET /v1/status` (the backlog) twice a second, and a probe calling
  `/healthz` every 0.1 s (a stall there is a stall of the whole server, not of one route).

Then it waits for the backlog to drain, stops the server, and checks in the SQLite database
that every accepted message id is stored exactly once and every accepted customer message was
processed. It prints throughput, latencies, errors by status, per-message processing lag
(received to processed), the largest backlog and the drain time, the slowest requests with
when they began, the CPU the server used, and PASS/FAIL against the goals: no errors, no lost
message, search p99 under 200 ms while ingesting. The exit code is 0 whatever the verdict,
unless the benchmark itself could not run.

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 .venv/bin/python bench/load.py [--seconds 60]
        [--widgets 50] [--marketers 5] [--seed 0] [--json] [--keep]
"""

import argparse
import asyncio
import contextlib
import json
import math
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

# Run as a script, bench/ is on the path: its sibling holds the shared helpers.
from _net import free_port

import engine

BIN = Path(sys.executable).parent
SAMPLE_DIR = Path(engine.__file__).parent / "sample"
SEARCH_P99_GOAL_MS = 200.0
RESEND_SHARE = 0.02
# Loading the encoder and spaCy takes 15-75 s on a busy 2-core machine.
START_TIMEOUT = 300.0
PREFIX = "load"

BUSINESSES = [
    "bakery",
    "small cafe",
    "hair salon",
    "12-desk coworking space",
    "bike shop",
    "dental office",
    "yoga studio",
    "food truck",
    "bookshop",
    "florist",
]
DEVICES = ["card reader", "grinder", "kettle", "espresso machine", "scale", "milk frother"]
PLANS = ["Studio", "Office", "Home", "Wholesale"]
BEANS = ["Ethiopian", "House Espresso Blend", "Colombian decaf", "Kenyan AA", "Sumatra"]
BREWERS = ["AeroPress", "V60", "Chemex", "moka pot", "French press", "Gaggia"]
PRODUCTS = ["beans", "filters", "kettle", "grinder burrs", "travel mug", "sampler box"]
NAMES = ["Ana", "Ben", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jo", "Kai", "Lena"]
CUSTOMER_TEXTS = [
    "I run a {business} and the {device} won't pair",
    "how much is the {plan} plan?",
    "hi, is there a discount if we order every week?",
    "we're a {business}, do you do wholesale pricing?",
    "my order hasn't arrived yet, it's been 6 days",
    "the {product} arrived damaged, can I get a refund?",
    "the {bean} arrived stale this time",
    "I love the {bean}, do you have it in 1kg bags?",
    "the {device} keeps clicking when I grind fine for espresso",
    "can I pause my {plan} plan for a month?",
    "I want to cancel my {plan} plan, it's too expensive",
    "we brew with a {brewer} at the {business}",
    "just got a {brewer}, which grind should I use?",
    "I'm the office manager, we go through about 5kg a week",
    "please don't email me about grinders",
    "is shipping free over $50?",
    "the {device} keeps dropping the connection",
    "I'm looking for a travel kettle that fits in a backpack",
    "we're opening a second {business} in March",
    "can I upgrade from the Home plan to the {plan} plan?",
    "I was charged twice for my last order",
    "oat milk is my go-to, which roast works best with it?",
    "thanks, that's perfect!",
    "ok great, thank you so much",
    "the {device} won't hold temperature anymore",
    "would love a decaf option in the {plan} plan",
]
AGENT_TEXTS = [
    "Thanks {name}, let me check that for you.",
    "The {plan} plan is $39 a month, shipping included.",
    "Sorry about that! I've sent a replacement today.",
    "Could you try turning the {device} off and on again, then pairing it from the settings?",
    "Happy to help. Which {product} did you order?",
    "Done, your plan is paused. Anything else?",
    "Great choice, the {bean} is one of our favourites.",
]
BOT_TEXTS = [
    "Hi! I'm Kettle, the Kettle & Crumb assistant. How can I help?",
    "I'll get someone from the team to help you with that.",
    "Our team usually replies within a few minutes.",
]
QUERIES = [
    "customers asking about the Studio plan price",
    "customers whose grinder is broken or noisy",
    "card reader won't pair",
    "customers who want a refund",
    "customers who run a bakery",
    "my order hasn't arrived",
    "customers interested in wholesale or the Office plan",
    "who is asking for a discount",
    "customers who love the Ethiopian",
    "looking for a travel kettle",
    "customers who want to pause or cancel their plan",
    "oat milk",
    "customers charged twice",
    "beans arrived stale",
    "customers opening a new location",
    "kettle won't hold temperature",
    "decaf options",
    "customers who use an AeroPress",
]


@dataclass
class Record:
    """Every request's kind, status (0 for a transport error), latency and when it ended."""

    kind: list[str] = field(default_factory=list)
    status: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    at: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    error_examples: list[str] = field(default_factory=list)

    def add(self, kind: str, status: int, seconds: float, *, detail: str = "") -> None:
        """Record one request; a non-2xx status or a transport error (status 0) is an error."""
        self.kind.append(kind)
        self.status.append(status)
        self.seconds.append(seconds)
        self.at.append(time.monotonic())
        if not 200 <= status < 300:
            key = f"{kind} {status or detail.split(':')[0]}"
            self.errors[key] += 1
            if len(self.error_examples) < 10:
                self.error_examples.append(f"{key}: {detail[:300]}")

    def latencies(self, kind: str) -> list[float]:
        """Latencies in seconds of the successful requests of one kind."""
        return [
            s
            for k, c, s in zip(self.kind, self.status, self.seconds, strict=True)
            if k == kind and 200 <= c < 300
        ]

    def count(self, kind: str) -> int:
        """How many requests of one kind were sent."""
        return sum(1 for k in self.kind if k == kind)


@dataclass
class Ledger:
    """What the widgets sent and what the server said about it."""

    accepted: dict[str, str] = field(default_factory=dict)  # message id -> role
    row_ids: dict[str, int] = field(default_factory=dict)  # message id -> stored row id
    resent: list[str] = field(default_factory=list)  # ids sent a second time
    dedupe_problems: list[str] = field(default_factory=list)
    last_accept: float | None = None

    def accept(self, message_id: str, role: str, body: dict[str, Any]) -> None:
        """Note a 202 for a message id and check it names the same stored row as before."""
        self.last_accept = time.monotonic()
        self.accepted[message_id] = role
        if body.get("message_id") != message_id:
            self.dedupe_problems.append(f"{message_id}: answered for {body.get('message_id')}")
        known = self.row_ids.setdefault(message_id, int(body["id"]))
        if known != body["id"]:
            self.dedupe_problems.append(f"{message_id}: stored as rows {known} and {body['id']}")


@dataclass
class Sampler:
    """The backlog over time, as `GET /v1/status` reports it."""

    samples: list[tuple[float, int, int]] = field(default_factory=list)  # (t, backlog, failed)


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile of values (share in 0..1), 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(share * len(ordered))))
    return ordered[rank - 1]


def cli(env: dict[str, str], *args: str, as_json: bool = True) -> Any:
    """Run `personalize ARGS [--json]` and return its parsed output; fail loudly on error."""
    done = subprocess.run(
        [str(BIN / "personalize"), *args, *(["--json"] if as_json else [])],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise SystemExit(f"personalize {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return json.loads(done.stdout) if as_json else done.stdout


def prepare(home: Path) -> tuple[dict[str, str], str, str]:
    """Make the home, keys, and the sample business (processed); return env and both keys."""
    env = {**os.environ, "PERSONALIZE_HOME": str(home)}
    for name in ("DATABASE_URL", "QDRANT_URL", "QDRANT_API_KEY", "ANTHROPIC_API_KEY"):
        env.pop(name, None)
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TRANSFORMERS_OFFLINE", "1")
    home.mkdir(parents=True, exist_ok=True)
    cli(env, "migrate", as_json=False)
    ingest_key = cli(env, "keys", "create", "--scope", "ingest", "--name", "load-widgets")["key"]
    marketer_key = cli(env, "keys", "create", "--scope", "marketer", "--name", "load-marketers")[
        "key"
    ]
    cli(env, "import", "customers", str(SAMPLE_DIR / "customers.jsonl"))
    cli(env, "import", "orders", str(SAMPLE_DIR / "orders.jsonl"))
    cli(env, "ingest", str(SAMPLE_DIR / "transcripts.jsonl"))  # processes before it returns
    return env, ingest_key, marketer_key


def sample_customer_ids() -> list[str]:
    """The bundled sample business's customer ids."""
    with (SAMPLE_DIR / "customers.jsonl").open() as lines:
        return [json.loads(line)["id"] for line in lines if line.strip()]


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start `personalize serve` with stderr to `log`, and wait until /healthz answers."""
    with log.open("wb") as sink:
        server = subprocess.Popen(
            [str(BIN / "personalize"), "serve", "--port", str(port), "--no-access-log"],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"server exited with {server.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise SystemExit(
        f"server did not answer /healthz in {START_TIMEOUT:.0f} s:\n{log.read_text()[-3000:]}"
    )


def stop_server(server: subprocess.Popen[bytes]) -> int:
    """SIGTERM the server, SIGKILL it after 30 s; return its exit code."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=30)
    return int(server.returncode)


async def nap(seconds: float, stop_at: float) -> None:
    """Sleep `seconds`, but wake at stop_at at the latest."""
    await asyncio.sleep(max(0.0, min(seconds, stop_at - time.monotonic())))


def fill(template: str, rng: random.Random, name: str) -> str:
    """A template with its slots filled at random."""
    return template.format(
        business=rng.choice(BUSINESSES),
        device=rng.choice(DEVICES),
        plan=rng.choice(PLANS),
        bean=rng.choice(BEANS),
        brewer=rng.choice(BREWERS),
        product=rng.choice(PRODUCTS),
        name=name,
    )


async def post_message(
    client: httpx.AsyncClient, body: dict[str, Any], record: Record
) -> dict[str, Any] | None:
    """POST one message event; the answer's JSON on 202, else None (recorded as an error)."""
    started = time.perf_counter()
    try:
        response = await client.post("/v1/messages", json=body)
    except httpx.HTTPError as error:
        record.add("ingest", 0, time.perf_counter() - started, detail=f"{type(error).__name__}")
        return None
    record.add("ingest", response.status_code, time.perf_counter() - started, detail=response.text)
    if response.status_code != 202:
        return None
    return dict(response.json())


async def widget(
    number: int,
    client: httpx.AsyncClient,
    customer: dict[str, str],
    stop_at: float,
    rng: random.Random,
    record: Record,
    ledger: Ledger,
) -> None:
    """One chat widget: a customer's conversations, one message every 0.5-2 s, until stop_at."""
    name = customer.get("first_name") or rng.choice(NAMES)
    sequence = 0
    conversation = 0
    left = 0
    await nap(rng.uniform(0, 2), stop_at)
    while time.monotonic() < stop_at:
        if left == 0:
            conversation += 1
            left = rng.randint(4, 12)
            role = "customer"
        else:
            role = rng.choices(["customer", "agent", "bot"], weights=[6, 3, 1])[0]
        left -= 1
        sequence += 1
        texts = {"customer": CUSTOMER_TEXTS, "agent": AGENT_TEXTS, "bot": BOT_TEXTS}[role]
        message_id = f"{PREFIX}-{number:03d}-{sequence:05d}"
        body = {
            "conversation_id": f"{PREFIX}-conv-{number:03d}-{conversation:03d}",
            "customer": customer,
            "message": {
                "id": message_id,
                "role": role,
                "text": fill(rng.choice(texts), rng, name),
                "sent_at": datetime.now(UTC).isoformat(),
            },
        }
        resend = rng.random() < RESEND_SHARE
        if resend and rng.random() < 0.5:  # a retry racing the first copy
            answers = await asyncio.gather(*(post_message(client, body, record) for _ in "ab"))
            ledger.resent.append(message_id)
            good = [a for a in answers if a is not None]
            for copy in good:
                ledger.accept(message_id, role, copy)
            if len(good) == 2 and sorted(a["duplicate"] for a in good) != [False, True]:
                ledger.dedupe_problems.append(f"{message_id}: racing copies said {good}")
        else:
            answer = await post_message(client, body, record)
            if answer is not None:
                ledger.accept(message_id, role, answer)
                if answer["duplicate"]:
                    ledger.dedupe_problems.append(f"{message_id}: first copy said duplicate")
            if resend:  # the widget did not trust the first answer and sends it again
                ledger.resent.append(message_id)
                again = await post_message(client, body, record)
                if again is not None:
                    ledger.accept(message_id, role, again)
                    if not again["duplicate"]:
                        ledger.dedupe_problems.append(f"{message_id}: resend not a duplicate")
        await nap(rng.uniform(0.5, 2.0), stop_at)


async def timed_get(
    client: httpx.AsyncClient, kind: str, url: str, params: dict[str, Any], record: Record
) -> dict[str, Any] | None:
    """GET url; its JSON on 2xx, else None (recorded as an error)."""
    started = time.perf_counter()
    try:
        response = await client.get(url, params=params)
    except httpx.HTTPError as error:
        record.add(kind, 0, time.perf_counter() - started, detail=type(error).__name__)
        return None
    record.add(kind, response.status_code, time.perf_counter() - started, detail=response.text)
    return dict(response.json()) if 200 <= response.status_code < 300 else None


async def marketer(
    client: httpx.AsyncClient,
    stop_at: float,
    rng: random.Random,
    record: Record,
    *,
    phase: str = "",
) -> None:
    """One marketer: search, look at up to two customers' contexts, think, repeat."""
    await nap(rng.uniform(0, 0.5), stop_at)
    while time.monotonic() < stop_at:
        params = {"q": rng.choice(QUERIES), "limit": rng.choice([10, 20, 20, 50])}
        answer = await timed_get(client, f"search{phase}", "/v1/search/customers", params, record)
        ids = [c["customer_id"] for c in (answer or {}).get("customers", [])]
        for customer_id in rng.sample(ids, min(2, len(ids))):
            await nap(rng.uniform(0.2, 0.5), stop_at)
            if time.monotonic() >= stop_at:
                break
            url = f"/v1/customers/{customer_id}/context"
            await timed_get(client, f"context{phase}", url, {}, record)
        await nap(rng.uniform(0.2, 0.5), stop_at)


async def sample_status(
    client: httpx.AsyncClient, stop: asyncio.Event, record: Record, sampler: Sampler
) -> None:
    """Read the backlog from GET /v1/status every 0.5 s until `stop` is set."""
    while not stop.is_set():
        answer = await timed_get(client, "status", "/v1/status", {}, record)
        if answer is not None:
            sampler.samples.append((time.monotonic(), answer["backlog"], answer["failed"]))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.5)


async def probe(client: httpx.AsyncClient, stop: asyncio.Event, record: Record) -> None:
    """GET /healthz every 0.1 s until `stop` is set: stalls of the server's event loop."""
    while not stop.is_set():
        await timed_get(client, "healthz", "/healthz", {}, record)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=0.1)


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds a process has used so far (Linux /proc), 0.0 elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def unfinished(database: Path) -> int:
    """Customer messages pending or claimed (in a batch being processed), read from SQLite."""
    with sqlite3.connect(database, timeout=30) as conn:
        row = conn.execute(
            "SELECT count(*) FROM messages WHERE state IN ('pending', 'claimed')"
        ).fetchone()
    return int(row[0])


async def run_load(
    port: int,
    ingest_key: str,
    marketer_key: str,
    args: argparse.Namespace,
    database: Path,
    server: subprocess.Popen[bytes],
) -> dict[str, Any]:
    """Run the widgets, the marketers and the status sampler, then wait for the drain."""
    record, ledger, sampler = Record(), Ledger(), Sampler()
    base = f"http://127.0.0.1:{port}"
    timeout = httpx.Timeout(30.0)
    known = sample_customer_ids()
    customers: list[dict[str, str]] = []
    for n in range(args.widgets):
        if n % 5 == 4 and known:  # every fifth widget is a customer already in the store
            customers.append({"id": known[n % len(known)]})
        else:
            customers.append(
                {
                    "id": f"{PREFIX}-cus-{n:03d}",
                    "email": f"widget{n}@example.com",
                    "first_name": NAMES[n % len(NAMES)],
                }
            )
    ingest_headers = {"Authorization": f"Bearer {ingest_key}"}
    marketer_headers = {"Authorization": f"Bearer {marketer_key}"}
    widget_clients = [
        httpx.AsyncClient(base_url=base, headers=ingest_headers, timeout=timeout)
        for _ in range(args.widgets)
    ]
    marketer_clients = [
        httpx.AsyncClient(base_url=base, headers=marketer_headers, timeout=timeout)
        for _ in range(args.marketers)
    ]
    status_client = httpx.AsyncClient(base_url=base, headers=marketer_headers, timeout=timeout)
    probe_client = httpx.AsyncClient(base_url=base, timeout=timeout)
    stop_sampling = asyncio.Event()
    try:
        async with status_client:
            before = await timed_get(status_client, "status", "/v1/status", {}, record)
            # Marketers alone first: search latency with nothing ingested (and a warm server).
            idle_until = time.monotonic() + args.baseline_seconds
            await asyncio.gather(
                *(
                    marketer(
                        marketer_clients[n],
                        idle_until,
                        random.Random(f"{args.seed}-idle-{n}"),
                        record,
                        phase="_idle",
                    )
                    for n in range(args.marketers)
                )
            )
            sampler_task = asyncio.create_task(
                sample_status(status_client, stop_sampling, record, sampler)
            )
            probe_task = asyncio.create_task(probe(probe_client, stop_sampling, record))
            load_before = os.getloadavg()[0]
            server_cpu = cpu_seconds(server.pid)
            own_cpu = time.process_time()
            started = time.monotonic()
            started_wall = time.time()
            stop_at = started + args.seconds
            await asyncio.gather(
                *(
                    widget(
                        n,
                        widget_clients[n],
                        customers[n],
                        stop_at,
                        random.Random(f"{args.seed}-widget-{n}"),
                        record,
                        ledger,
                    )
                    for n in range(args.widgets)
                ),
                *(
                    marketer(
                        marketer_clients[n],
                        stop_at,
                        random.Random(f"{args.seed}-marketer-{n}"),
                        record,
                    )
                    for n in range(args.marketers)
                ),
            )
            load_end = time.monotonic()
            load_after = os.getloadavg()[0]
            server_cpu = cpu_seconds(server.pid) - server_cpu
            own_cpu = time.process_time() - own_cpu
            # Drained: nothing pending or claimed, and the status route agrees.
            drained_at: float | None = None
            deadline = load_end + args.drain_timeout
            while time.monotonic() < deadline and server.poll() is None:
                if unfinished(database) == 0 and sampler.samples and sampler.samples[-1][1] == 0:
                    drained_at = time.monotonic()
                    break
                await asyncio.sleep(0.1)
            stop_sampling.set()
            await sampler_task
            await probe_task
            after = await timed_get(status_client, "status", "/v1/status", {}, record)
    finally:
        for client in [*widget_clients, *marketer_clients, probe_client]:
            await client.aclose()
    return {
        "record": record,
        "ledger": ledger,
        "sampler": sampler,
        "started": started,
        "started_wall": started_wall,
        "load_end": load_end,
        "drained_at": drained_at,
        "before": before,
        "after": after,
        "load_average": [load_before, load_after],
        "cpu_seconds": {"server": server_cpu, "bench": own_cpu},
    }


def verify(database: Path, ledger: Ledger) -> dict[str, Any]:
    """Check in SQLite that every accepted id is stored once, and customer ones processed."""
    with sqlite3.connect(database, timeout=30) as conn:
        conn.execute("CREATE TEMP TABLE accepted (id TEXT PRIMARY KEY, role TEXT)")
        conn.executemany("INSERT INTO accepted VALUES (?, ?)", list(ledger.accepted.items()))
        conn.execute("CREATE TEMP TABLE resent (id TEXT PRIMARY KEY)")
        conn.executemany("INSERT OR IGNORE INTO resent VALUES (?)", [(i,) for i in ledger.resent])
        stored_once = conn.execute(
            "SELECT count(*) FROM (SELECT a.id FROM accepted a JOIN messages m "
            "ON m.message_id = a.id GROUP BY a.id HAVING count(*) = 1)"
        ).fetchone()[0]
        stored_twice = conn.execute(
            "SELECT count(*) FROM (SELECT message_id FROM messages "
            "GROUP BY message_id HAVING count(*) > 1)"
        ).fetchone()[0]
        lost = [
            r[0]
            for r in conn.execute(
                "SELECT a.id FROM accepted a LEFT JOIN messages m ON m.message_id = a.id "
                "WHERE m.id IS NULL"
            )
        ]
        wrong_role = conn.execute(
            "SELECT count(*) FROM accepted a JOIN messages m ON m.message_id = a.id "
            "WHERE m.role != a.role"
        ).fetchone()[0]
        states = dict(
            conn.execute(
                "SELECT a.role || ':' || m.state, count(*) FROM accepted a "
                "JOIN messages m ON m.message_id = a.id GROUP BY 1"
            ).fetchall()
        )
        resent_rows = conn.execute(
            "SELECT count(*) FROM resent r JOIN messages m ON m.message_id = r.id"
        ).fetchone()[0]
        unacknowledged = conn.execute(
            "SELECT count(*) FROM messages m WHERE m.message_id LIKE ? "
            "AND m.message_id NOT IN (SELECT id FROM accepted)",
            (f"{PREFIX}-%",),
        ).fetchone()[0]
        lags = [
            (
                datetime.fromisoformat(processed).replace(tzinfo=UTC)
                - datetime.fromisoformat(received).replace(tzinfo=UTC)
            ).total_seconds()
            for received, processed in conn.execute(
                "SELECT m.received_at, m.processed_at FROM accepted a JOIN messages m "
                "ON m.message_id = a.id WHERE a.role = 'customer' AND m.processed_at IS NOT NULL"
            )
        ]
    customer_accepted = sum(1 for role in ledger.accepted.values() if role == "customer")
    return {
        "accepted_unique": len(ledger.accepted),
        "accepted_customer": customer_accepted,
        "stored_once": stored_once,
        "ids_stored_more_than_once": stored_twice,
        "lost": len(lost),
        "lost_examples": lost[:10],
        "wrong_role": wrong_role,
        "states": states,
        "processed_customer": states.get("customer:processed", 0),
        "failed_customer": states.get("customer:failed", 0),
        "resent_unique": len(set(ledger.resent)),
        "resent_stored_once": resent_rows == len(set(ledger.resent)),
        "stored_unacknowledged": unacknowledged,
        "lag_seconds": lags,
    }


def slowest(record: Record, started: float, count: int = 10) -> list[dict[str, Any]]:
    """The slowest requests: kind, status, latency, and when they began (s after the load)."""
    rows = sorted(
        zip(record.kind, record.status, record.seconds, record.at, strict=True),
        key=lambda row: -row[2],
    )[:count]
    return [
        {
            "kind": kind,
            "status": status,
            "ms": round(seconds * 1000, 1),
            "began_s": round(at - seconds - started, 2),
        }
        for kind, status, seconds, at in rows
    ]


def log_problems(log: Path) -> list[str]:
    """Lines of the server log that look like errors (tracebacks, ERROR, exceptions)."""
    if not log.exists():
        return []
    markers = ("Traceback", "ERROR", "Error", "Exception", "CRITICAL", "WARNING")
    return [
        line for line in log.read_text(errors="replace").splitlines() if line.startswith(markers)
    ]


def summarize(
    args: argparse.Namespace,
    run: dict[str, Any],
    checked: dict[str, Any],
    died: int | None,
    exit_code: int,
    graceful: bool,
    log_lines: list[str],
) -> dict[str, Any]:
    """The figures of the run as plain JSON-ready data, with the verdict."""
    record: Record = run["record"]
    ledger: Ledger = run["ledger"]
    sampler: Sampler = run["sampler"]
    elapsed = run["load_end"] - run["started"]
    load_samples = [s for s in sampler.samples if s[0] <= run["load_end"]]

    def ms(values: list[float]) -> dict[str, float]:
        return {
            "p50": round(percentile(values, 0.50) * 1000, 1),
            "p99": round(percentile(values, 0.99) * 1000, 1),
            "max": round(max(values, default=0.0) * 1000, 1),
        }

    drained_at = run["drained_at"]
    last_accept = ledger.last_accept or run["load_end"]
    lags = checked.pop("lag_seconds")
    errors = dict(record.errors)
    search = ms(record.latencies("search"))
    before, after = run["before"] or {}, run["after"] or {}
    new_customer_messages = after.get("customer_messages", 0) - before.get("customer_messages", 0)
    goals = {
        "zero_errors": not errors,
        "zero_lost": checked["lost"] == 0
        and checked["processed_customer"] == checked["accepted_customer"]
        and drained_at is not None,
        "duplicates_stored_once": checked["ids_stored_more_than_once"] == 0
        and checked["resent_stored_once"]
        and not ledger.dedupe_problems,
        "search_p99_under_200ms": 0 < search["p99"] < SEARCH_P99_GOAL_MS,
        "server_alive": died is None,
    }
    return {
        "started_at": datetime.fromtimestamp(run["started_wall"], UTC).isoformat(),
        "seconds": round(elapsed, 1),
        "widgets": args.widgets,
        "marketers": args.marketers,
        "seed": args.seed,
        "ingest": {
            "requests": record.count("ingest"),
            "accepted_unique": checked["accepted_unique"],
            "accepted_customer": checked["accepted_customer"],
            "accepted_per_second": round(checked["accepted_unique"] / elapsed, 1),
            "latency_ms": ms(record.latencies("ingest")),
        },
        "duplicates": {
            "sent": len(ledger.resent),
            "stored_once": goals["duplicates_stored_once"],
            "problems": ledger.dedupe_problems[:10],
        },
        "search": {"requests": record.count("search"), "latency_ms": search},
        "context": {
            "requests": record.count("context"),
            "latency_ms": ms(record.latencies("context")),
        },
        "baseline_without_ingest": {
            "seconds": args.baseline_seconds,
            "searches": record.count("search_idle"),
            "search_latency_ms": ms(record.latencies("search_idle")),
            "contexts": record.count("context_idle"),
            "context_latency_ms": ms(record.latencies("context_idle")),
        },
        "load_average": run["load_average"],
        "cpu_share_during_load": {
            name: round(used / elapsed, 2) for name, used in run["cpu_seconds"].items()
        },
        "status": {
            "requests": record.count("status"),
            "latency_ms": ms(record.latencies("status")),
        },
        "healthz_probe": {
            "requests": record.count("healthz"),
            "latency_ms": ms(record.latencies("healthz")),
        },
        "slowest": slowest(record, run["started"]),
        "errors": errors,
        "error_examples": record.error_examples,
        "stored": {
            "lost": checked["lost"],
            "lost_examples": checked["lost_examples"],
            "stored_once": checked["stored_once"],
            "ids_stored_more_than_once": checked["ids_stored_more_than_once"],
            "wrong_role": checked["wrong_role"],
            "processed_customer": checked["processed_customer"],
            "failed_customer": checked["failed_customer"],
            "states": checked["states"],
            "status_customer_messages_added": new_customer_messages,
            "stored_unacknowledged": checked["stored_unacknowledged"],
        },
        "processing": {
            "max_backlog": max((s[1] for s in sampler.samples), default=0),
            "mean_backlog_during_load": round(
                sum(s[1] for s in load_samples) / max(1, len(load_samples)), 1
            ),
            "backlog_at_load_end": next(
                (s[1] for s in reversed(sampler.samples) if s[0] <= run["load_end"]), 0
            ),
            "drain_seconds_after_load": (
                round(drained_at - run["load_end"], 2) if drained_at is not None else None
            ),
            "drain_seconds_after_last_accept": (
                round(drained_at - last_accept, 2) if drained_at is not None else None
            ),
            "lag_ms": ms(lags),
            "lag_samples": len(lags),
        },
        "server": {
            "died_during_run": died,
            "exit_code_after_sigterm": exit_code,
            "graceful_shutdown": graceful,
            "log_problems": len(log_lines),
        },
        "goals": goals,
        "verdict": "PASS" if all(goals.values()) else "FAIL",
    }


def print_report(result: dict[str, Any]) -> None:
    """Print the figures for a person."""
    ing, search, ctx = result["ingest"], result["search"], result["context"]
    stored, proc, dup = result["stored"], result["processing"], result["duplicates"]

    def lat(d: dict[str, float]) -> str:
        return f"p50 {d['p50']:.1f} ms, p99 {d['p99']:.1f} ms, max {d['max']:.1f} ms"

    print(
        f"load: {result['widgets']} widgets, {result['marketers']} marketers, "
        f"{result['seconds']} s (seed {result['seed']})"
    )
    print(
        f"ingest: {ing['accepted_unique']:,} messages accepted ({ing['accepted_customer']:,} "
        f"customer), {ing['accepted_per_second']:.1f} messages/s, {ing['requests']:,} requests; "
        f"{lat(ing['latency_ms'])}"
    )
    print(
        f"duplicates: {dup['sent']} sent again, "
        f"stored once: {'yes' if dup['stored_once'] else 'NO'}"
        + (f" ({'; '.join(dup['problems'])})" if dup["problems"] else "")
    )
    print(f"search: {search['requests']:,} searches; {lat(search['latency_ms'])}")
    print(f"context: {ctx['requests']:,} lookups; {lat(ctx['latency_ms'])}")
    idle = result["baseline_without_ingest"]
    print(
        f"baseline ({idle['seconds']:.0f} s of marketers alone, before the load): "
        f"{idle['searches']} searches, {lat(idle['search_latency_ms'])}; "
        f"{idle['contexts']} contexts, {lat(idle['context_latency_ms'])}"
    )
    cpu = result["cpu_share_during_load"]
    print(
        f"cpu during the load (cores busy): server {cpu['server']:.2f}, this bench "
        f"{cpu['bench']:.2f}, of {os.cpu_count()}; machine load average (1 min) before/after: "
        + " / ".join(f"{x:.2f}" for x in result["load_average"])
    )
    print(
        f"healthz probe (every 0.1 s, the server's event loop): "
        f"{result['healthz_probe']['requests']:,} requests; "
        f"{lat(result['healthz_probe']['latency_ms'])}"
    )
    print(
        "slowest requests (kind ms @ seconds into the load): "
        + ", ".join(f"{r['kind']} {r['ms']:.0f} @ {r['began_s']:.1f}" for r in result["slowest"])
    )
    errors = result["errors"]
    print(f"errors: {sum(errors.values())}" + (f" {errors}" if errors else ""))
    for example in result["error_examples"]:
        print(f"  {example}")
    print(
        f"stored: {stored['lost']} lost, {stored['ids_stored_more_than_once']} ids stored more "
        f"than once, {stored['processed_customer']:,} of {ing['accepted_customer']:,} accepted "
        f"customer messages processed ({stored['failed_customer']} failed); status counted "
        f"{stored['status_customer_messages_added']:,} new customer messages; "
        f"{stored['stored_unacknowledged']} stored without a 202 seen"
    )
    drain = proc["drain_seconds_after_load"]
    print(
        f"processing: max backlog {proc['max_backlog']:,} (mean {proc['mean_backlog_during_load']}"
        f" during load, {proc['backlog_at_load_end']:,} at its end); drained "
        + (
            f"{drain:.2f} s after the load, {proc['drain_seconds_after_last_accept']:.2f} s after "
            "the last accepted message"
            if drain is not None
            else "NOT within the timeout"
        )
    )
    print(f"per-message lag (received to processed): {lat(proc['lag_ms'])}")
    server = result["server"]
    died = server["died_during_run"]
    print(
        f"server: {'up throughout' if died is None else f'DIED with {died}'}"
        f"; after SIGTERM exit code {server['exit_code_after_sigterm']}, "
        f"{'graceful' if server['graceful_shutdown'] else 'NOT graceful'} shutdown; "
        f"{server['log_problems']} error lines in its log"
    )
    for goal, met in result["goals"].items():
        print(f"  {'ok  ' if met else 'MISS'} {goal}")
    print(f"verdict: {result['verdict']}")


def main() -> None:
    """Parse arguments, run the benchmark, print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--widgets", type=int, default=50)
    parser.add_argument("--marketers", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--drain-timeout", type=float, default=600.0)
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=5.0,
        help="marketers alone before the load (search latency without ingest; warms up)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the home and the server log")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-load-"))
    home, log = tmp / "home", tmp / "server.log"
    server: subprocess.Popen[bytes] | None = None
    try:
        print(f"preparing {home}: keys, the sample business (processed)", file=sys.stderr)
        clock = time.monotonic()
        env, ingest_key, marketer_key = prepare(home)
        port = free_port()
        print(f"prepared in {time.monotonic() - clock:.0f} s; starting the server", file=sys.stderr)
        clock = time.monotonic()
        server = start_server(env, port, log)
        print(
            f"server (pid {server.pid}) on port {port} up in {time.monotonic() - clock:.0f} s; "
            f"load for {args.seconds:.0f} s",
            file=sys.stderr,
        )
        database = home / "personalize.db"
        run = asyncio.run(run_load(port, ingest_key, marketer_key, args, database, server))
        died = server.poll()
        exit_code = stop_server(server)
        server = None
        checked = verify(database, run["ledger"])
        problems = log_problems(log)
        graceful = "Finished server process" in log.read_text(errors="replace")
        result = summarize(args, run, checked, died, exit_code, graceful, problems)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print_report(result)
        if problems:
            print(f"server log ({log}), error lines:", file=sys.stderr)
            for line in problems[:20]:
                print(f"  {line}", file=sys.stderr)
    finally:
        if server is not None:
            stop_server(server)
        if args.keep:
            print(f"kept {tmp} (home and server.log)", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
