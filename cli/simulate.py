"""A simulated month after a campaign: what the sent emails and the held-out customers might do,
drawn from stated rates, so the flow report has something to show before real mail has had time
to earn anything (the demo uses it). Nothing here is real, and everything it stores says so.

For each email sent (and in the month: its flow entry entered in it, or, without an entry, it
was sent in it) it draws, with a seeded `random.Random`: a hard or soft bounce, or delivery;
once delivered, an open, a click, an unsubscribe and a complaint, each at its arm's rate; and
whether the customer buys within the month (personal and generic emails at their own rates; a
bounced email's customer, like a held-out one, at the base rate). Events go through
`record_events(..., simulated=True)`, so list hygiene runs on them as on a provider's (a hard
bounce suppresses the address); orders go through the real order path (`store_order`) with
source "simulated" and ids starting "sim-", with a total drawn around the customer's usual
order and one line that is no product (a simulated order teaches the catalog nothing and never
becomes something the customer bought). Running it again with the same seed adds nothing."""

import math
import random
from collections import Counter
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chat_ingest.schemas import OrderCreate, OrderItemCreate
from chat_ingest.service import store_order
from engine.db import Database
from engine.email.events import record_events
from engine.email.providers import BounceKind, EventName, ProviderEvent
from engine.models import (
    PURCHASED,
    SIMULATED_SOURCE,
    Arm,
    Customer,
    Draft,
    EmailSend,
    FlowEntry,
    Order,
)

PROVIDER = "simulated"
ORDER_SOURCE = SIMULATED_SOURCE
ORDER_PREFIX = "sim-"
MONTH = timedelta(days=30)
CENT = Decimal("0.01")
# What a customer with no orders of their own spends: the business's average, else this.
_FALLBACK_VALUE = Decimal("30.00")
_FALLBACK_CURRENCY = "USD"


@dataclass(frozen=True)
class SimulationRates:
    """The rates the month is drawn from. Bounces are shares of the emails sent (the rest is
    delivered); opens, clicks, unsubscribes and complaints are shares of the emails delivered;
    an order rate is the share of an arm's customers who buy within the month."""

    hard_bounce: float = 0.01
    soft_bounce: float = 0.02
    open: float = 0.45
    click_personal: float = 0.12
    click_generic: float = 0.06
    order_personal: float = 0.12
    order_generic: float = 0.07
    # Held-out customers, and those whose email bounced: what they buy anyway.
    order_base: float = 0.04
    unsubscribe: float = 0.005
    complaint: float = 0.001

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not (isinstance(value, int | float) and math.isfinite(value) and 0 <= value <= 1):
                raise ValueError(f"{item.name} must lie from 0 to 1, not {value!r}")
        if self.hard_bounce + self.soft_bounce > 1:
            raise ValueError("hard_bounce + soft_bounce must not exceed 1")

    @property
    def delivered(self) -> float:
        """The share of emails sent that is delivered."""
        return 1 - self.hard_bounce - self.soft_bounce

    def describe(self) -> str:
        """The rates in words, as the demo prints them."""

        def pct(value: float) -> str:
            return f"{value * 100:g}%"

        return (
            f"delivered {pct(self.delivered)} (hard bounce {pct(self.hard_bounce)}, soft bounce "
            f"{pct(self.soft_bounce)}); of those delivered: opened {pct(self.open)}, clicked "
            f"{pct(self.click_personal)} personal / {pct(self.click_generic)} generic, "
            f"unsubscribed {pct(self.unsubscribe)}, complained {pct(self.complaint)}; "
            f"ordered within the month {pct(self.order_personal)} personal / "
            f"{pct(self.order_generic)} generic / {pct(self.order_base)} held out or bounced"
        )


@dataclass
class SimulationSummary:
    """What a simulated month drew and stored (all of it simulated)."""

    seed: int
    start: datetime
    end: datetime
    rates: SimulationRates
    sends: int = 0
    held_out: int = 0
    delivered: int = 0
    hard_bounced: int = 0
    soft_bounced: int = 0
    opened: int = 0
    clicked: int = 0
    unsubscribed: int = 0
    complained: int = 0
    events_stored: int = 0
    orders: int = 0
    orders_by_arm: dict[str, int] = field(default_factory=dict)
    revenue: dict[str, Decimal] = field(default_factory=dict)
    # Customers of the simulated sends suppressed once the events were recorded (hygiene).
    suppressed: int = 0
    simulated: bool = True

    def as_dict(self) -> dict[str, Any]:
        """The summary as JSON-ready data."""
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        data["revenue"] = {currency: str(total) for currency, total in self.revenue.items()}
        return data


