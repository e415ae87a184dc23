"""Erasure: a customer ingested everywhere (chats, facts, intents, vectors, orders, drafts, review
history, webhook outbox) is gone from every table, the vector store and the SQLite file's bytes;
the audit row holds nothing about them; a customer who comes back starts empty."""

import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from embeddings.store import EdgeStore
from engine.customers.context import build_context
from engine.customers.erasure import forget_customer, vacuum_full_tables
from engine.db import Database
from engine.drafting.review import edit, list_drafts
from engine.drafting.service import load_catalog, run_campaign
from engine.drafting.templates import TemplateDrafter
from engine.drafting.voice import current_voice
from engine.errors import NotFoundError
from engine.measure.attribution import attribute_orders
from engine.models import (
    Attribution,
    EmailEvent,
    EmailSend,
    Erasure,
    Fact,
    FlowEntry,
    Message,
    MessageIntent,
    WebhookDelivery,
    utcnow,
)
from engine.outbox import LEASE, SIGNATURE_HEADER, claim_due, deliver_due, signature_matches
from engine.runtime import Services
from tests.builders import AS_OF, converse, customer, order
from tests.measure_rows import T0, add_event, add_order, enter
from tests.scans import haystack
from tests.servers import recording_transport

GONE = "zq-erase-7731"
KEPT = "kept-1"
EMAIL = "marisol.quetzal@example.org"
URL = "http://127.0.0.1:9/review"
SECRET = "review-secret"
# Words only the erased customer ever wrote, or that only their data holds.
NEEDLES = [GONE, EMAIL, "marisol", "quetzalcoatl", "kilnwright", "867-5309"]


def populate(services: Services) -> None:
    """Two customers with chats processed into facts, intents and vectors, an order each,
    drafts with webhook deliveries, and an edited draft (review history)."""
    db = services.db
    customer(db, GONE, subscribed_days_ago=2, first_name="Marisol", email=EMAIL)
    customer(db, KEPT, subscribed_days_ago=2, first_name="Tom")
    converse(
        db,
        GONE,
        f"conv-{GONE}",
        [
            ("customer", "I run Quetzalcoatl Pottery, a tiny ceramics studio."),
            ("agent", "Welcome Marisol! How can we help?"),
            ("customer", "The kilnwright app keeps crashing when I pair the card reader."),
            ("customer", "Call me at 555-867-5309 if that is easier."),
        ],
    )
    converse(
        db,
        KEPT,
        "conv-kept",
        [("customer", "I run a small bakery and the card reader will not pair.")],
    )
    order(db, f"order-{GONE}", GONE, days_ago=2)
    order(db, "order-kept", KEPT, days_ago=2)
    services.pipeline().run_until_idle()
    for kind in ("welcome", "post_purchase"):
        run_campaign(
            db,
            drafter=TemplateDrafter(),
            kind=kind,
            as_of=AS_OF,
            actor="tester",
            webhook_url=URL,
        )
    with db.write() as session:
        mine = [d for d in list_drafts(session) if d.customer_id == GONE]
        voice = current_voice(session)
        edit(
            session,
            draft_id=mine[0].id,
            actor="reviewer",
            changes={"subject": "For Marisol at Quetzalcoatl Pottery"},
            catalog=load_catalog(session),
            checks=voice.checks,
            blocked_texts=[],
        )


def test_an_erased_customer_is_nowhere_and_the_audit_row_says_only_that_it_happened(
    services: Services,
) -> None:
    populate(services)
    tables, vectors = haystack(services)
    # The test can fail: before the erasure, their data is everywhere it should be.
    assert all(needle.lower() in tables for needle in NEEDLES)
    assert GONE in vectors and "kilnwright" not in vectors  # payloads hold ids, never words
    with services.db.read() as session:
        assert session.scalar(select(func.count()).where(Fact.customer_id == GONE))
        assert session.scalar(select(func.count()).where(MessageIntent.customer_id == GONE))
    kept_vectors = services.store.count(customer_id=KEPT)

    report = forget_customer(db=services.db, store=services.store, customer_id=GONE, actor="ops")

    tables, vectors = haystack(services)
    assert [n for n in NEEDLES if n.lower() in tables] == []
    assert [n for n in NEEDLES if n.lower() in vectors] == []
    assert services.store.count(customer_id=GONE) == 0
    # Everyone else is untouched.
    assert services.store.count(customer_id=KEPT) == kept_vectors > 0
    assert "bakery" in tables and KEPT in tables
    for table in (
        "customers",
        "conversations",
        "messages",
        "facts",
        "message_intents",
        "orders",
        "order_items",
        "drafts",
        "draft_events",
        "webhook_deliveries",
        "vectors",
    ):
        assert report.removed.get(table, 0) > 0, table
    assert report.removed["messages"] == 4 and report.removed["customers"] == 1
    with services.db.read() as session:
        audit = session.scalars(select(Erasure)).one()
    assert (audit.id, audit.actor, audit.removed) == (report.audit_id, "ops", report.removed)
    assert audit.at is not None


