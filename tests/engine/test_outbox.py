"""The review webhook outbox, against a real HTTP receiver on loopback: signed, idempotent,
retried with exponential backoff, leased so a crash or a second deliverer never double-sends."""

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

import engine.outbox as outbox
from engine.db import Database
from engine.models import Customer, Draft, WebhookDelivery, utcnow
from engine.outbox import (
    LEASE,
    MAX_ATTEMPTS,
    OutboxDeliverer,
    backoff,
    claim_due,
    deliver_due,
    delivery_states,
    enqueue,
    sign,
    signature_matches,
)
from engine.settings import Settings

SECRET = "s3cret-review-key"


@dataclass
class Received:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class Receiver:
    """A loopback webhook receiver: records every request, answers scripted statuses then 200."""

    url: str = ""
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def script(self, *statuses: int) -> None:
        with self.lock:
            self.statuses = list(statuses)

    def answer(self, request: Received) -> int:
        with self.lock:
            self.requests.append(request)
            return self.statuses.pop(0) if self.statuses else 200


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            headers = {name.lower(): value for name, value in self.headers.items()}
            status = rec.answer(Received(self.path, headers, body))
            reply = b"ok" if status < 300 else b"receiver is down"
            self.send_response(status)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # A short poll interval: shutdown() waits for it, and every test tears a receiver down.
    thread = threading.Thread(target=server.serve_forever, args=(0.01,), daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_address[1]}/review-hook"
    yield rec
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    # trust_env off: a proxy in the environment must not see loopback test traffic.
    with httpx.Client(timeout=5.0, trust_env=False) as client:
        yield client


def make_draft(db: Database, *, customer: str = "cus_1", anchor: str = "sub-1") -> int:
    with db.write() as session:
        if session.get(Customer, customer) is None:
            session.add(Customer(id=customer, marketing_consent=True))
        draft = Draft(
            customer_id=customer,
            kind="welcome",
            step="w1",
            anchor=anchor,
            subject="Hello",
            preheader="Hi",
            body="Body",
            original={},
            fact_ids=[],
            evidence=[],
            context={},
            problems=[],
            drafter="template",
            template="welcome/w1",
        )
        session.add(draft)
        session.flush()
        return draft.id


def queue(
    db: Database, url: str, *, draft_id: int | None = None, event: str = "draft.created"
) -> int:
    draft_id = make_draft(db) if draft_id is None else draft_id
    with db.write() as session:
        return enqueue(
            session,
            draft_id=draft_id,
            event=event,
            payload={"draft_id": draft_id, "subject": "Hello"},
            url=url,
        ).id


def row(db: Database, delivery_id: int) -> WebhookDelivery:
    with db.read() as session:
        return session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.id == delivery_id)
        ).one()


def count_rows(db: Database) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(WebhookDelivery)) or 0


def test_backoff_doubles_from_ten_seconds_and_stops_at_an_hour() -> None:
    assert [backoff(n).total_seconds() for n in range(1, 6)] == [10, 20, 40, 80, 160]
    assert backoff(9) == timedelta(seconds=2560)
    assert backoff(10) == backoff(1000) == timedelta(hours=1)


def test_enqueue_serialises_once_and_twice_adds_nothing(db: Database) -> None:
    draft_id = make_draft(db)
    with db.write() as session:
        first = enqueue(
            session,
            draft_id=draft_id,
            event="draft.created",
            payload={"z": 1, "a": "é", "draft_id": draft_id},
            url="http://127.0.0.1:9/a",
        )
    with db.write() as session:
        again = enqueue(
            session,
            draft_id=draft_id,
            event="draft.created",
            payload={"something": "else"},
            url="http://127.0.0.1:9/b",
        )
    assert again.id == first.id
    assert count_rows(db) == 1
    stored = row(db, first.id)
    key = f"draft-{draft_id}-draft.created"
    assert stored.idempotency_key == key
    assert stored.payload == json.dumps(
        {"a": "é", "draft_id": draft_id, "event": "draft.created", "idempotency_key": key, "z": 1},
        sort_keys=True,
        separators=(",", ":"),
    )
    assert " " not in stored.payload  # compact
    assert (stored.state, stored.attempts, stored.url) == ("pending", 0, "http://127.0.0.1:9/a")