@dataclass(frozen=True)
class _Send:
    key: str
    send_id: int
    draft_id: int
    customer_id: str
    message_id: str
    arm: Arm
    at: datetime


@dataclass(frozen=True)
class _Held:
    key: str
    entry_id: int
    customer_id: str
    at: datetime


@dataclass(frozen=True)
class _Usual:
    value: Decimal
    currency: str


def simulate_month(
    db: Database, *, seed: int, start: datetime, rates: SimulationRates
) -> SimulationSummary:
    """Draw a month from `start` for the emails sent and the customers held out in it, store
    the events and orders (marked simulated), and say what was drawn."""
    end = start + MONTH
    summary = SimulationSummary(seed=seed, start=start, end=end, rates=rates)
    with db.write() as session:
        sends, held = _month(session, start, end)
        usual = _usual_orders(session)
        events: list[ProviderEvent] = []
        orders: list[tuple[OrderCreate, str]] = []
        for send in sends:
            rng = random.Random(f"{seed}/{send.key}")
            bought_from = _draw_send(rng, send, rates, end, events, summary)
            if bought_from is not None:
                placed_at, arm = bought_from
                order_id = f"{ORDER_PREFIX}{seed}-d{send.draft_id}"
                orders.append((_order(rng, order_id, send.customer_id, placed_at, usual), arm))
        for entry in held:
            rng = random.Random(f"{seed}/{entry.key}")
            summary.held_out += 1
            if rng.random() < rates.order_base:
                placed_at = _later(rng, entry.at, mean=timedelta(days=4), end=end)
                order_id = f"{ORDER_PREFIX}{seed}-h{entry.entry_id}"
                orders.append(
                    (_order(rng, order_id, entry.customer_id, placed_at, usual), "holdout")
                )
        summary.events_stored = record_events(session, events, simulated=True).stored
        by_arm: Counter[str] = Counter()
        for order, arm in orders:
            stored = store_order(session, order=order, source=ORDER_SOURCE)
            if stored.duplicate:
                continue
            summary.orders += 1
            by_arm[arm] += 1
            summary.revenue[order.currency] = summary.revenue.get(order.currency, Decimal(0)) + (
                order.total
            )
        summary.orders_by_arm = dict(sorted(by_arm.items()))
        customers = sorted({s.customer_id for s in sends})
        if customers:
            summary.suppressed = int(
                session.scalar(
                    select(func.count(Customer.id)).where(
                        Customer.id.in_(customers), Customer.suppressed_at.is_not(None)
                    )
                )
                or 0
            )
    return summary


def _month(session: Session, start: datetime, end: datetime) -> tuple[list[_Send], list[_Held]]:
    """The sends of the month (oldest first) with their arm, and the held-out entries."""
    sends = []
    rows = session.execute(
        select(
            EmailSend.id,
            EmailSend.draft_id,
            EmailSend.customer_id,
            EmailSend.message_id,
            EmailSend.sent_at,
            FlowEntry.arm,
            FlowEntry.entered_at,
            Draft.kind,
            Draft.step,
            Draft.anchor,
        )
        .join(Draft, Draft.id == EmailSend.draft_id)
        .outerjoin(FlowEntry, FlowEntry.draft_id == EmailSend.draft_id)
        .where(EmailSend.state == "sent")
        .order_by(EmailSend.id)
    )
    for send_id, draft_id, customer_id, message_id, sent_at, arm, entered_at, *step in rows:
        at = entered_at if entered_at is not None else sent_at
        if at is None or not start <= at < end:
            continue
        key = _key(customer_id, *step)
        sends.append(_Send(key, send_id, draft_id, customer_id, message_id, arm or "personal", at))
    held = [
        _Held(_key(customer_id, kind, step, anchor), entry_id, customer_id, entered_at)
        for entry_id, customer_id, entered_at, kind, step, anchor in session.execute(
            select(
                FlowEntry.id,
                FlowEntry.customer_id,
                FlowEntry.entered_at,
                FlowEntry.kind,
                FlowEntry.step,
                FlowEntry.anchor,
            )
            .where(
                FlowEntry.arm == "holdout",
                FlowEntry.entered_at >= start,
                FlowEntry.entered_at < end,
            )
            .order_by(FlowEntry.id)
        )
    ]
    return sends, held


def _key(customer_id: str, kind: str, step: str, anchor: str) -> str:
    """What a customer's draws are seeded with besides the seed: their step and its anchor,
    the same in every store (database ids are not)."""
    return f"{customer_id}/{kind}/{step}/{anchor}"