def test_the_erased_words_are_gone_from_the_sqlite_file_itself(
    services: Services, tmp_path: Path
) -> None:
    if not services.db.is_sqlite:
        pytest.skip("PostgreSQL reclaims deleted rows' space in VACUUM, not at once")
    populate(services)
    forget_customer(db=services.db, store=services.store, customer_id=GONE, actor="ops")
    database = Path(services.db.url.removeprefix("sqlite:///"))
    raw = b"".join(
        path.read_bytes()
        for path in (database, database.with_name(database.name + "-wal"))
        if path.exists()
    ).lower()
    assert [n for n in NEEDLES if n.lower().encode() in raw] == []


def test_a_customer_who_comes_back_starts_empty(services: Services) -> None:
    populate(services)
    forget_customer(db=services.db, store=services.store, customer_id=GONE, actor="ops")
    customer(services.db, GONE, subscribed_days_ago=0, first_name="Marisol")
    converse(services.db, GONE, "conv-again", [("customer", "Hello again, just browsing.")])
    services.pipeline().run_until_idle()
    with services.db.read() as session:
        context = build_context(session, customer_id=GONE, as_of=AS_OF)
        messages = session.scalar(select(func.count()).where(Message.customer_id == GONE))
    assert context.facts == [] and context.orders.count == 0
    assert messages == 1
    assert {hit.payload["message_id"] for hit in services.store.scroll()} >= {"conv-again-0"}
    assert services.store.count(customer_id=GONE) == 1
    with services.db.read() as session:
        assert [d for d in list_drafts(session) if d.customer_id == GONE] == []


def test_erasing_is_re_runnable_and_an_unknown_customer_is_not_found(services: Services) -> None:
    populate(services)
    forget_customer(db=services.db, store=services.store, customer_id=GONE, actor="ops")
    with pytest.raises(NotFoundError):
        forget_customer(db=services.db, store=services.store, customer_id=GONE, actor="ops")
    with pytest.raises(NotFoundError):
        forget_customer(db=services.db, store=services.store, customer_id="nobody", actor="ops")
    with services.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Erasure)) == 1


def test_vectors_left_by_an_interrupted_erasure_go_on_the_second_run(services: Services) -> None:
    populate(services)
    left = services.store.count(customer_id=GONE)
    # The rows went, then the process died before the vectors did.
    forget_customer(db=services.db, store=None, customer_id=GONE, actor="ops")
    assert services.store.count(customer_id=GONE) == left > 0
    report = forget_customer(db=services.db, store=services.store, customer_id=GONE, actor="ops")
    assert report.removed == {"vectors": left}
    assert services.store.count(customer_id=GONE) == 0
    # Gone from the store's files too (segments, payload indexes, write-ahead log).
    assert store_files_holding(services, GONE) == []


def store_files_holding(services: Services, needle: str) -> list[str]:
    """Files of the embedded vector store (and beside it) that hold the needle's bytes."""
    assert isinstance(services.store, EdgeStore)
    home = services.store.path.parent
    return [
        str(path)
        for path in home.glob("vectors*/**/*")
        if path.is_file() and needle.encode() in path.read_bytes()
    ]


def test_vacuum_full_rewrites_the_tables_an_erasure_took_rows_from(services: Services) -> None:
    populate(services)
    report = forget_customer(db=services.db, store=services.store, customer_id=GONE, actor="ops")
    if services.db.is_sqlite:
        # secure_delete has already zeroed the rows' bytes: nothing to rewrite.
        assert vacuum_full_tables(services.db, tables=report.removed) == []
        return
    touched = sorted(set(report.removed) - {"vectors"})

    def files() -> dict[str, int]:
        with services.db.read() as session:
            return {
                name: session.scalar(text(f"SELECT pg_relation_filenode('{name}')"))
                for name in touched
            }

    before = files()
    assert vacuum_full_tables(services.db, tables=report.removed) == touched
    after = files()
    # A new file per table: the old one, with the dead rows' bytes, is unlinked.
    assert all(after[name] != before[name] for name in touched)


def test_a_batch_in_flight_during_an_erasure_leaves_no_vectors_or_facts(
    services: Services,
) -> None:
    db = services.db
    customer(db, GONE, subscribed_days_ago=2, email=EMAIL)
    converse(db, GONE, "conv-race", [("customer", "I run Quetzalcoatl Pottery in town.")])
    pipeline = services.pipeline()
    claimed = pipeline.claim(limit=10)
    assert [m.customer_id for m in claimed] == [GONE]
    forget_customer(db=db, store=services.store, customer_id=GONE, actor="ops")
    # The worker finishes the batch it claimed before the erasure.
    result = pipeline.process(claimed)
    assert result.messages == 0
    assert services.store.count(customer_id=GONE) == 0
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Fact)) == 0
        assert session.scalar(select(func.count()).select_from(Message)) == 0


