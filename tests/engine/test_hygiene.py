"""List hygiene at its edges: soft bounces (three within 30 days suppress), unengaged customers
(no human click or open in the last six sends over 90 days or more), and suppression shown in
the context and the status and honoured by campaigns."""

from datetime import datetime, timedelta

from sqlalchemy import select

from engine.customers.context import build_context
from engine.customers.engagement import unengaged
from engine.customers.lifecycle import due_customers
from engine.db import Database
from engine.email.events import record_events
from engine.email.providers import ProviderEvent
from engine.models import Customer, EmailSend
from engine.status import read_status
from tests.builders import AS_OF, customer
from tests.measure_rows import add_draft, add_event


def bounce(draft_id: int, n: int, at: datetime, *, kind: str = "soft") -> ProviderEvent:
    """A bounce of one of our drafts, as a provider reports it."""
    return ProviderEvent(
        provider="generic",
        event_id=f"b{n}",
        event="bounced",
        occurred_at=at,
        draft_id=draft_id,
        message_id=None,
        email=None,
        bounce="soft" if kind == "soft" else "hard",
        machine=False,
        url=None,
    )


def suppression(db: Database, customer_id: str) -> tuple[datetime | None, str | None]:
    with db.read() as session:
        row = session.get_one(Customer, customer_id)
        return row.suppressed_at, row.suppression_reason


def test_three_soft_bounces_within_30_days_suppress_and_spread_out_they_do_not(
    db: Database,
) -> None:
    customer(db, "spread")
    customer(db, "close")
    spread, close = add_draft(db, "spread"), add_draft(db, "close")
    with db.write() as session:
        # 30 days and a second apart: the first has left the window when the third arrives.
        record_events(session, [bounce(spread, 1, AS_OF - timedelta(days=30, seconds=1))])
        record_events(session, [bounce(spread, 2, AS_OF - timedelta(days=10))])
        record_events(session, [bounce(spread, 3, AS_OF)])
        record_events(session, [bounce(close, 4, AS_OF - timedelta(days=29))])
        record_events(session, [bounce(close, 5, AS_OF - timedelta(days=10))])
    assert suppression(db, "close") == (None, None)
    with db.write() as session:
        record_events(session, [bounce(close, 6, AS_OF)])
    assert suppression(db, "spread") == (None, None)
    assert suppression(db, "close") == (AS_OF, "soft_bounces")


def test_a_hard_bounce_suppresses_at_once_and_shows_everywhere(db: Database) -> None:
    customer(db, "c1", subscribed_days_ago=1)
    customer(db, "c2", subscribed_days_ago=1)
    draft_id = add_draft(db, "c1")
    with db.write() as session:
        report = record_events(session, [bounce(draft_id, 1, AS_OF, kind="hard")])
        again = record_events(session, [bounce(draft_id, 1, AS_OF, kind="hard")])
    assert (report.stored, again.duplicates) == (1, 1)
    with db.read() as session:
        context = build_context(session, customer_id="c1", as_of=AS_OF)
        status = read_status(session)
        due = [d.customer_id for d in due_customers(session, kind="welcome", as_of=AS_OF)]
    assert context.consent.suppression_reason == "hard_bounce"
    assert context.consent.marketing_consent is False
    assert (status.suppressed_hard_bounce, status.suppressed_soft_bounces) == (1, 0)
    assert due == ["c2"]


def sends(db: Database, customer_id: str, *, days_ago: list[float]) -> int:
    """Sent emails to one customer, that many days before AS_OF; the last draft's id."""
    draft_id = 0
    for n, ago in enumerate(days_ago):
        draft_id = add_draft(db, customer_id, step=f"s{n}")
        with db.write() as session:
            session.add(
                EmailSend(
                    draft_id=draft_id,
                    customer_id=customer_id,
                    message_id=f"{customer_id}-{n}@test",
                    transport="test",
                    state="sent",
                    sent_at=AS_OF - timedelta(days=ago),
                )
            )
    return draft_id


def test_unengaged_needs_six_silent_sends_over_90_days(db: Database) -> None:
    for name in ("silent", "recent", "five", "clicked", "machine"):
        customer(db, name)
    sends(db, "silent", days_ago=[90, 70, 50, 30, 10, 1])
    sends(db, "recent", days_ago=[89, 70, 50, 30, 10, 1])  # the six span less than 90 days
    sends(db, "five", days_ago=[200, 70, 50, 30, 10])
    last = sends(db, "clicked", days_ago=[120, 70, 50, 30, 10, 1])
    add_event(db, last, "clicked", "clicked", AS_OF - timedelta(days=5))
    bot = sends(db, "machine", days_ago=[120, 70, 50, 30, 10, 1])
    add_event(db, bot, "machine", "opened", AS_OF - timedelta(days=5), machine=True)
    with db.read() as session:
        ids = list(session.scalars(select(Customer.id)))
        found = unengaged(session, customer_ids=ids, as_of=AS_OF)
    assert found == {"silent", "machine"}


def test_campaigns_leave_unengaged_customers_out_unless_asked(db: Database) -> None:
    customer(db, "asleep", subscribed_days_ago=1)
    customer(db, "awake", subscribed_days_ago=1)
    sends(db, "asleep", days_ago=[100, 80, 60, 40, 20, 5])
    with db.read() as session:
        due = [d.customer_id for d in due_customers(session, kind="welcome", as_of=AS_OF)]
        everyone = [
            d.customer_id
            for d in due_customers(session, kind="welcome", as_of=AS_OF, include_unengaged=True)
        ]
    assert (due, everyone) == (["awake"], ["asleep", "awake"])
