"""Lifecycle triggers: who is due, as of a given time, for which step of which sequence.

Welcome: subscribed in the last 14 days (steps day 0, 3, 7, 14). Post-purchase: an order in the
last 30 days (steps day 1, 3-7, 14-21, 30, counted from the newest order). Win-back: has
ordered, and neither ordered nor chatted in the last 90 days. Only orders that are purchases
count (not cancelled, voided, refunded or test orders). Never anyone without marketing
consent, who unsubscribed, or who asked in a chat for no marketing email. A step already drafted
for a customer and the same anchor (the subscription, the order, the last activity) is not due
again."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy import Select, exists, func, select
from sqlalchemy.orm import Session

from engine.customers.engagement import unengaged
from engine.db import in_chunks
from engine.facts.optouts import ALL_MARKETING
from engine.models import PURCHASED, Customer, Draft, DraftKind, Fact, Message, Order, utcnow

AnySelect = TypeVar("AnySelect", bound=Select[*tuple[Any, ...]])


@dataclass(frozen=True)
class Step:
    """A step of a sequence and the days (since the anchor, inclusive) it is due on."""

    name: str
    first_day: int
    last_day: int


# A step stays due until the next one starts, so a campaign run that skips a day (a weekend,
# an outage) still sends it; the last step is due on its day only, the end of the window.
SEQUENCES: dict[DraftKind, tuple[Step, ...]] = {
    "welcome": (Step("d0", 0, 2), Step("d3", 3, 6), Step("d7", 7, 13), Step("d14", 14, 14)),
    "post_purchase": (
        Step("d1", 1, 2),
        Step("d3", 3, 7),
        Step("d14", 14, 21),
        Step("d30", 30, 30),
    ),
    "win_back": (Step("d90", 91, 100_000),),
}
WELCOME_DAYS = 14
POST_PURCHASE_DAYS = 30


@dataclass(frozen=True)
class Due:
    """A customer due for a step of a sequence, and the event the step answers."""

    customer_id: str
    kind: DraftKind
    step: str
    anchor: str
    anchor_at: datetime
    days: int


def order_anchor(order_id: str) -> str:
    """The anchor of the post-purchase sequence that follows an order."""
    return f"order:{order_id}"


def step_on(kind: DraftKind, days: int) -> Step | None:
    """The step of the sequence due so many days after its anchor, if any."""
    for step in SEQUENCES[kind]:
        if step.first_day <= days <= step.last_day:
            return step
    return None


def due_customers(
    session: Session,
    *,
    kind: DraftKind,
    as_of: datetime | None = None,
    customer_ids: Sequence[str] | None = None,
    include_drafted: bool = False,
    include_unengaged: bool = False,
) -> list[Due]:
    """Everyone due for a step of `kind` as of a time (now by default), in customer id order;
    `customer_ids` narrows the search; steps already drafted are left out unless
    `include_drafted`, and unengaged customers unless `include_unengaged`."""
    as_of = as_of or utcnow()
    if kind == "welcome":
        candidates = _welcome(session, as_of=as_of, customer_ids=customer_ids)
    elif kind == "post_purchase":
        candidates = _post_purchase(session, as_of=as_of, customer_ids=customer_ids)
    else:
        candidates = _win_back(session, as_of=as_of, customer_ids=customer_ids)
    drafted = (
        set()
        if include_drafted
        else _drafted(session, kind=kind, customer_ids=[d.customer_id for d in candidates])
    )
    asleep = (
        set()
        if include_unengaged
        else unengaged(session, customer_ids=[d.customer_id for d in candidates], as_of=as_of)
    )
    return sorted(
        (
            d
            for d in candidates
            if (d.customer_id, d.step, d.anchor) not in drafted and d.customer_id not in asleep
        ),
        key=lambda d: d.customer_id,
    )


def consenting(query: AnySelect) -> AnySelect:
    """Only customers who may get marketing email: consent given and not withdrawn, no opt-out
    of all marketing, and an address that is not suppressed (bounced, complained)."""
    # Correlated, so checking one customer (the sender, before each email) reads only their
    # facts through the index, not every opt-out in the store.
    asked_out = exists().where(
        Fact.customer_id == Customer.id, Fact.category == "opt_out", Fact.value == ALL_MARKETING
    )
    return query.where(
        Customer.marketing_consent.is_(True),
        Customer.unsubscribed_at.is_(None),
        Customer.suppressed_at.is_(None),
        ~asked_out,
    )


def _narrow(query: AnySelect, ids: Sequence[str] | None) -> AnySelect:
    return query if ids is None else query.where(Customer.id.in_(list(ids)))


def _days(as_of: datetime, then: datetime) -> int:
    return (as_of - then).days


def _welcome(session: Session, *, as_of: datetime, customer_ids: Sequence[str] | None) -> list[Due]:
    query = select(Customer.id, Customer.subscribed_at).where(
        Customer.subscribed_at.is_not(None),
        Customer.subscribed_at <= as_of,
        Customer.subscribed_at > as_of - timedelta(days=WELCOME_DAYS + 1),
    )
    due = []
    for customer_id, subscribed_at in session.execute(_narrow(consenting(query), customer_ids)):
        if subscribed_at is None:  # excluded by the query; says so to the type checker
            continue
        days = _days(as_of, subscribed_at)
        step = step_on("welcome", days)
        if step is not None:
            anchor = f"subscribed:{subscribed_at.astimezone(UTC).isoformat()}"
            due.append(Due(customer_id, "welcome", step.name, anchor, subscribed_at, days))
    return due


def _post_purchase(
    session: Session, *, as_of: datetime, customer_ids: Sequence[str] | None
) -> list[Due]:
    query = (
        select(Customer.id, Order.placed_at, Order.id.label("order_id"))
        .join(Order, Order.customer_id == Customer.id)
        .where(
            PURCHASED,
            Order.placed_at <= as_of,
            Order.placed_at > as_of - timedelta(days=POST_PURCHASE_DAYS + 1),
        )
        .order_by(Customer.id, Order.placed_at, Order.id)
    )
    newest: dict[str, tuple[datetime, str]] = {}
    for customer_id, placed_at, order_id in session.execute(
        _narrow(consenting(query), customer_ids)
    ):
        newest[customer_id] = (placed_at, order_id)  # ordered by time: the last one wins
    due = []
    for customer_id, (placed_at, order_id) in newest.items():
        days = _days(as_of, placed_at)
        step = step_on("post_purchase", days)
        if step is not None:
            anchor = order_anchor(order_id)
            due.append(Due(customer_id, "post_purchase", step.name, anchor, placed_at, days))
    return due


def _win_back(
    session: Session, *, as_of: datetime, customer_ids: Sequence[str] | None
) -> list[Due]:
    last_order: dict[str, datetime] = dict(
        session.execute(
            _narrow(
                consenting(
                    select(Customer.id, func.max(Order.placed_at))
                    .join(Order, Order.customer_id == Customer.id)
                    .where(PURCHASED, Order.placed_at <= as_of)
                    .group_by(Customer.id)
                ),
                customer_ids,
            )
        ).all()
    )
    if not last_order:
        return []
    last_chat: dict[str, datetime] = dict(
        session.execute(
            select(Message.customer_id, func.max(Message.sent_at))
            .where(
                Message.role == "customer",
                Message.sent_at <= as_of,
                Message.customer_id.in_(list(last_order)),
            )
            .group_by(Message.customer_id)
        ).all()
    )
    due = []
    for customer_id, ordered in last_order.items():
        seen = max(_aware(ordered, as_of), _aware(last_chat.get(customer_id), as_of))
        days = _days(as_of, seen)
        step = step_on("win_back", days)
        if step is not None:
            anchor = f"last_seen:{seen.isoformat()}"
            due.append(Due(customer_id, "win_back", step.name, anchor, seen, days))
    return due


def _aware(value: datetime | str | None, as_of: datetime) -> datetime:
    """An aggregate's timestamp as an aware datetime (SQLite hands back naive strings)."""
    if value is None:
        return datetime.min.replace(tzinfo=UTC)
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(UTC) if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _drafted(
    session: Session, *, kind: DraftKind, customer_ids: Iterable[str]
) -> set[tuple[str, str, str]]:
    """(customer, step, anchor) of the drafts of this kind already made for these customers."""
    ids = list(customer_ids)
    drafted: set[tuple[str, str, str]] = set()
    for chunk in in_chunks(ids):
        rows = session.execute(
            select(Draft.customer_id, Draft.step, Draft.anchor).where(
                Draft.kind == kind, Draft.customer_id.in_(chunk)
            )
        )
        drafted.update((c, s, a) for c, s, a in rows)
    return drafted
