"""Crash safety: SIGKILL a pipeline worker mid-batch, an import mid-file and a webhook deliverer
mid-send, then show that what each left behind is whole and that running again finishes the
work exactly once in effect. The worker and the imports are the real `personalize` command in
their own processes, on SQLite and the embedded vector store in a temporary home."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import func, select, update

from chat_ingest.jsonl import BATCH_SIZE as IMPORT_BATCH
from chat_ingest.jsonl import import_file
from embeddings.encoder import Encoder
from embeddings.store import DENSE, EdgeStore
from engine.db import Database
from engine.facts.extract import FactExtractor
from engine.intents.model import IntentModel
from engine.models import (
    BlockedCandidate,
    Conversation,
    Customer,
    Draft,
    EmailSend,
    Fact,
    Message,
    MessageIntent,
    Order,
    OrderItem,
    WebhookDelivery,
    utcnow,
)
from engine.outbox import LEASE, claim_due, deliver_due, signature_matches
from engine.pipeline import point_id
from engine.runtime import Services
from engine.settings import Settings
from engine.text.redact import redact
from engine.text.sentences import split_sentences
from tests.builders import approved_drafts
from tests.smtp import smtp_server

PERSONALIZE = Path(sys.executable).with_name("personalize")
# Settings that must not leak from the developer's shell into the CLI under test: another
# database, a vector server, a paid drafter, someone else's webhook, and an encoder other than
# the one the test session loads (the reference run below uses that one).
FOREIGN_SETTINGS = {
    "database_url",
    "embedding_model",
    "test_database_url",
    "qdrant_url",
    "qdrant_api_key",
    "anthropic_api_key",
    "review_webhook_url",
    "review_webhook_secret",
    "http_proxy",
    "https_proxy",
    "all_proxy",
}
# Messages per pipeline batch: the backlog below makes 8 batches, so a kill can land in the
# middle of the run with batches done before it and after it.
WORKER_BATCH = 40


def write_lines(path: Path, rows: list[dict[str, Any]]) -> Path:
    """Write rows as JSON Lines."""
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def settings_for(home: Path) -> Settings:
    """Settings of one temporary home: SQLite and the embedded vector store, nothing else."""
    return Settings(personalize_home=home, database_url=None, qdrant_url=None)


@dataclass
class Cli:
    """The real `personalize` command, run as separate processes against one home."""

    home: Path
    workdir: Path
    started: list["subprocess.Popen[bytes]"]
    extra_env: dict[str, str] = field(default_factory=dict)

    def env(self) -> dict[str, str]:
        """The environment of a CLI process: ours, minus foreign settings, offline models."""
        values = {k: v for k, v in os.environ.items() if k.lower() not in FOREIGN_SETTINGS}
        values.update(
            PERSONALIZE_HOME=str(self.home),
            HF_HUB_OFFLINE="1",
            TRANSFORMERS_OFFLINE="1",
            NO_PROXY="127.0.0.1,localhost",
            PYTHONUNBUFFERED="1",
        )
        values.update(self.extra_env)
        return values

    def start(self, *args: str, log: str) -> "subprocess.Popen[bytes]":
        """Start `personalize ARGS` in the background, output to log files in the workdir."""
        with (
            (self.workdir / f"{log}.out").open("wb") as out,
            (self.workdir / f"{log}.err").open("wb") as err,
        ):
            # cwd is the workdir: Settings also reads a `.env` file from the current directory.
            proc = subprocess.Popen(
                [str(PERSONALIZE), *args], cwd=self.workdir, env=self.env(), stdout=out, stderr=err
            )
        self.started.append(proc)
        return proc

    def python(self, code: str, *args: str) -> "subprocess.Popen[bytes]":
        """Start the project's Python on a snippet, in the same environment as the CLI."""
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *args], cwd=self.workdir, env=self.env()
        )
        self.started.append(proc)
        return proc

    def finish(self, proc: "subprocess.Popen[bytes]", *, log: str, timeout: float = 300) -> str:
        """Wait for a started command; fail with its stderr unless it exits 0; its stdout."""
        code = proc.wait(timeout=timeout)
        err = (self.workdir / f"{log}.err").read_text(errors="replace")
        assert code == 0, f"personalize {log} exited {code}:\n{err[-3000:]}"
        return (self.workdir / f"{log}.out").read_text()

    def run(self, *args: str, log: str, timeout: float = 300) -> str:
        """Run `personalize ARGS` to completion; its stdout."""
        return self.finish(self.start(*args, log=log), log=log, timeout=timeout)