def test_delivery_is_signed_over_the_exact_body(
    db: Database, receiver: Receiver, http: httpx.Client
) -> None:
    delivery_id = queue(db, receiver.url)
    now = utcnow()

    report = deliver_due(db, client=http, secret=SECRET, now=now)

    assert (report.delivered, report.retrying, report.failed) == (1, 0, 0)
    [got] = receiver.requests
    stored = row(db, delivery_id)
    assert got.path == "/review-hook"
    assert got.body == stored.payload.encode("utf-8")
    assert got.headers["content-type"] == "application/json"
    assert got.headers["idempotency-key"] == stored.idempotency_key
    assert got.headers["user-agent"].startswith("personalize-review-webhook/")
    signature = got.headers["x-signature-sha256"]
    assert signature == sign(got.body, SECRET)
    assert signature_matches(got.body, SECRET, signature)
    assert not signature_matches(got.body.replace(b"Hello", b"Hellp"), SECRET, signature)
    assert not signature_matches(got.body, "another-secret", signature)
    assert not signature_matches(got.body, SECRET, "ü" + signature[1:])  # non-ASCII: no crash
    assert json.loads(got.body)["event"] == "draft.created"
    assert (stored.state, stored.attempts, stored.last_status) == ("delivered", 1, 200)
    assert stored.delivered_at == now
    assert stored.last_error is None


@pytest.mark.parametrize("secret", [None, ""])
def test_no_signature_header_without_a_secret(
    db: Database, receiver: Receiver, http: httpx.Client, secret: str | None
) -> None:
    queue(db, receiver.url)
    deliver_due(db, client=http, secret=secret, now=utcnow())
    [got] = receiver.requests
    assert "x-signature-sha256" not in got.headers
    assert "idempotency-key" in got.headers


def test_failing_receiver_is_retried_with_backoff_until_delivered(
    db: Database, receiver: Receiver, http: httpx.Client
) -> None:
    receiver.script(500, 500)
    delivery_id = queue(db, receiver.url)
    t0 = utcnow()

    assert deliver_due(db, client=http, secret=SECRET, now=t0).retrying == 1
    first = row(db, delivery_id)
    assert (first.state, first.attempts, first.last_status) == ("pending", 1, 500)
    assert first.last_error is not None and first.last_error.startswith("HTTP 500")
    assert first.next_attempt_at == t0 + timedelta(seconds=10)

    # Not due yet: nothing is sent.
    assert deliver_due(db, client=http, secret=SECRET, now=t0 + timedelta(seconds=9)).total == 0
    assert len(receiver.requests) == 1

    t1 = first.next_attempt_at
    assert deliver_due(db, client=http, secret=SECRET, now=t1).retrying == 1
    second = row(db, delivery_id)
    assert second.attempts == 2
    assert second.next_attempt_at - t1 == 2 * (first.next_attempt_at - t0)  # 20 s after 10 s

    t2 = second.next_attempt_at
    assert deliver_due(db, client=http, secret=SECRET, now=t2).delivered == 1
    done = row(db, delivery_id)
    assert (done.state, done.attempts, done.last_status, done.delivered_at) == (
        "delivered",
        3,
        200,
        t2,
    )
    assert count_rows(db) == 1
    assert len(receiver.requests) == 3
    assert len({r.headers["idempotency-key"] for r in receiver.requests}) == 1
    assert len({r.body for r in receiver.requests}) == 1
    assert len({r.headers["x-signature-sha256"] for r in receiver.requests}) == 1

    # Delivered means done: nothing more is sent, however late it gets.
    assert deliver_due(db, client=http, secret=SECRET, now=t2 + timedelta(days=1)).total == 0
    assert len(receiver.requests) == 3