def test_the_review_webhook_receiver_is_told_which_drafts_it_holds_are_erased(
    services: Services,
) -> None:
    """The drafts the receiver was sent are named to it in one signed `drafts.erased` event,
    with their ids and nothing about the person; drafts of others are not named."""
    populate(services)
    received: list[httpx.Request] = []
    http = httpx.Client(transport=recording_transport(received))
    assert deliver_due(services.db, client=http, secret=SECRET).delivered > 0
    with services.db.read() as session:
        gone = sorted(d.id for d in list_drafts(session) if d.customer_id == GONE)
    assert gone
    received.clear()

    report = forget_customer(
        db=services.db, store=services.store, customer_id=GONE, actor="ops", webhook_url=URL
    )

    assert report.notified_drafts == gone
    assert deliver_due(services.db, client=http, secret=SECRET).delivered == 1
    (request,) = received
    body = json.loads(request.content)
    assert (body["event"], body["draft_ids"]) == ("drafts.erased", gone)
    assert signature_matches(request.content, SECRET, request.headers[SIGNATURE_HEADER])
    assert request.headers["Idempotency-Key"] == body["idempotency_key"]
    assert [n for n in NEEDLES if n.lower() in request.content.decode().lower()] == []
    # The event row stays (delivered) and still holds nothing of theirs.
    tables, _ = haystack(services)
    assert [n for n in NEEDLES if n.lower() in tables] == []


def test_no_event_when_the_receiver_never_got_a_draft_or_none_is_configured(
    services: Services,
) -> None:
    populate(services)  # drafts queued for the receiver, not yet sent
    report = forget_customer(
        db=services.db, store=services.store, customer_id=GONE, actor="ops", webhook_url=URL
    )
    assert report.notified_drafts == []
    # The other customer's drafts reach the receiver, but the erasure is told of no receiver.
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(204)))
    assert deliver_due(services.db, client=http, secret=SECRET).delivered > 0
    report = forget_customer(db=services.db, store=services.store, customer_id=KEPT, actor="ops")
    assert report.notified_drafts == []
    with services.db.read() as session:
        events = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.draft_id.is_(None))
        ).all()
    assert events == []


def test_the_erasure_event_waits_for_a_send_in_flight(services: Services) -> None:
    """A draft being sent while its customer is erased may land at the receiver after the
    erasure: the event waits out that send's lease, so the receiver hears of the draft first."""
    populate(services)
    with services.db.read() as session:
        mine = {d.id for d in list_drafts(session) if d.customer_id == GONE}
    # A deliverer takes the customer's deliveries and is still sending them.
    claimed = []
    while (delivery := claim_due(services.db)) is not None:
        claimed.append(delivery)
    assert claimed

    before = utcnow()
    report = forget_customer(
        db=services.db, store=services.store, customer_id=GONE, actor="ops", webhook_url=URL
    )

    assert report.notified_drafts == sorted(mine)
    with services.db.read() as session:
        event = session.scalars(
            select(WebhookDelivery).where(WebhookDelivery.draft_id.is_(None))
        ).one()
    assert before + LEASE - timedelta(seconds=5) <= event.next_attempt_at <= utcnow() + LEASE
    http = httpx.Client(transport=httpx.MockTransport(lambda r: httpx.Response(204)))
    assert deliver_due(services.db, client=http, secret=SECRET).total == 0
    later = utcnow() + LEASE + timedelta(seconds=1)
    assert deliver_due(services.db, client=http, secret=SECRET, now=later).delivered >= 1


def test_what_was_sent_and_measured_goes_with_the_customer_and_is_counted(db: Database) -> None:
    """The sending tables are erased by name, not only by cascade: the audit row counts them,
    and a store whose foreign keys are off loses them all the same."""
    draft_id = enter(db, GONE, "personal")
    assert draft_id is not None
    add_event(db, draft_id, GONE, "clicked", T0 + timedelta(hours=1))
    add_order(db, "o-gone", GONE, T0 + timedelta(days=1))
    with db.write() as session:
        assert attribute_orders(session, click_days=5, delivered_days=1) == 1
    report = forget_customer(db=db, store=None, customer_id=GONE, actor="ops")
    for table in ("email_events", "attributions", "email_sends", "flow_entries", "drafts"):
        assert report.removed[table] == 1, table
    with db.read() as session:
        for model in (EmailEvent, EmailSend, FlowEntry, Attribution):
            assert session.scalar(select(func.count()).select_from(model)) == 0