@pytest.fixture
def cli(tmp_path: Path) -> Iterator[Callable[..., Cli]]:
    """A factory of `Cli`s for homes under tmp_path; kills, by pid, what is left running."""
    started: list[subprocess.Popen[bytes]] = []

    def make(name: str, **extra_env: str) -> Cli:
        workdir = tmp_path / f"{name}-run"
        workdir.mkdir()
        return Cli(home=tmp_path / name, workdir=workdir, started=started, extra_env=extra_env)

    yield make
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)


def kill(proc: "subprocess.Popen[bytes]") -> None:
    """SIGKILL: no handler, no finally, no flush; the process is just gone."""
    assert proc.poll() is None, "the process ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    assert proc.wait(timeout=30) == -signal.SIGKILL


def database_file(home: Path) -> Path:
    """The SQLite file of a home."""
    return home / "personalize.db"


def sql(home: Path, statement: str, *params: object) -> list[tuple[Any, ...]]:
    """Rows of one read on a home's SQLite file, through a short-lived connection."""
    conn = sqlite3.connect(database_file(home), timeout=30)
    try:
        return conn.execute(statement, params).fetchall()
    finally:
        conn.close()


# --- 1. A pipeline worker killed mid-batch ------------------------------------------------

BUSINESSES = ["a bakery", "a small cafe", "a hair salon", "a coworking space", "a food truck"]
ROLES = ["a barista", "the office manager", "a sous chef", "a wedding photographer"]
GEAR = ["an AeroPress", "a Gaggia Classic", "a Hario V60", "a Chemex", "a Moka pot"]
PLANS = ["Studio plan", "Office Plan", "House Espresso Blend", "Ethiopian Yirgacheffe"]
TOWNS = ["Leeds", "Austin", "Porto", "Lyon", "Osaka", "Ghent"]
CUSTOMER_LINES = [
    "I run {business} in {town}.",
    "I'm {role} and we go through a lot of coffee.",
    "How much is the {plan}? Is there a discount if we pay yearly?",
    "We brew with {gear} every morning.",
    "The grinder keeps jamming and makes a clicking noise.",
    "My order #{number} hasn't arrived yet. Can you check the tracking?",
    "I love the {plan}, thanks so much!",
    "I'm interested in the {plan} for our team.",
    "Please don't email me about grinders.",
    "Can I get a refund for the damaged bag of beans? Call me on 555-201-{number}.",
    "We're opening a second shop in {town} in March.",
    "thanks, bye!",
    "My husband thinks the decaf is too weak. If you ever do a sampler box I'd buy it.",
]