def test_a_row_not_yet_due_is_not_sent(
    db: Database, receiver: Receiver, http: httpx.Client
) -> None:
    delivery_id = queue(db, receiver.url)
    report = deliver_due(db, client=http, secret=SECRET, now=utcnow() - timedelta(minutes=1))
    assert report.total == 0
    assert receiver.requests == []
    assert row(db, delivery_id).attempts == 0


def test_gives_up_after_max_attempts(db: Database, receiver: Receiver, http: httpx.Client) -> None:
    receiver.script(*[503] * MAX_ATTEMPTS)
    delivery_id = queue(db, receiver.url)
    now = utcnow()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        report = deliver_due(db, client=http, secret=SECRET, now=now)
        assert report.total == 1
        stored = row(db, delivery_id)
        assert stored.attempts == attempt
        if attempt < MAX_ATTEMPTS:
            assert stored.state == "pending"
            assert stored.next_attempt_at == now + backoff(attempt)
            now = stored.next_attempt_at
    assert report.failed == 1
    assert (stored.state, stored.last_status) == ("failed", 503)
    assert deliver_due(db, client=http, secret=SECRET, now=now + timedelta(days=1)).total == 0
    assert len(receiver.requests) == MAX_ATTEMPTS


def test_an_unreachable_receiver_is_retried(db: Database, http: httpx.Client) -> None:
    with socket.socket() as sock:  # a port nobody listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    delivery_id = queue(db, f"http://127.0.0.1:{port}/hook")
    now = utcnow()
    assert deliver_due(db, client=http, secret=SECRET, now=now).retrying == 1
    stored = row(db, delivery_id)
    assert (stored.state, stored.attempts, stored.last_status) == ("pending", 1, None)
    assert stored.last_error is not None and "ConnectError" in stored.last_error
    assert stored.next_attempt_at == now + timedelta(seconds=10)


def test_a_crashed_deliverers_lease_holds_then_a_restart_sends_it(
    settings: Settings, db: Database, receiver: Receiver, http: httpx.Client
) -> None:
    delivery_id = queue(db, receiver.url)
    t0 = utcnow()
    # A deliverer takes the lease and "crashes" before sending.
    claimed = claim_due(db, now=t0)
    assert claimed is not None and claimed.id == delivery_id and claimed.attempts == 1
    assert claim_due(db, now=t0) is None  # a second deliverer does not get it
    db.dispose()

    restarted = Database(settings)
    try:
        early = deliver_due(restarted, client=http, secret=SECRET, now=t0 + LEASE / 2)
        assert early.total == 0
        assert receiver.requests == []

        late = deliver_due(
            restarted, client=http, secret=SECRET, now=t0 + LEASE + timedelta(seconds=1)
        )
        assert late.delivered == 1
        assert len(receiver.requests) == 1
        stored = row(restarted, delivery_id)
        assert (stored.state, stored.attempts) == ("delivered", 2)
    finally:
        restarted.dispose()


def test_a_crash_on_the_last_attempt_ends_failed(
    db: Database, receiver: Receiver, http: httpx.Client
) -> None:
    delivery_id = queue(db, receiver.url)
    with db.write() as session:
        session.execute(update(WebhookDelivery).values(attempts=MAX_ATTEMPTS - 1))
    t0 = utcnow()
    assert claim_due(db, now=t0) is not None  # the last attempt, never recorded
    report = deliver_due(db, client=http, secret=SECRET, now=t0 + LEASE + timedelta(seconds=1))
    assert report.failed == 1
    assert receiver.requests == []
    stored = row(db, delivery_id)
    assert (stored.state, stored.attempts) == ("failed", MAX_ATTEMPTS)


def test_postgres_deliverers_skip_a_row_another_has_locked(db: Database) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite serialises writers; SKIP LOCKED is PostgreSQL's")
    queue(db, "http://127.0.0.1:9/hook")
    result: list[object] = []
    with Session(db.engine) as other, other.begin():
        other.execute(select(WebhookDelivery).with_for_update()).all()
        # In a thread, so a claim that waited on the lock (no SKIP LOCKED) fails the test
        # instead of hanging it.
        thread = threading.Thread(target=lambda: result.append(claim_due(db, now=utcnow())))
        thread.start()
        thread.join(timeout=5)
        assert not thread.is_alive()
    assert result == [None]
    assert claim_due(db, now=utcnow()) is not None


