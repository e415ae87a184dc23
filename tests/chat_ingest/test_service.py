"""Idempotent, all-or-nothing writes of messages, transcripts, customers and orders."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from chat_ingest.schemas import CustomerCreate, MessageEvent, OrderCreate, TranscriptCreate
from chat_ingest.service import (
    store_message,
    store_messages,
    store_order,
    store_transcript,
    upsert_customer,
)
from engine.db import Database
from engine.errors import ConflictError
from engine.models import Conversation, Customer, Message, Order, OrderItem, Product


def event(
    message_id: str = "m1",
    *,
    conversation: str = "c1",
    customer: str = "u1",
    role: str = "customer",
    text: str = "I run a bakery",
) -> MessageEvent:
    return MessageEvent.model_validate(
        {
            "conversation_id": conversation,
            "customer": {"id": customer, "email": f"{customer}@example.com", "first_name": "Ana"},
            "message": {
                "id": message_id,
                "role": role,
                "text": text,
                "sent_at": "2026-11-01T10:00:00+01:00",
            },
        }
    )


def transcript(
    conversation: str = "c9", ids: tuple[str, ...] = ("t1", "t2", "t3")
) -> TranscriptCreate:
    roles = ["bot", "customer", "agent"]
    return TranscriptCreate.model_validate(
        {
            "conversation_id": conversation,
            "customer_id": "u9",
            "source": "chat_widget",
            "messages": [
                {
                    "id": mid,
                    "role": roles[i % 3],
                    "text": f"turn {i}",
                    "sent_at": f"2026-11-01T10:0{i}:00Z",
                }
                for i, mid in enumerate(ids)
            ],
        }
    )


def order(order_id: str = "o1", **changes: Any) -> OrderCreate:
    data: dict[str, Any] = {
        "order_id": order_id,
        "customer_id": "u1",
        "placed_at": "2026-10-01T09:00:00Z",
        "currency": "USD",
        "total": 31.5,
        "items": [
            {
                "sku": "BEAN-ETH",
                "name": "Ethiopia 250g",
                "category": "beans",
                "quantity": 2,
                "unit_price": 12.5,
            },
            {
                "sku": "FILTER",
                "name": "Filters",
                "category": "accessories",
                "quantity": 1,
                "unit_price": 6.5,
            },
        ],
    }
    data.update(changes)
    return OrderCreate.model_validate(data)


def count(db: Database, model: type) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_message_creates_customer_conversation_and_queued_message(db: Database) -> None:
    with db.write() as session:
        stored = store_message(session, event=event())
    assert not stored.duplicate
    with db.read() as session:
        message = session.scalars(select(Message)).one()
        customer = session.get(Customer, "u1")
    assert message.state == "pending" and message.role == "customer"
    assert message.sent_at == datetime(2026, 11, 1, 9, 0, tzinfo=UTC)
    assert customer is not None and customer.email == "u1@example.com"
    assert customer.marketing_consent is False


def test_same_message_twice_is_stored_once(db: Database) -> None:
    with db.write() as session:
        first = store_message(session, event=event())
    with db.write() as session:
        second = store_message(session, event=event(text="edited text"))
    assert second.duplicate and second.id == first.id
    assert count(db, Message) == 1
    with db.read() as session:
        assert session.scalars(select(Message.text)).one() == "I run a bakery"


def test_agent_and_bot_turns_skip_the_queue(db: Database) -> None:
    with db.write() as session:
        store_message(session, event=event("a1", role="agent"))
        store_message(session, event=event("b1", role="bot"))
    with db.read() as session:
        assert set(session.scalars(select(Message.state))) == {"skipped"}


def test_conversation_of_another_customer_is_refused(db: Database) -> None:
    with db.write() as session:
        store_message(session, event=event("m1", customer="u1"))
    with pytest.raises(ConflictError) as caught, db.write() as session:
        store_message(session, event=event("m2", customer="u2"))
    assert caught.value.field == "conversation_id"
    assert count(db, Message) == 1
    assert count(db, Customer) == 1  # the refused message left nothing behind


def test_transcript_twice_is_stored_once(db: Database) -> None:
    with db.write() as session:
        first = store_transcript(session, transcript=transcript())
    with db.write() as session:
        second = store_transcript(session, transcript=transcript())
    assert (first.stored, first.duplicates) == (3, 0)
    assert second.duplicate and (second.stored, second.duplicates) == (0, 3)
    assert count(db, Message) == 3 and count(db, Conversation) == 1


def test_transcript_resent_with_more_turns_adds_only_new_ones(db: Database) -> None:
    with db.write() as session:
        store_transcript(session, transcript=transcript(ids=("t1", "t2")))
    with db.write() as session:
        result = store_transcript(session, transcript=transcript(ids=("t1", "t2", "t3", "t4")))
    assert (result.stored, result.duplicates) == (2, 2)
    assert count(db, Message) == 4


def test_transcript_is_all_or_nothing(db: Database) -> None:
    with db.write() as session:
        store_message(session, event=event("t2", conversation="elsewhere", customer="u1"))
    # t2 is known (another conversation): the transcript stores t1 and t3 and counts t2;
    # but a transcript for a conversation of another customer stores nothing at all.
    with db.write() as session:
        store_message(session, event=event("x1", conversation="c9", customer="someone-else"))
    with pytest.raises(ConflictError), db.write() as session:
        store_transcript(session, transcript=transcript())
    with db.read() as session:
        ids = set(session.scalars(select(Message.message_id)))
    assert ids == {"t2", "x1"}


def test_order_twice_is_stored_once_and_products_are_learned(db: Database) -> None:
    with db.write() as session:
        first = store_order(session, order=order())
    with db.write() as session:
        again = store_order(session, order=order())
    assert not first.duplicate and again.duplicate
    assert count(db, Order) == 1 and count(db, OrderItem) == 2
    with db.read() as session:
        product = session.get(Product, "BEAN-ETH")
        stored = session.get(Order, "o1")
        assert stored is not None and stored.total == Decimal("31.50")
        assert [i.sku for i in stored.items] == ["BEAN-ETH", "FILTER"]
    assert product is not None and product.price == Decimal("12.50")
    assert product.category == "beans"


def test_newer_order_refreshes_product_price(db: Database) -> None:
    with db.write() as session:
        store_order(session, order=order())
        newer = order("o2", placed_at="2026-11-01T09:00:00Z")
        newer_items = [newer.items[0].model_copy(update={"unit_price": Decimal("14.00")})]
        store_order(session, order=newer.model_copy(update={"items": newer_items}))
        store_order(session, order=order("o0", placed_at="2025-01-01T09:00:00Z"))
    with db.read() as session:
        product = session.get(Product, "BEAN-ETH")
    assert product is not None and product.price == Decimal("14.00")
    assert product.first_seen_at == datetime(2025, 1, 1, 9, tzinfo=UTC)


def test_customer_upsert_records_consent_changes(db: Database) -> None:
    with db.write() as session:
        created = upsert_customer(
            session,
            customer=CustomerCreate(
                id="u1",
                email="a@example.com",
                marketing_consent=True,
                subscribed_at=datetime(2026, 1, 1, tzinfo=UTC),
            ),
        )
    with db.write() as session:
        updated = upsert_customer(
            session, customer=CustomerCreate(id="u1", first_name="Ana", marketing_consent=False)
        )
    assert created.created and not updated.created
    with db.read() as session:
        customer = session.get(Customer, "u1")
    assert customer is not None
    assert customer.email == "a@example.com" and customer.first_name == "Ana"
    assert customer.consent_at == datetime(2026, 1, 1, tzinfo=UTC)
    assert customer.marketing_consent is False and customer.unsubscribed_at is not None


def test_message_fills_only_missing_customer_fields(db: Database) -> None:
    with db.write() as session:
        upsert_customer(session, customer=CustomerCreate(id="u1", email="own@example.com"))
        store_message(session, event=event())
    with db.read() as session:
        customer = session.get(Customer, "u1")
    assert customer is not None
    assert customer.email == "own@example.com" and customer.first_name == "Ana"


def test_batch_reports_each_message_on_its_own(db: Database) -> None:
    with db.write() as session:
        store_message(session, event=event("old", conversation="theirs", customer="u7"))
    batch = [
        event("b1"),
        event("b2"),
        event("b1"),  # the same message twice in one batch
        event("old", conversation="theirs", customer="u7"),  # already stored
        event("x", conversation="theirs", customer="u1"),  # someone else's conversation
    ]
    with db.write() as session:
        results = store_messages(session, events=batch)
    assert [getattr(r, "duplicate", None) for r in results] == [False, False, True, True, None]
    assert isinstance(results[4], ConflictError)
    assert results[0].id == results[2].id  # type: ignore[union-attr]
    with db.read() as session:
        assert set(session.scalars(select(Message.message_id))) == {"old", "b1", "b2"}