def chat_transcripts(conversations: int) -> list[dict[str, Any]]:
    """Transcripts of 5 customer turns each (with agent replies), varied, with facts, intents,
    things the gate blocks and a phone number to redact."""
    rows = []
    for c in range(conversations):
        messages = []
        for k in range(5):
            n = c * 5 + k
            text = CUSTOMER_LINES[(c + 3 * k) % len(CUSTOMER_LINES)].format(
                business=BUSINESSES[n % len(BUSINESSES)],
                role=ROLES[n % len(ROLES)],
                plan=PLANS[(n // 3) % len(PLANS)],
                gear=GEAR[(n // 2) % len(GEAR)],
                town=TOWNS[n % len(TOWNS)],
                number=1000 + n,
            )
            day = f"2026-10-{1 + c % 28:02d}"
            messages.append(
                {
                    "id": f"chat{c}-m{2 * k}",
                    "role": "customer",
                    "text": text,
                    "sent_at": f"{day}T10:{2 * k:02d}:00Z",
                }
            )
            messages.append(
                {
                    "id": f"chat{c}-m{2 * k + 1}",
                    "role": "agent",
                    "text": "Sounds like you're a pro barista! Let me check that for you.",
                    "sent_at": f"{day}T10:{2 * k + 1:02d}:00Z",
                }
            )
        rows.append(
            {
                "conversation_id": f"chat{c}",
                "customer_id": f"cus{c}",
                "source": "chat_widget",
                "messages": messages,
            }
        )
    return rows


def expected_points(transcripts: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Per customer turn, the point id of each of its sentences, as the pipeline names them."""
    return {
        m["id"]: {
            point_id(m["id"], index)
            for index, _ in enumerate(split_sentences(redact(m["text"]).text))
        }
        for t in transcripts
        for m in t["messages"]
        if m["role"] == "customer"
    }


def copy_database(source: Path, target: Path) -> None:
    """A consistent copy of one home's SQLite database into another home (backup API)."""
    target.mkdir(parents=True)
    src = sqlite3.connect(database_file(source))
    dst = sqlite3.connect(database_file(target))
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()


def cpu_ticks(pid: int) -> int:
    """A process's CPU time so far, all threads, in clock ticks."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2 :].split()  # the name in parentheses may hold spaces
    return int(fields[11]) + int(fields[12])  # utime, stime


def wait_until_blocked(proc: "subprocess.Popen[bytes]", *, still: float, timeout: float) -> None:
    """Wait until the process has used (nearly) no CPU for `still` seconds: it has done its
    work and sits in SQLite's busy wait (the encoder and spaCy never pause that long)."""
    deadline = time.monotonic() + timeout
    ticks, quiet_since = cpu_ticks(proc.pid), time.monotonic()
    while time.monotonic() - quiet_since < still:
        assert proc.poll() is None, "the worker died on its own"
        assert time.monotonic() < deadline, "the worker never came to wait for the write lock"
        time.sleep(0.05)
        now = cpu_ticks(proc.pid)
        # A tick or two can be charged to the busy handler's wake-ups; work is far more.
        if now - ticks > 2:
            ticks, quiet_since = now, time.monotonic()


def hold_write_lock_mid_batch(
    home: Path, worker: "subprocess.Popen[bytes]", *, after: int, timeout: float
) -> tuple[sqlite3.Connection, set[str]]:
    """Once `after` messages are processed and the next batch is claimed, take SQLite's write
    lock: the worker then embeds, indexes and extracts that batch and waits at its commit.
    Returns the open transaction and the message ids of the batch in flight."""
    deadline = time.monotonic() + timeout
    while True:
        assert worker.poll() is None, "the worker ended before it could be stopped mid-batch"
        assert time.monotonic() < deadline, "the worker never got going"
        [(processed, claimed)] = sql(
            home,
            "SELECT sum(state = 'processed'), sum(state = 'claimed') FROM messages"
            " WHERE role = 'customer'",
        )
        if processed >= after and claimed:
            conn = sqlite3.connect(database_file(home), timeout=30, isolation_level=None)
            conn.execute("BEGIN IMMEDIATE")
            # Re-read under the lock: the batch seen above may have committed in between.
            rows = conn.execute("SELECT message_id FROM messages WHERE state = 'claimed'")
            in_flight = {row[0] for row in rows}
            if in_flight:
                return conn, in_flight
            conn.execute("ROLLBACK")
            conn.close()
        time.sleep(0.01)


@dataclass
class Outcome:
    """What processing left in a home: message states, rows keyed naturally, vector points."""

    states: dict[str, tuple[str, int]]  # message id -> (state, attempts)
    facts: list[tuple[str, str, str, str, int, int]]
    intents: list[tuple[str, str, str, float]]
    blocked: list[tuple[str, str, int]]
    points: list[tuple[str, dict[str, Any], list[float]]]


def read_outcome(home: Path) -> Outcome:
    """Read everything processing produced, with duplicates (if any) kept visible."""
    settings = settings_for(home)
    db = Database(settings)
    try:
        with db.read() as session:
            states = {
                m: (s, a)
                for m, s, a in session.execute(
                    select(Message.message_id, Message.state, Message.attempts).where(
                        Message.role == "customer"
                    )
                )
            }
            facts = [
                (m, f.category, f.value, f.quote, f.span_start, f.span_end)
                for f, m in session.execute(
                    select(Fact, Message.message_id).join(Message, Fact.message_id == Message.id)
                )
            ]
            intents = [
                (m, i.intent, i.source, i.score)
                for i, m in session.execute(
                    select(MessageIntent, Message.message_id).join(
                        Message, MessageIntent.message_id == Message.id
                    )
                )
            ]
            blocked = [
                (m, b.reason, b.count)
                for b, m in session.execute(
                    select(BlockedCandidate, Message.message_id).join(
                        Message, BlockedCandidate.message_id == Message.id
                    )
                )
            ]
    finally:
        db.dispose()
    store = open_store(home)
    try:
        points = [
            (hit.id, hit.payload, hit.vector or [])
            for hit in store.scroll(batch_size=256, with_vectors=True)
        ]
    finally:
        store.close()
    return Outcome(states, facts, intents, blocked, points)


def open_store(home: Path) -> EdgeStore:
    """Reopen a home's embedded vector store as a new process would, at its own dimension."""
    path = home / "vectors"
    dimension = json.loads((path / "edge_config.json").read_text())["vectors"][DENSE]["size"]
    return EdgeStore(path, dimension=int(dimension))


def duplicates(keys: list[Any]) -> list[Any]:
    """Keys that occur more than once."""
    return [key for key, n in Counter(keys).items() if n > 1]


def run_reference(
    home: Path, *, encoder: Encoder, intent_model: IntentModel, facts: FactExtractor
) -> None:
    """Process a home's backlog in this process, undisturbed, as `worker --once` would (on the
    test session's models: loading them again in a third process would cost most of a
    minute on two cores)."""
    store = EdgeStore(home / "vectors", dimension=encoder.dimension)
    services = Services(
        db=Database(settings_for(home)),
        encoder=encoder,
        store=store,
        intents=IntentModel(classifier=intent_model.classifier),
        facts=facts,
    )
    try:
        services.pipeline(batch_size=WORKER_BATCH).run_until_idle()
    finally:
        services.close()


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the worker's /proc")
def test_a_worker_killed_mid_batch_leaves_nothing_half_done_and_a_restart_finishes_it(
    cli: Callable[..., Cli],
    tmp_path: Path,
    encoder: Encoder,
    intent_model: IntentModel,
    fact_extractor: FactExtractor,
) -> None:
    transcripts = chat_transcripts(64)
    points_of = expected_points(transcripts)
    customer_turns = set(points_of)
    assert len(customer_turns) == 8 * WORKER_BATCH
    source = write_lines(tmp_path / "chats.jsonl", transcripts)
    crashed, reference = cli("crashed"), tmp_path / "reference"
    # The backlog is stored in-process (the import command has its own test below): this
    # saves a process start, and the CLI's `ingest --no-wait` stores it the same way.
    db = Database(settings_for(crashed.home))
    try:
        db.migrate()
        assert import_file(db, path=source, kind="transcripts").imported == len(transcripts)
    finally:
        db.dispose()
    # The reference run starts from the very same stored backlog and is never disturbed.
    copy_database(crashed.home, reference)
    batch = ("--batch-size", str(WORKER_BATCH))
    worker = crashed.start("worker", *batch, log="worker")

    # Kill the worker in the worst place: its batch's vectors are in the vector store, its
    # facts extracted, and the SQL transaction that records them and marks the messages
    # processed has not committed. Holding SQLite's write lock parks it exactly there.
    lock, in_flight = hold_write_lock_mid_batch(
        crashed.home, worker, after=2 * WORKER_BATCH, timeout=300
    )
    try:
        wait_until_blocked(worker, still=1.5, timeout=120)
        kill(worker)
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert len(in_flight) == WORKER_BATCH

    # What the kill left: SQLite intact, the batch still claimed (its lease running), and the
    # vector store reopens (Edge replays its WAL) with every point written before the kill.
    assert sql(crashed.home, "PRAGMA integrity_check") == [("ok",)]
    left = dict(sql(crashed.home, "SELECT message_id, state FROM messages WHERE role='customer'"))
    assert {m for m, s in left.items() if s == "claimed"} == in_flight
    done_before = {m for m, s in left.items() if s == "processed"}
    assert len(done_before) >= 2 * WORKER_BATCH and len(done_before) % WORKER_BATCH == 0
    store = open_store(crashed.home)
    try:
        survived = {hit.id for hit in store.scroll()}
    finally:
        store.close()
    assert survived == {p for m in done_before | in_flight for p in points_of[m]}

    # The status counts the dead worker's batch as not yet processed.
    status = json.loads(crashed.run("status", "--json", log="status"))
    assert status["backlog"] == len(customer_turns) - len(done_before)
    # The restarted worker takes the batch back at once: with the embedded vector store it is
    # the only worker there can be, so it does not wait out the dead one's lease.
    restart = crashed.start("worker", "--once", *batch, log="restart")
    # While the restarted worker loads its models, the reference run processes its copy.
    run_reference(reference, encoder=encoder, intent_model=intent_model, facts=fact_extractor)
    restarted = crashed.finish(restart, log="restart")
    assert f"processed {len(customer_turns) - len(done_before)} messages" in restarted

    got, want = read_outcome(crashed.home), read_outcome(reference)
    # Every customer turn processed; the batch in flight ran twice, nothing else did.
    assert set(got.states) == customer_turns
    assert {s for s, _ in got.states.values()} == {"processed"}
    assert {m for m, (_, a) in got.states.items() if a == 2} == in_flight
    assert {a for m, (_, a) in got.states.items() if m not in in_flight} == {1}
    # One point per sentence: no id twice, no (message, sentence) twice, none missing.
    ids = [point for point, _, _ in got.points]
    assert not duplicates(ids)
    assert not duplicates([(p["message_id"], p["sentence"]) for _, p, _ in got.points])
    assert set(ids) == {p for m in customer_turns for p in points_of[m]}
    # No fact, intent or blocked count twice, by their natural keys.
    assert not duplicates([(m, c, v) for m, c, v, *_ in got.facts])
    assert not duplicates([(m, c, s, e) for m, c, _, _, s, e in got.facts])
    assert not duplicates([(m, i) for m, i, _, _ in got.intents])
    assert not duplicates([(m, r) for m, r, _ in got.blocked])
    # The data is rich enough for the comparison below to mean something, in the batch that
    # was killed too.
    assert {"business", "role", "uses", "interest", "pain_point", "opt_out"} <= {
        c for _, c, *_ in got.facts
    }
    assert {"pricing_interest", "shipping_delivery", "returns_refunds"} <= {
        i for _, i, _, _ in got.intents
    }
    assert {m for m, *_ in got.facts} & in_flight and {m for m, *_ in got.intents} & in_flight
    assert {r for _, r, _ in got.blocked} >= {"third_party", "hypothetical"}

    # Exactly once in effect: the same as a run that was never killed.
    assert sorted(got.facts) == sorted(want.facts)
    assert sorted(got.blocked) == sorted(want.blocked)
    assert sorted((m, i, s) for m, i, s, _ in got.intents) == sorted(
        (m, i, s) for m, i, s, _ in want.intents
    )
    want_scores = {(m, i): score for m, i, _, score in want.intents}
    for m, i, _, score in got.intents:
        assert score == pytest.approx(want_scores[(m, i)], abs=1e-3)
    want_points = {point: (payload, vector) for point, payload, vector in want.points}
    assert set(want_points) == set(ids)
    for point, payload, vector in got.points:
        assert payload == want_points[point][0]
        np.testing.assert_allclose(vector, want_points[point][1], atol=1e-4)
    assert {s for s, _ in want.states.values()} == {"processed"}


# --- 2. An import killed mid-file -----------------------------------------------------------

IMPORT_SIZES = {"customers": 3000, "orders": 1500, "transcripts": 1000}


def customers_file(path: Path) -> Path:
    """Customer records."""
    return write_lines(
        path,
        [
            {
                "id": f"cus{i:06d}",
                "email": f"c{i}@example.com",
                "first_name": "Kim",
                "signup_source": "newsletter",
                "subscribed_at": "2026-11-01T10:00:00Z",
                "marketing_consent": i % 2 == 0,
            }
            for i in range(IMPORT_SIZES["customers"])
        ],
    )


def orders_file(path: Path) -> Path:
    """Orders of two items each, for customers the import creates as it goes."""
    return write_lines(
        path,
        [
            {
                "order_id": f"ord{i:06d}",
                "customer_id": f"cus{i % 500:06d}",
                "placed_at": "2026-10-01T10:00:00Z",
                "currency": "USD",
                "total": 30.0,
                "items": [
                    {
                        "sku": f"GEAR-{i % 40}",
                        "name": f"Gear {i % 40}",
                        "category": "gear",
                        "quantity": 1,
                        "unit_price": 10.0,
                    },
                    {
                        "sku": "BEAN-1",
                        "name": "House beans",
                        "category": "coffee",
                        "quantity": 2,
                        "unit_price": 10.0,
                    },
                ],
            }
            for i in range(IMPORT_SIZES["orders"])
        ],
    )


def transcripts_file(path: Path) -> Path:
    """Transcripts of 4 turns each (2 customer, 2 agent)."""
    return write_lines(
        path,
        [
            {
                "conversation_id": f"conv{c:06d}",
                "customer_id": f"cus{c % 500:06d}",
                "source": "chat_widget",
                "messages": [
                    {
                        "id": f"conv{c:06d}-{k}",
                        "role": "customer" if k % 2 == 0 else "agent",
                        "text": f"turn {k} of chat {c}: how much is the Studio plan?",
                        "sent_at": f"2026-10-01T10:{k:02d}:00Z",
                    }
                    for k in range(4)
                ],
            }
            for c in range(IMPORT_SIZES["transcripts"])
        ],
    )


# What each kind of import stores, counted the way its records are: a customer, an order, a
# conversation (each record is stored whole or not at all).
RECORDS_SQL = {
    "customers": "SELECT count(*) FROM customers",
    "orders": "SELECT count(*) FROM orders",
    "transcripts": "SELECT count(*) FROM conversations",
}


def records(home: Path, kind: str) -> int:
    """How many records of `kind` a home holds (0 before the schema exists)."""
    if not database_file(home).exists():  # connecting would create it under the CLI's feet
        return 0
    try:
        return int(sql(home, RECORDS_SQL[kind])[0][0])
    except sqlite3.OperationalError:  # no database or no table yet: the import is starting
        return 0


def test_an_import_killed_mid_file_is_intact_and_a_rerun_stores_each_record_once(
    cli: Callable[..., Cli], tmp_path: Path
) -> None:
    files = {
        "customers": customers_file(tmp_path / "customers.jsonl"),
        "orders": orders_file(tmp_path / "orders.jsonl"),
        "transcripts": transcripts_file(tmp_path / "transcripts.jsonl"),
    }
    commands = {
        "customers": ("import", "customers", str(files["customers"]), "--json"),
        "orders": ("import", "orders", str(files["orders"]), "--json"),
        # --no-wait: this is about the import; processing has its own test above.
        "transcripts": ("ingest", str(files["transcripts"]), "--no-wait", "--json"),
    }
    clis = {kind: cli(kind) for kind in files}
    # The three imports run side by side (separate homes), each killed once a few of its
    # transactions have committed, well before its end.
    running = {kind: clis[kind].start(*commands[kind], log="killed") for kind in files}
    committed: dict[str, int] = {}
    deadline = time.monotonic() + 120
    while running:
        assert time.monotonic() < deadline, f"imports never got going: {sorted(running)}"
        for kind, proc in list(running.items()):
            assert proc.poll() is None, f"the {kind} import ended before it was killed"
            if records(clis[kind].home, kind) >= 2 * IMPORT_BATCH:
                kill(proc)
                del running[kind]
                committed[kind] = records(clis[kind].home, kind)
        time.sleep(0.01)

    for kind, home in ((k, c.home) for k, c in clis.items()):
        # The file survives the kill whole: no corruption, no dangling references, and only
        # whole transactions (a batch of records) in it.
        assert sql(home, "PRAGMA integrity_check") == [("ok",)], kind
        assert sql(home, "PRAGMA foreign_key_check") == [], kind
        assert 0 < committed[kind] < IMPORT_SIZES[kind], kind
        assert committed[kind] % IMPORT_BATCH == 0, f"{kind}: half a batch was committed"
    assert sql(clis["orders"].home, "SELECT count(*) FROM order_items") == [
        (2 * committed["orders"],)
    ]
    assert sql(clis["transcripts"].home, "SELECT count(*) FROM messages") == [
        (4 * committed["transcripts"],)
    ]

    reruns = {kind: clis[kind].start(*commands[kind], log="rerun") for kind in files}
    for kind, proc in reruns.items():
        summary = json.loads(clis[kind].finish(proc, log="rerun"))
        # What the killed run committed is recognised, the rest is stored now.
        assert (summary["imported"], summary["duplicates"], summary["rejected"]) == (
            IMPORT_SIZES[kind] - committed[kind],
            committed[kind],
            0,
        ), kind

    def ids(home: Path, statement: Any) -> list[str]:
        db = Database(settings_for(home))
        try:
            with db.read() as session:
                return list(session.scalars(statement))
        finally:
            db.dispose()

    n = IMPORT_SIZES
    customers = ids(clis["customers"].home, select(Customer.id))
    assert sorted(customers) == [f"cus{i:06d}" for i in range(n["customers"])]
    orders = ids(clis["orders"].home, select(Order.id))
    assert sorted(orders) == [f"ord{i:06d}" for i in range(n["orders"])]
    items = ids(
        clis["orders"].home,
        select(OrderItem.order_id).group_by(OrderItem.order_id).having(func.count() != 2),
    )
    assert items == [], "orders with missing or doubled items"
    conversations = ids(clis["transcripts"].home, select(Conversation.id))
    assert sorted(conversations) == [f"conv{c:06d}" for c in range(n["transcripts"])]
    messages = ids(clis["transcripts"].home, select(Message.message_id))
    assert sorted(messages) == sorted(
        f"conv{c:06d}-{k}" for c in range(n["transcripts"]) for k in range(4)
    )
    pending = ids(
        clis["transcripts"].home,
        select(Message.state).where(Message.role == "customer", Message.state != "pending"),
    )
    assert pending == [], "every customer turn waits for the pipeline exactly once"
    for kind in files:
        assert sql(clis[kind].home, "PRAGMA integrity_check") == [("ok",)], kind


# --- 3. The review webhook outbox across a crash ---------------------------------------------

SECRET = "crash-test-review-secret"
FAILURES_PER_KEY = 2


@dataclass(frozen=True)
class Delivery:
    """One request the receiver got, what it made of it, and whether the sender was still
    there to hear the answer."""

    key: str
    signature: str
    body: bytes
    status: int
    answered: bool


@dataclass
class FlakyReceiver:
    """A review-webhook receiver that fails the first two deliveries of each idempotency key
    with 500, then takes them in (200). It can hold the next request's answer back, so a test
    can kill the sender mid-send."""

    url: str = ""
    got: list[Delivery] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hold: threading.Event = field(default_factory=threading.Event)
    held: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)

    def answer(self, key: str, signature: str, body: bytes) -> tuple[int, bool]:
        """Record a delivery; the status to answer, and whether to hold the answer back."""
        with self.lock:
            seen = sum(1 for d in self.got if d.key == key)
            status = 500 if seen < FAILURES_PER_KEY else 200
            held = self.hold.is_set()
            self.hold.clear()
            self.got.append(Delivery(key, signature, body, status, answered=not held))
        return status, held

    def by_key(self) -> dict[str, list[Delivery]]:
        """Every delivery, grouped by idempotency key, in the order received."""
        grouped: dict[str, list[Delivery]] = {}
        for delivery in self.got:
            grouped.setdefault(delivery.key, []).append(delivery)
        return grouped


@pytest.fixture
def flaky_receiver() -> Iterator[FlakyReceiver]:
    """A FlakyReceiver on a free loopback port, on a thread."""
    receiver = FlakyReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status, held = receiver.answer(
                self.headers.get("Idempotency-Key", ""),
                self.headers.get("X-Signature-SHA256", ""),
                body,
            )
            if held:
                receiver.held.set()
                receiver.release.wait(timeout=60)
            try:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()
            except OSError:  # the sender was killed while we held its answer
                pass

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/review-hook"
    yield receiver
    receiver.release.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


# A deliverer process: one delivery pass of the outbox at a given time, as `serve` and
# `worker` run it (their clock is the wall clock; this one is told the time).
DELIVERER = """
import sys
from datetime import datetime
import httpx
from engine.db import Database
from engine.outbox import deliver_due
from engine.settings import Settings
db = Database(Settings())
with httpx.Client(timeout=60, trust_env=False) as client:
    deliver_due(db, client=client, secret=sys.argv[1], now=datetime.fromisoformat(sys.argv[2]))
"""


def deliveries(db: Database) -> dict[int | None, WebhookDelivery]:
    """The outbox rows by draft id."""
    with db.read() as session:
        return {row.draft_id: row for row in session.scalars(select(WebhookDelivery))}


def test_review_webhook_deliveries_survive_crashed_deliverers_exactly_once(
    cli: Callable[..., Cli], tmp_path: Path, flaky_receiver: FlakyReceiver
) -> None:
    hooked = cli("outbox", REVIEW_WEBHOOK_URL=flaky_receiver.url, REVIEW_WEBHOOK_SECRET=SECRET)
    db = Database(settings_for(hooked.home))
    db.migrate()
    try:
        names = ["Ana", "Ben", "Cyd", "Dee", "Eli"]
        source = write_lines(
            tmp_path / "subscribers.jsonl",
            [
                {
                    "id": f"sub{i}",
                    "email": f"sub{i}@example.com",
                    "first_name": name,
                    "signup_source": "newsletter",
                    "subscribed_at": "2026-11-19T10:00:00Z",
                    "marketing_consent": True,
                }
                for i, name in enumerate(names)
            ],
        )
        assert import_file(db, path=source, kind="customers").imported == len(names)
        # The drafts and their outbox rows are written by the CLI, which also makes the first
        # delivery pass on the wall clock: every first attempt gets a 500.
        ran = json.loads(
            hooked.run(
                "campaign",
                "run",
                "--kind",
                "welcome",
                "--as-of",
                "2026-11-20T09:00:00Z",
                "--json",
                log="campaign",
            )
        )
        drafts = ran["draft_ids"]
        assert len(drafts) == len(names) and ran["failed"] == []
        assert {r.attempts for r in deliveries(db).values()} == {1}

        with httpx.Client(timeout=10.0, trust_env=False) as http:
            # From here the deliverers are told the time, so the backoff takes no real time.
            t1 = max(r.next_attempt_at for r in deliveries(db).values())
            assert deliver_due(db, client=http, secret=SECRET, now=t1).retrying == len(names)
            t2 = max(r.next_attempt_at for r in deliveries(db).values())

            # Crash 1: a deliverer claims (leases) a row and dies before sending anything.
            claimed = claim_due(db, now=t2)
            assert claimed is not None and claimed.attempts == 3
            db.dispose()  # all it held is gone; what it committed stays
            # Crash 2: a deliverer process is killed mid-send: the receiver got the body (and
            # took it in) but its answer never arrived, so the row is still pending.
            flaky_receiver.hold.set()
            deliverer = hooked.python(DELIVERER, SECRET, t2.isoformat())
            assert flaky_receiver.held.wait(timeout=60), "the deliverer never sent"
            kill(deliverer)
            flaky_receiver.release.set()

            # A fresh deliverer (a restarted process) while the two leases hold: it sends the
            # others, not those two.
            db = Database(settings_for(hooked.home))
            rows = deliveries(db)
            leased = {d: r for d, r in rows.items() if r.attempts == 3}
            [dropped] = [d for d, r in leased.items() if r.id == claimed.id]
            [in_send] = [d for d in leased if d != dropped]
            assert {r.state for r in rows.values()} == {"pending"}
            before = len(flaky_receiver.got)
            during = deliver_due(db, client=http, secret=SECRET, now=t2 + LEASE / 2)
            assert during.delivered == len(names) - 2
            assert {d.key for d in flaky_receiver.got[before:]}.isdisjoint(
                {f"draft-{d}-draft.created" for d in leased}
            )
            # After the leases ran out: both are sent again, and nothing else is.
            late = t2 + LEASE + timedelta(seconds=1)
            assert deliver_due(db, client=http, secret=SECRET, now=late).delivered == 2
            assert (
                deliver_due(db, client=http, secret=SECRET, now=late + timedelta(days=1)).total == 0
            )
        rows = deliveries(db)
    finally:
        db.dispose()

    keys = {f"draft-{d}-draft.created": d for d in drafts}
    got = flaky_receiver.by_key()
    assert set(got) == set(keys)
    for key, attempts in got.items():
        draft_id = keys[key]
        # Every attempt of a draft: the same key, the very same bytes, a valid signature.
        assert len({d.body for d in attempts}) == 1, key
        assert all(signature_matches(d.body, SECRET, d.signature) for d in attempts), key
        body = json.loads(attempts[0].body)
        assert (body["idempotency_key"], body["event"]) == (key, "draft.created")
        assert body["draft"]["id"] == draft_id
        assert attempts[0].body == rows[draft_id].payload.encode()  # the outbox's bytes
        # Delivered exactly once: one success the sender heard of, and the outbox row done.
        assert [d.answered for d in attempts if d.status == 200].count(True) == 1, key
        assert rows[draft_id].state == "delivered" and rows[draft_id].last_status == 200
        seen = [(d.status, d.answered) for d in attempts]
        failed_twice = [(500, True), (500, True)]
        if draft_id == dropped:  # its third attempt was claimed and never sent
            assert (seen, rows[draft_id].attempts) == ([*failed_twice, (200, True)], 4)
        elif draft_id == in_send:
            # Its third attempt was taken in but the answer never reached the killed sender, so
            # it came again: at least once, with the same key, which the receiver dedupes on.
            assert (seen, rows[draft_id].attempts) == (
                [*failed_twice, (200, False), (200, True)],
                4,
            )
        else:
            assert (seen, rows[draft_id].attempts) == ([*failed_twice, (200, True)], 3)
    # Taken in once per draft, counting by idempotency key as a receiver must.
    taken = [d.key for d in flaky_receiver.got if d.status == 200]
    assert set(taken) == set(keys) and duplicates(taken) == [f"draft-{in_send}-draft.created"]


def test_a_sender_killed_before_it_records_a_send_resends_it_once_with_the_same_message_id(
    cli: Callable[..., Cli],
) -> None:
    """The SMTP server holds the message when the sending process dies (SIGKILL, from the
    server's DATA handler, before the server even answers): the send stays pending, and once
    its lease has run out the next sender sends it again, with the same Message-ID. A duplicate
    at worst; never a loss."""
    with smtp_server() as (inbox, port, _):
        runner = cli(
            "send",
            EMAIL_TRANSPORT="smtp",
            SMTP_URL=f"smtp://127.0.0.1:{port}",
            EMAIL_FROM="Shop <hello@shop.example>",
            BUSINESS_ADDRESS="1 Main St, Springfield",
            PUBLIC_URL="https://shop.example",
        )
        db = Database(settings_for(runner.home))
        db.migrate()
        try:
            approved_drafts(db, "c1")
            victim: list[subprocess.Popen[bytes]] = []
            inbox.on_data = lambda: victim[0].send_signal(signal.SIGKILL)
            victim.append(runner.start("send", log="killed"))
            assert victim[0].wait(timeout=120) == -signal.SIGKILL
            assert len(inbox.messages) == 1
            with db.read() as session:
                pending = session.scalars(select(EmailSend)).one()
                status = session.scalar(select(Draft.status))
            assert (pending.state, status) == ("pending", "approved")
            inbox.on_data = None
            # Within the lease a second sender leaves it alone; after it, the send goes again.
            assert "0 sent" in runner.run("send", log="within-lease")
            with db.write() as session:
                session.execute(update(EmailSend).values(next_attempt_at=utcnow()))
            assert "1 sent" in runner.run("send", log="after-lease")
            with db.read() as session:
                sent = session.scalars(select(EmailSend)).one()
        finally:
            db.dispose()
    assert sent.state == "sent"
    assert len(inbox.messages) == 2
    assert str(inbox.messages[0]["Message-ID"]) == str(inbox.messages[1]["Message-ID"])
    assert str(inbox.messages[0]["Message-ID"]).strip("<>") == sent.message_id
