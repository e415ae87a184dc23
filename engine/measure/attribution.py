"""Attribution: each purchase credited to the email that earned it, at most once.

The rule: the last email the customer clicked (a person's click; a mail scanner's machine click
is no touch) within `click_days` before the order, else the last email delivered to them within
`delivered_days` before it. Both windows include their edges: an email clicked exactly
`click_days` before the order, or at the very moment of it, counts. An order with no touch gets
no row, and is looked at again on the next run (a late-reported event may still credit it)."""

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine.db import insert_ignoring
from engine.models import PURCHASED, Attribution, EmailEvent, Order, utcnow

CLICK = "click"
DELIVERED = "delivered"


def rule_text(*, click_days: int, delivered_days: int) -> str:
    """The attribution rule in words, as reports state it."""
    return (
        f"last click within {click_days} {_days(click_days)}, "
        f"else last delivered within {delivered_days} {_days(delivered_days)}"
    )


def _days(n: int) -> str:
    return "day" if n == 1 else "days"


@dataclass(frozen=True)
class _Touch:
    at: datetime
    id: int
    draft_id: int


def _last_within(touches: Sequence[_Touch], *, placed_at: datetime, days: int) -> _Touch | None:
    """The newest touch at or before `placed_at` and no more than `days` before it."""
    # Sorted by (time, id): the last touch at or before the order is just left of the cut.
    cut = bisect_right([t.at for t in touches], placed_at)
    if cut == 0:
        return None
    touch = touches[cut - 1]
    return touch if touch.at >= placed_at - timedelta(days=days) else None


def attribute_orders(
    session: Session, *, click_days: int, delivered_days: int, now: datetime | None = None
) -> int:
    """Attribute every purchase not attributed yet that an email touched; the rows added."""
    if click_days < 0 or delivered_days < 0:
        raise ValueError("attribution windows are whole days, 0 or more")
    touched_customers = select(EmailEvent.customer_id).where(
        EmailEvent.event.in_(("clicked", "delivered"))
    )
    orders = session.execute(
        select(Order.id, Order.customer_id, Order.placed_at)
        .where(
            PURCHASED,
            Order.customer_id.in_(touched_customers),
            Order.id.not_in(select(Attribution.order_id)),
        )
        .order_by(Order.customer_id, Order.placed_at, Order.id)
    ).all()
    if not orders:
        return 0
    # Only the touches that could reach the orders at hand: none after the last order, none
    # before the first order's widest window.
    first = min(o.placed_at for o in orders) - timedelta(days=max(click_days, delivered_days))
    last = max(o.placed_at for o in orders)
    clicks: dict[str, list[_Touch]] = {}
    deliveries: dict[str, list[_Touch]] = {}
    rows = session.execute(
        select(
            EmailEvent.customer_id,
            EmailEvent.event,
            EmailEvent.occurred_at,
            EmailEvent.id,
            EmailEvent.draft_id,
        )
        .where(
            EmailEvent.customer_id.in_(
                select(Order.customer_id).where(
                    PURCHASED, Order.id.not_in(select(Attribution.order_id))
                )
            ),
            EmailEvent.occurred_at >= first,
            EmailEvent.occurred_at <= last,
            (EmailEvent.event == "delivered")
            | ((EmailEvent.event == "clicked") & EmailEvent.machine.is_(False)),
        )
        .order_by(EmailEvent.occurred_at, EmailEvent.id)
    )
    for customer_id, event, occurred_at, event_id, draft_id in rows:
        into = clicks if event == "clicked" else deliveries
        into.setdefault(customer_id, []).append(_Touch(occurred_at, event_id, draft_id))
    values = []
    attributed_at = now or utcnow()
    for order_id, buyer, placed_at in orders:
        if buyer is None:  # excluded by the query; says so to the type checker
            continue
        rule = CLICK
        touch = _last_within(clicks.get(buyer, []), placed_at=placed_at, days=click_days)
        if touch is None:
            rule = DELIVERED
            touch = _last_within(
                deliveries.get(buyer, []), placed_at=placed_at, days=delivered_days
            )
        if touch is None:
            continue
        values.append(
            {
                "order_id": order_id,
                "draft_id": touch.draft_id,
                "customer_id": buyer,
                "rule": rule,
                "touched_at": touch.at,
                "attributed_at": attributed_at,
            }
        )
    added = 0
    for start in range(0, len(values), 500):
        batch = values[start : start + 500]
        stmt = insert_ignoring(session, Attribution, key=["order_id"]).values(batch)
        added += len(session.execute(stmt.returning(Attribution.__table__.c.order_id)).all())
    return added
