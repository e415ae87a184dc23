"""Rows for database tests, stored through the ingest service: customers, orders, chats,
conversations and kept facts, all dated relative to one fixed moment, AS_OF."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from chat_ingest.schemas import CustomerCreate, OrderCreate, TranscriptCreate
from chat_ingest.service import store_order, store_transcript, upsert_customer
from engine.db import Database
from engine.drafting.review import approve, list_drafts
from engine.drafting.service import run_campaign
from engine.drafting.templates import TemplateDrafter
from engine.models import Fact, Message

# The moment the tests run campaigns and build contexts at; every builder dates rows before it.
AS_OF = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def customer(
    db: Database, customer_id: str, *, subscribed_days_ago: float = 400, **extra: Any
) -> None:
    values = {
        "id": customer_id,
        "email": f"{customer_id}@example.com",
        "first_name": "Ana",
        "subscribed_at": (AS_OF - timedelta(days=subscribed_days_ago)).isoformat(),
        "marketing_consent": True,
    } | extra
    with db.write() as session:
        upsert_customer(session, customer=CustomerCreate.model_validate(values))


def order(
    db: Database, order_id: str, customer_id: str, *, days_ago: float, status: str = "placed"
) -> None:
    with db.write() as session:
        store_order(
            session,
            order=OrderCreate.model_validate(
                {
                    "order_id": order_id,
                    "customer_id": customer_id,
                    "placed_at": (AS_OF - timedelta(days=days_ago)).isoformat(),
                    "currency": "USD",
                    "total": "20.00",
                    "status": status,
                    "items": [
                        {
                            "sku": "BEANS",
                            "name": "House Beans",
                            "category": "coffee",
                            "quantity": 1,
                            "unit_price": Decimal("20.00"),
                        }
                    ],
                }
            ),
        )


def chat(db: Database, customer_id: str, *, days_ago: float, role: str = "customer") -> None:
    with db.write() as session:
        store_transcript(
            session,
            transcript=TranscriptCreate.model_validate(
                {
                    "conversation_id": f"c-{customer_id}-{days_ago}-{role}",
                    "customer_id": customer_id,
                    "messages": [
                        {
                            "id": f"m-{customer_id}-{days_ago}-{role}",
                            "role": role,
                            "text": "hello there",
                            "sent_at": (AS_OF - timedelta(days=days_ago)).isoformat(),
                        }
                    ],
                }
            ),
        )


def converse(
    db: Database, customer_id: str, conversation_id: str, lines: list[tuple[str, str]]
) -> None:
    """Store one conversation of (role, text) turns, a day before AS_OF."""
    sent = AS_OF - timedelta(days=1)
    with db.write() as session:
        store_transcript(
            session,
            transcript=TranscriptCreate.model_validate(
                {
                    "conversation_id": conversation_id,
                    "customer_id": customer_id,
                    "source": "widget",
                    "messages": [
                        {
                            "id": f"{conversation_id}-{n}",
                            "role": role,
                            "text": text,
                            "sent_at": (sent + timedelta(minutes=n)).isoformat(),
                        }
                        for n, (role, text) in enumerate(lines)
                    ],
                }
            ),
        )


def fact(db: Database, customer_id: str, category: str, value: str, quote: str) -> int:
    """A kept fact on the customer's first message (chat() must have run)."""
    with db.write() as session:
        message = session.scalars(
            select(Message).where(Message.customer_id == customer_id).order_by(Message.id)
        ).first()
        assert message is not None
        row = Fact(
            customer_id=customer_id,
            message_id=message.id,
            category=category,
            value=value,
            quote=quote,
            span_start=0,
            span_end=len(quote),
            said_at=message.sent_at,
            extractor="test",
        )
        session.add(row)
        session.flush()
        return row.id


def shop(db: Database) -> int:
    """Two new subscribers (one with a stated fact), one without consent; returns the fact id."""
    customer(db, "c1", subscribed_days_ago=1, first_name="Maya")
    chat(db, "c1", days_ago=1)
    fact_id = fact(db, "c1", "business", "small bakery", "I run a small bakery")
    customer(db, "c2", subscribed_days_ago=2, first_name="Tom")
    customer(db, "c3", subscribed_days_ago=1, marketing_consent=False)
    return fact_id


def approved_drafts(db: Database, *ids: str) -> list[int]:
    """A welcome draft for each new customer, approved by a reviewer."""
    for customer_id in ids:
        customer(db, customer_id, subscribed_days_ago=1)
    run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t")
    with db.write() as session:
        drafts = [d.id for d in list_drafts(session) if d.customer_id in ids]
        for draft_id in drafts:
            approve(session, draft_id=draft_id, actor="reviewer")
    return drafts
