"""Rows for the measurement tests, written straight to the tables: drafts, sends, provider
events, orders and flow entries, dated around one moment before AS_OF."""

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count

from engine.db import Database
from engine.models import Customer, Draft, EmailEvent, EmailSend, FlowEntry, Order
from tests.builders import AS_OF

_ids = count(1)


def draft_row(customer_id: str, *, step: str = "d0", kind: str = "welcome") -> Draft:
    """A sent draft of one step for one customer, not stored yet."""
    return Draft(
        customer_id=customer_id,
        kind=kind,
        step=step,
        anchor="test",
        status="sent",
        subject="Hello",
        preheader="Hi",
        body="Hi there",
        original={},
        fact_ids=[],
        evidence=[],
        context={},
        problems=[],
        drafter="template",
        template=f"{kind}.{step}.v1/basic",
    )


def add_draft(db: Database, customer_id: str, *, step: str = "d0", kind: str = "welcome") -> int:
    """A sent draft of one step for one customer; its id."""
    with db.write() as session:
        draft = draft_row(customer_id, step=step, kind=kind)
        session.add(draft)
        session.flush()
        return draft.id


def add_event(
    db: Database,
    draft_id: int,
    customer_id: str,
    event: str,
    at: datetime,
    *,
    machine: bool = False,
    simulated: bool = False,
) -> None:
    with db.write() as session:
        session.add(
            EmailEvent(
                provider="test",
                event_id=f"e{next(_ids)}",
                event=event,
                draft_id=draft_id,
                customer_id=customer_id,
                machine=machine,
                occurred_at=at,
                simulated=simulated,
            )
        )


def add_order(
    db: Database,
    order_id: str,
    customer_id: str | None,
    at: datetime,
    *,
    total: str = "20.00",
    status: str = "placed",
) -> None:
    with db.write() as session:
        session.add(
            Order(
                id=order_id,
                customer_id=customer_id,
                placed_at=at,
                currency="USD",
                total=Decimal(total),
                status=status,
            )
        )


T0 = AS_OF - timedelta(days=10)


def enter(
    db: Database,
    customer_id: str,
    arm: str,
    *,
    send: str | None = "sent",
    at: datetime = T0,
    step: str = "d0",
) -> int | None:
    """A customer entering the welcome step in an arm, with their draft and its send."""
    with db.write() as session:
        session.add(Customer(id=customer_id, marketing_consent=True))
    draft_id = None if arm == "holdout" else add_draft(db, customer_id, step=step)
    with db.write() as session:
        session.add(
            FlowEntry(
                customer_id=customer_id,
                kind="welcome",
                step=step,
                anchor="test",
                arm=arm,
                draft_id=draft_id,
                entered_at=at,
            )
        )
        if draft_id is not None and send is not None:
            session.add(
                EmailSend(
                    draft_id=draft_id,
                    customer_id=customer_id,
                    message_id=f"<{customer_id}@test>",
                    transport="test",
                    state=send,
                    sent_at=at if send == "sent" else None,
                )
            )
    return draft_id


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def small_campaign(db: Database) -> None:
    """Four personal entries (one send failed), two generic, three held out."""
    p1 = enter(db, "p1", "personal")
    assert p1 is not None
    add_event(db, p1, "p1", "delivered", day(0.1))
    add_event(db, p1, "p1", "clicked", day(1))
    add_event(db, p1, "p1", "clicked", day(1.5))  # the same person twice: one click
    add_order(db, "o-p1", "p1", day(2), total="50.00")
    p2 = enter(db, "p2", "personal")
    assert p2 is not None
    add_event(db, p2, "p2", "delivered", day(0.1))
    add_event(db, p2, "p2", "clicked", day(0.2), machine=True)  # a scanner: no click
    add_event(db, p2, "p2", "unsubscribed", day(0.3))
    p3 = enter(db, "p3", "personal")
    assert p3 is not None
    add_event(db, p3, "p3", "bounced", day(0.1))
    add_order(db, "o-p3", "p3", day(6), total="30.00")  # after the 5-day window
    enter(db, "p4", "personal", send="failed")
    add_order(db, "o-p4", "p4", day(1), total="99.00")  # never got the email: not counted
    g1 = enter(db, "g1", "generic")
    assert g1 is not None
    add_event(db, g1, "g1", "delivered", day(0.1))
    add_event(db, g1, "g1", "complained", day(0.5))
    g2 = enter(db, "g2", "generic")
    assert g2 is not None
    add_event(db, g2, "g2", "delivered", day(0.1))
    add_event(db, g2, "g2", "clicked", day(0.5))
    add_order(db, "o-g2", "g2", day(1), total="10.00")
    enter(db, "h1", "holdout")
    add_order(db, "o-h1", "h1", day(3), total="40.00")
    enter(db, "h2", "holdout")
    add_order(db, "o-h2", "h2", day(1), status="cancelled")
    enter(db, "h3", "holdout")
    # An entry long before the period asked for.
    enter(db, "old", "personal", at=AS_OF - timedelta(days=100), step="d3")
