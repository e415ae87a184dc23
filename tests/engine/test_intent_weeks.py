"""Customers and messages per intent per week (the console's trends): seven-day weeks ending on
the day asked for, their edges, customer turns only; and the trackers with their counts."""

from datetime import UTC, date, datetime, timedelta
from itertools import count, pairwise

import pytest
from sqlalchemy import select

from chat_ingest.schemas import TranscriptCreate
from chat_ingest.service import store_transcript
from engine.db import Database
from engine.errors import InvalidInput
from engine.intents.service import (
    IntentWeek,
    create_tracker,
    intent_weeks,
    list_trackers,
    week_starts,
)
from engine.models import Message, MessageIntent

AS_OF = date(2026, 11, 20)
_ids = count(1)


def said(
    db: Database, customer_id: str, at: datetime, *intents: str, role: str = "customer"
) -> None:
    """One message of `role` sent at `at`, carrying `intents` (as the pipeline would store them)."""
    n = next(_ids)
    with db.write() as session:
        store_transcript(
            session,
            transcript=TranscriptCreate.model_validate(
                {
                    "conversation_id": f"conv-{n}",
                    "customer_id": customer_id,
                    "messages": [
                        {"id": f"m-{n}", "role": role, "text": "hello", "sent_at": at.isoformat()}
                    ],
                }
            ),
        )
        message = session.scalars(select(Message).where(Message.message_id == f"m-{n}")).one()
        for intent in intents:
            session.add(
                MessageIntent(
                    message_id=message.id,
                    customer_id=customer_id,
                    intent=intent,
                    score=0.9,
                    sent_at=at,
                    source="builtin",
                )
            )


def at(day: date, hour: int = 0, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=UTC)


def test_the_weeks_are_seven_days_ending_on_the_day_asked_for() -> None:
    starts = week_starts(as_of=AS_OF)
    assert len(starts) == 12
    assert starts[-1] == date(2026, 11, 14)  # the last week is 14 to 20 November
    assert starts[0] == date(2026, 8, 29)
    assert all(b - a == timedelta(days=7) for a, b in pairwise(starts))
    assert week_starts(as_of=AS_OF, weeks=1) == [date(2026, 11, 14)]
    with pytest.raises(InvalidInput):
        week_starts(as_of=AS_OF, weeks=0)


def test_messages_fall_in_their_week_and_the_edges_hold(db: Database) -> None:
    first, last = date(2026, 8, 29), date(2026, 11, 14)
    said(db, "ana", at(first) - timedelta(seconds=1), "pricing_interest")  # before the first week
    said(db, "ana", at(first), "pricing_interest")  # the first instant of the first week
    said(db, "ana", at(last) - timedelta(seconds=1), "pricing_interest")  # the 11th week's end
    said(db, "ana", at(last), "pricing_interest")  # the last week's first instant
    said(db, "bo", at(AS_OF, 23, 59, 59), "pricing_interest", "discount_seeking")
    said(db, "bo", at(AS_OF + timedelta(days=1)), "pricing_interest")  # after as_of: left out
    with db.read() as session:
        rows = intent_weeks(session, as_of=AS_OF)
    assert rows == [
        IntentWeek("discount_seeking", last, customers=1, messages=1),
        IntentWeek("pricing_interest", first, customers=1, messages=1),
        IntentWeek("pricing_interest", date(2026, 11, 7), customers=1, messages=1),
        IntentWeek("pricing_interest", last, customers=2, messages=2),
    ]


def test_customers_count_once_a_week_and_agent_turns_not_at_all(db: Database) -> None:
    monday = at(date(2026, 11, 16), 10)
    said(db, "ana", monday, "support_issue")
    said(db, "ana", monday + timedelta(hours=2), "support_issue")
    said(db, "bo", monday, "support_issue")
    # An intent row on an agent's turn (which the pipeline never writes) is still not counted.
    said(db, "cy", monday, "support_issue", role="agent")
    said(db, "cy", monday, "pricing_interest", role="bot")
    with db.read() as session:
        rows = intent_weeks(session, as_of=AS_OF)
        two_weeks = intent_weeks(session, as_of=AS_OF + timedelta(days=7), weeks=1)
    assert rows == [IntentWeek("support_issue", date(2026, 11, 14), customers=2, messages=3)]
    # As of a week later, with one week asked for, Monday the 16th lies before it.
    assert two_weeks == []


def test_trackers_are_listed_with_their_counts(db: Database) -> None:
    with db.write() as session:
        create_tracker(
            session,
            name="grinder_noise",
            description="Grinders that got loud",
            examples=["my grinder is loud", "  ", "the burrs squeak"],
        )
        create_tracker(session, name="gift_ideas", description="", examples=["a gift for dad"])
    said(db, "ana", at(AS_OF), "grinder_noise")
    said(db, "ana", at(AS_OF, 1), "grinder_noise")
    said(db, "bo", at(AS_OF), "grinder_noise", "pricing_interest")
    with db.read() as session:
        trackers = list_trackers(session)
    assert [(t.name, t.messages, t.customers) for t in trackers] == [
        ("grinder_noise", 3, 2),
        ("gift_ideas", 0, 0),
    ]
    assert trackers[0].examples == ["my grinder is loud", "the burrs squeak"]
    assert trackers[0].description == "Grinders that got loud"