def wait_for(condition: Any, *, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.02)
    return False


def test_background_deliverer_delivers_when_woken(
    db: Database, receiver: Receiver, http: httpx.Client
) -> None:
    # A long interval: only the wake can explain a prompt delivery.
    deliverer = OutboxDeliverer(db, client=http, secret=SECRET, interval=30.0)
    deliverer.start()
    try:
        time.sleep(0.05)  # let its first (empty) round pass, so it is asleep
        delivery_id = queue(db, receiver.url)
        deliverer.wake()
        assert wait_for(lambda: row(db, delivery_id).state == "delivered")
    finally:
        deliverer.stop(timeout=5)
    assert not deliverer.alive
    assert len(receiver.requests) == 1
    assert signature_matches(
        receiver.requests[0].body, SECRET, receiver.requests[0].headers["x-signature-sha256"]
    )


def test_background_deliverer_survives_a_failing_round_and_closes_its_own_client(
    db: Database, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = outbox.deliver_due
    calls: list[int] = []

    def flaky(*args: Any, **kwargs: Any) -> outbox.DeliveryReport:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real(*args, **kwargs)

    built: list[httpx.Client] = []

    def make_client(*, timeout: float = 10.0) -> httpx.Client:
        built.append(httpx.Client(timeout=timeout, trust_env=False))
        return built[-1]

    monkeypatch.setattr(outbox, "deliver_due", flaky)
    monkeypatch.setattr(outbox, "make_client", make_client)
    delivery_id = queue(db, receiver.url)
    # No client handed in: the deliverer builds one (as the app does) and owns it.
    deliverer = OutboxDeliverer(db, secret=None, interval=0.05)
    try:
        deliverer.start()
        assert wait_for(lambda: row(db, delivery_id).state == "delivered")
        assert deliverer.alive
    finally:
        deliverer.stop(timeout=5)
    assert len(calls) >= 2
    [client] = built
    assert client.is_closed


def test_delivery_states_show_the_newest_delivery_per_draft(
    db: Database, receiver: Receiver, http: httpx.Client
) -> None:
    approved_draft = make_draft(db, anchor="a")
    failing_draft = make_draft(db, anchor="b")
    quiet_draft = make_draft(db, anchor="c")
    queue(db, receiver.url, draft_id=approved_draft, event="draft.created")
    now = utcnow()
    assert deliver_due(db, client=http, secret=SECRET, now=now).delivered == 1
    queue(db, receiver.url, draft_id=approved_draft, event="draft.approved")
    receiver.script(500)
    queue(db, receiver.url, draft_id=failing_draft)
    later = now + timedelta(minutes=1)
    with db.write() as session:  # the approval is not due yet: only the failing one is sent
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.draft_id == approved_draft, WebhookDelivery.state == "pending")
            .values(next_attempt_at=later + timedelta(hours=1))
        )
    assert deliver_due(db, client=http, secret=SECRET, now=later).retrying == 1

    with db.read() as session:
        states = delivery_states(
            session, draft_ids=[approved_draft, failing_draft, quiet_draft, approved_draft]
        )
        assert delivery_states(session, draft_ids=[]) == {}

    assert set(states) == {approved_draft, failing_draft}
    newest = states[approved_draft]
    assert (newest.state, newest.attempts, newest.delivered_at) == ("pending", 0, None)
    failing = states[failing_draft]
    assert (failing.state, failing.attempts, failing.last_status) == ("pending", 1, 500)
    assert failing.last_error is not None and failing.last_error.startswith("HTTP 500")
    assert failing.next_attempt_at == later + timedelta(seconds=10)
    assert isinstance(failing.next_attempt_at, datetime)
    assert failing.model_dump()["state"] == "pending"