def _draw_send(
    rng: random.Random,
    send: _Send,
    rates: SimulationRates,
    end: datetime,
    events: list[ProviderEvent],
    summary: SimulationSummary,
) -> tuple[datetime, str] | None:
    """Draw what happened to one email (appending its events); when and in which arm its
    customer bought, or None."""

    def add(name: EventName, at: datetime, *, bounce: BounceKind | None = None) -> None:
        events.append(
            ProviderEvent(
                provider=PROVIDER,
                event_id=f"sim-{summary.seed}-{send.send_id}-{name}",
                event=name,
                occurred_at=min(at, end),
                draft_id=send.draft_id,
                message_id=send.message_id,
                email=None,
                bounce=bounce,
                machine=False,
                url=None,
            )
        )

    summary.sends += 1
    arrived = send.at + timedelta(seconds=rng.uniform(5, 600))
    fate = rng.random()
    if fate < rates.hard_bounce + rates.soft_bounce:
        hard = fate < rates.hard_bounce
        add("bounced", arrived, bounce="hard" if hard else "soft")
        if hard:
            summary.hard_bounced += 1
        else:
            summary.soft_bounced += 1
        # Never reached: they buy, if at all, as the held-out customers do.
        if rng.random() < rates.order_base:
            return _later(rng, send.at, mean=timedelta(days=4), end=end), send.arm
        return None
    add("delivered", arrived)
    summary.delivered += 1
    personal = send.arm != "generic"
    clicked = rng.random() < (rates.click_personal if personal else rates.click_generic)
    opened = clicked or rng.random() < rates.open
    seen = _later(rng, arrived, mean=timedelta(hours=8), end=end)
    if opened:
        add("opened", seen)
        summary.opened += 1
    touched = seen
    if clicked:
        touched = seen + timedelta(seconds=rng.uniform(10, 1800))
        add("clicked", touched)
        summary.clicked += 1
    if rng.random() < rates.unsubscribe:
        add("unsubscribed", seen + timedelta(seconds=rng.uniform(10, 600)))
        summary.unsubscribed += 1
    if rng.random() < rates.complaint:
        add("complained", seen + timedelta(seconds=rng.uniform(10, 600)))
        summary.complained += 1
    if rng.random() < (rates.order_personal if personal else rates.order_generic):
        # A click is followed by its order within hours; otherwise within days.
        mean = timedelta(hours=6) if clicked else timedelta(days=4)
        return _later(rng, touched, mean=mean, end=end), send.arm
    return None


def _later(rng: random.Random, at: datetime, *, mean: timedelta, end: datetime) -> datetime:
    """A time after `at`, exponentially distributed with `mean`, before `end`."""
    delay = timedelta(seconds=rng.expovariate(1 / mean.total_seconds()))
    return min(at + delay, end - timedelta(seconds=1))


def _usual_orders(session: Session) -> dict[str, _Usual]:
    """Per customer, their average purchase and its currency (real orders only); under "" the
    business's, for customers with none."""
    usual: dict[str, _Usual] = {}
    rows = session.execute(
        select(Order.customer_id, Order.currency, func.avg(Order.total), func.count())
        .where(PURCHASED, Order.source != ORDER_SOURCE, Order.customer_id.is_not(None))
        .group_by(Order.customer_id, Order.currency)
        .order_by(Order.customer_id, func.count().desc(), Order.currency)
    )
    by_currency: Counter[str] = Counter()
    totals: dict[str, Decimal] = {}
    for customer_id, currency, average, count in rows:
        by_currency[currency] += int(count)
        totals[currency] = totals.get(currency, Decimal(0)) + Decimal(average) * int(count)
        if customer_id not in usual:  # their most used currency first
            usual[customer_id] = _Usual(Decimal(average).quantize(CENT), currency)
    if by_currency:
        currency, count = by_currency.most_common(1)[0]
        usual[""] = _Usual((totals[currency] / count).quantize(CENT), currency)
    else:
        usual[""] = _Usual(_FALLBACK_VALUE, _FALLBACK_CURRENCY)
    return usual


def _order(
    rng: random.Random,
    order_id: str,
    customer_id: str,
    placed_at: datetime,
    usual: dict[str, _Usual],
) -> OrderCreate:
    """A simulated order: a total drawn around the customer's usual one (never under a third of
    it), as one line that is no product."""
    typical = usual.get(customer_id, usual[""])
    mean = float(typical.value)
    total = Decimal(str(max(mean / 3, rng.gauss(mean, mean / 4)))).quantize(CENT)
    return OrderCreate(
        order_id=order_id,
        customer_id=customer_id,
        placed_at=placed_at,
        currency=typical.currency,
        total=total,
        items=[
            OrderItemCreate(
                sku="simulated",
                name="Simulated order",
                quantity=1,
                unit_price=total,
                is_product=False,
            )
        ],
    )
