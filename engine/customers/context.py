"""A customer's context: everything a drafter may see, and nothing else. Orders and what they
bought, RFM segment and lifecycle stage, recent intents, the facts that passed the surveillance
gate with their quotes, opt-outs, and how many candidates were blocked (counts, never content).
Anything that touches a topic the customer opted out of is withheld."""

import re
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.errors import NotFoundError
from engine.facts.optouts import ALL_MARKETING, mentions
from engine.facts.spelling import FactSpeller, catalog_words
from engine.models import (
    PURCHASED,
    BlockedCandidate,
    Customer,
    Fact,
    Message,
    MessageIntent,
    Order,
    OrderItem,
    Product,
    utcnow,
)

Recency = Literal["0-30", "31-90", "91-180", "180+"]
Frequency = Literal["none", "first_time", "repeat", "frequent", "vip"]
Monetary = Literal["low", "mid", "high"]
Lifecycle = Literal["new_subscriber", "new_customer", "repeat", "vip", "dormant"]
# Orders that make a customer repeat, frequent, VIP.
REPEAT_ORDERS, FREQUENT_ORDERS, VIP_ORDERS = 2, 4, 10
DORMANT_AFTER = timedelta(days=90)
# Intents older than this are not "recent".
RECENT_INTENTS = timedelta(days=180)
MAX_FACTS = 50

# What an agent or bot says about the customer ("I see you're with the Riverside club") and
# what they guess ("sounds like you're a pro photographer"): counted, never used.
GUESS = re.compile(
    r"(?i)\b(?:sounds? like you|i bet you|you must be|i guess you|i'?m guessing you|"
    r"seems like you|i imagine you|i take it you|i assume you|you'?re probably|"
    r"you sound like)\b"
)
ABOUT_YOU = re.compile(
    r"(?i)\b(?:you'?re|you are|you'?ve|you have|you were|you'?d|your|you work|you run|you own|"
    r"you live|you mentioned|you said|you told|since you|as you)\b"
)


class Consent(BaseModel):
    """Whether the customer may get marketing email, and since when."""

    marketing_consent: bool
    # The customer asked in a chat to get no marketing email at all ("unsubscribe me").
    opted_out_in_chat: bool
    subscribed_at: datetime | None
    consent_at: datetime | None
    unsubscribed_at: datetime | None
    # The address is suppressed (a hard bounce, repeated soft bounces): no email goes to it.
    suppressed_at: datetime | None = None
    suppression_reason: str | None = None


class ProductBought(BaseModel):
    """A product the customer bought, how many, and when last."""

    sku: str
    name: str
    category: str | None
    quantity: int
    last_bought_at: datetime


class OrderSummary(BaseModel):
    """The customer's orders up to the context's date."""

    count: int
    total_spend: dict[str, Decimal]
    first_order_at: datetime | None
    last_order_at: datetime | None
    products: list[ProductBought]
    categories: list[str]


class Rfm(BaseModel):
    """Recency, frequency and monetary segment."""

    recency: Recency | None
    recency_days: int | None
    frequency: Frequency
    monetary: Monetary | None


class RecentIntent(BaseModel):
    """An intent the customer expressed recently, how often, and when last."""

    intent: str
    count: int
    last_said_at: datetime


class KeptFact(BaseModel):
    """A fact that passed the gate, with its provenance."""

    id: int
    category: str
    value: str
    quote: str
    message_id: str
    conversation_id: str
    span: tuple[int, int]
    said_at: datetime
    extractor: str
    # Words of the value that are not English, not the catalog's, not written as a name and
    # could not be corrected ("begginer"): a drafter leaves such a fact out of the email.
    unknown_words: list[str] = Field(default_factory=list)


class OptOut(BaseModel):
    """A topic the customer asked not to hear about."""

    topic: str
    quote: str
    message_id: str
    said_at: datetime


class CustomerContext(BaseModel):
    """Everything a drafter may see about one customer."""

    customer_id: str
    first_name: str | None
    as_of: datetime
    consent: Consent
    orders: OrderSummary
    rfm: Rfm
    lifecycle: Lifecycle
    intents: list[RecentIntent]
    facts: list[KeptFact]
    opt_outs: list[OptOut]
    # Candidates the gate blocked, and agent/bot statements about the customer, by reason.
    blocked: dict[str, int]
    # Facts, products and intents left out because they touch an opted-out topic.
    withheld_by_opt_out: int


def monetary_cuts(session: Session) -> dict[str, tuple[Decimal, Decimal]]:
    """Per currency, the spend that ends the bottom and the middle third of ordering customers."""
    rows = session.execute(
        select(Order.currency, func.sum(Order.total).label("spend"))
        # Orders with no buyer are nobody's spend.
        .where(PURCHASED, Order.customer_id.is_not(None))
        .group_by(Order.customer_id, Order.currency)
        .order_by(Order.currency, "spend")
    ).all()
    spends: dict[str, list[Decimal]] = {}
    for currency, spend in rows:
        spends.setdefault(currency, []).append(Decimal(spend))
    cuts = {}
    for currency, values in spends.items():
        values.sort()
        cuts[currency] = (
            values[(len(values) - 1) // 3],
            values[(2 * len(values) - 1) // 3],
        )
    return cuts


def recency_band(days: int) -> Recency:
    """The recency band of a last order so many days ago."""
    if days <= 30:
        return "0-30"
    if days <= 90:
        return "31-90"
    if days <= 180:
        return "91-180"
    return "180+"


def frequency_band(orders: int) -> Frequency:
    """The frequency band of an order count."""
    if orders == 0:
        return "none"
    if orders < REPEAT_ORDERS:
        return "first_time"
    if orders < FREQUENT_ORDERS:
        return "repeat"
    if orders < VIP_ORDERS:
        return "frequent"
    return "vip"


def lifecycle_stage(*, orders: int, last_order_at: datetime | None, as_of: datetime) -> Lifecycle:
    """new subscriber (no order yet), dormant (no order in 90 days), VIP, repeat, new customer."""
    if orders == 0 or last_order_at is None:
        return "new_subscriber"
    if as_of - last_order_at > DORMANT_AFTER:
        return "dormant"
    if orders >= VIP_ORDERS:
        return "vip"
    if orders >= REPEAT_ORDERS:
        return "repeat"
    return "new_customer"


def build_context(
    session: Session,
    *,
    customer_id: str,
    as_of: datetime | None = None,
    cuts: dict[str, tuple[Decimal, Decimal]] | None = None,
) -> CustomerContext:
    """The gated context of one customer as of a time (now by default). `cuts` (from
    monetary_cuts) can be passed in when building many contexts at once."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"no customer {customer_id!r}")
    as_of = as_of or utcnow()
    # One query for the customer's facts; opt-outs are read from it first, since they decide
    # which of the other facts, products and intents are withheld.
    rows = _fact_rows(session, customer_id=customer_id, as_of=as_of)
    opt_outs = _opt_outs(rows)
    topics = [o.topic for o in opt_outs]
    orders, withheld_products = _orders(
        session, customer_id=customer_id, as_of=as_of, topics=topics
    )
    facts, withheld_facts = _facts(rows, topics=topics)
    facts = _spelled(session, facts, customer_id=customer_id, as_of=as_of)
    intents, withheld_intents = _intents(
        session, customer_id=customer_id, as_of=as_of, topics=topics
    )
    days = (as_of - orders.last_order_at).days if orders.last_order_at else None
    return CustomerContext(
        customer_id=customer.id,
        first_name=customer.first_name,
        as_of=as_of,
        consent=Consent(
            marketing_consent=customer.marketing_consent
            and customer.unsubscribed_at is None
            and customer.suppressed_at is None
            and ALL_MARKETING not in topics,
            opted_out_in_chat=ALL_MARKETING in topics,
            subscribed_at=customer.subscribed_at,
            consent_at=customer.consent_at,
            unsubscribed_at=customer.unsubscribed_at,
            suppressed_at=customer.suppressed_at,
            suppression_reason=customer.suppression_reason,
        ),
        orders=orders,
        rfm=Rfm(
            recency=recency_band(days) if days is not None else None,
            recency_days=days,
            frequency=frequency_band(orders.count),
            monetary=_monetary(
                orders.total_spend, cuts if cuts is not None else monetary_cuts(session)
            ),
        ),
        lifecycle=lifecycle_stage(
            orders=orders.count, last_order_at=orders.last_order_at, as_of=as_of
        ),
        intents=intents,
        facts=facts,
        opt_outs=opt_outs,
        blocked=_blocked(session, customer_id=customer_id, as_of=as_of),
        withheld_by_opt_out=withheld_products + withheld_facts + withheld_intents,
    )


def _monetary(
    spend: dict[str, Decimal], cuts: dict[str, tuple[Decimal, Decimal]]
) -> Monetary | None:
    """The customer's tertile in the currency they spent most in."""
    if not spend:
        return None
    currency, amount = max(spend.items(), key=lambda item: item[1])
    low, mid = cuts.get(currency, (amount, amount))
    if amount <= low:
        return "low"
    if amount <= mid:
        return "mid"
    return "high"


def _orders(
    session: Session, *, customer_id: str, as_of: datetime, topics: list[str]
) -> tuple[OrderSummary, int]:
    orders = session.execute(
        select(Order.id, Order.placed_at, Order.currency, Order.total)
        .where(Order.customer_id == customer_id, PURCHASED, Order.placed_at <= as_of)
        .order_by(Order.placed_at)
    ).all()
    spend: dict[str, Decimal] = {}
    for order in orders:
        spend[order.currency] = spend.get(order.currency, Decimal(0)) + Decimal(order.total)
    products: dict[str, ProductBought] = {}
    withheld: set[str] = set()
    items = session.execute(
        select(
            OrderItem.sku, OrderItem.name, OrderItem.category, OrderItem.quantity, Order.placed_at
        )
        .join(Order, Order.id == OrderItem.order_id)
        # A tip or a custom item is in the spend (the order total), never a product bought.
        .where(
            Order.customer_id == customer_id,
            PURCHASED,
            OrderItem.is_product.is_(True),
            Order.placed_at <= as_of,
        )
        .order_by(Order.placed_at)
    ).all()
    for sku, name, category, quantity, placed_at in items:
        if mentions(f"{name} {category or ''}", topics):
            withheld.add(sku)
            continue
        bought = products.get(sku)
        if bought is None:
            products[sku] = ProductBought(
                sku=sku, name=name, category=category, quantity=quantity, last_bought_at=placed_at
            )
        else:
            bought.quantity += quantity
            bought.last_bought_at = max(bought.last_bought_at, placed_at)
    summary = OrderSummary(
        count=len(orders),
        total_spend={
            currency: amount.quantize(Decimal("0.01")) for currency, amount in spend.items()
        },
        first_order_at=orders[0].placed_at if orders else None,
        last_order_at=orders[-1].placed_at if orders else None,
        products=sorted(products.values(), key=lambda p: p.last_bought_at, reverse=True),
        categories=sorted({p.category for p in products.values() if p.category}),
    )
    return summary, len(withheld)


def _fact_rows(
    session: Session, *, customer_id: str, as_of: datetime
) -> list[tuple[Fact, str, str]]:
    return [
        (fact, message_id, conversation_id)
        for fact, message_id, conversation_id in session.execute(
            select(Fact, Message.message_id, Message.conversation_id)
            .join(Message, Message.id == Fact.message_id)
            .where(Fact.customer_id == customer_id, Fact.said_at <= as_of)
            .order_by(Fact.said_at.desc(), Fact.id)
        ).all()
    ]


def _opt_outs(rows: list[tuple[Fact, str, str]]) -> list[OptOut]:
    seen: set[str] = set()
    opt_outs = []
    for fact, message_id, _ in rows:
        if fact.category == "opt_out" and fact.value not in seen:
            seen.add(fact.value)
            opt_outs.append(
                OptOut(
                    topic=fact.value, quote=fact.quote, message_id=message_id, said_at=fact.said_at
                )
            )
    return opt_outs


def _facts(rows: list[tuple[Fact, str, str]], *, topics: list[str]) -> tuple[list[KeptFact], int]:
    """Kept facts, newest first, once per category and value; those on opted-out topics
    withheld."""
    facts: list[KeptFact] = []
    seen: set[tuple[str, str]] = set()
    withheld = 0
    everything = ALL_MARKETING in topics
    for fact, message_id, conversation_id in rows:
        if fact.category == "opt_out" or (fact.category, fact.value) in seen:
            continue
        seen.add((fact.category, fact.value))
        if mentions(f"{fact.value} {fact.quote}", topics):
            withheld += 1
            continue
        if everything:
            withheld += 1
            continue
        facts.append(
            KeptFact(
                id=fact.id,
                category=fact.category,
                value=fact.value,
                quote=fact.quote,
                message_id=message_id,
                conversation_id=conversation_id,
                span=(fact.span_start, fact.span_end),
                said_at=fact.said_at,
                extractor=fact.extractor,
            )
        )
        if len(facts) >= MAX_FACTS:
            break
    return facts, withheld


def _spelled(
    session: Session, facts: list[KeptFact], *, customer_id: str, as_of: datetime
) -> list[KeptFact]:
    """The facts with misspelt value words corrected (to an English word the customer wrote
    elsewhere, or a catalog word) and the words nothing vouches for listed in `unknown_words`.
    The stored fact and its quote stay as said; this is how a drafter may read the value."""
    texts: list[str] | None = None

    def own_texts() -> list[str]:
        nonlocal texts
        if texts is None:
            texts = [
                text
                for text in session.scalars(
                    select(Message.redacted_text).where(
                        Message.customer_id == customer_id,
                        Message.role == "customer",
                        Message.sent_at <= as_of,
                    )
                )
                if text
            ]
        return texts

    speller = FactSpeller(catalog=lambda: _catalog_words(session), own_texts=own_texts)
    spelled = []
    for fact in facts:
        value, unknown = speller.value(fact.value, quote=fact.quote)
        if value != fact.value or unknown:
            fact = fact.model_copy(update={"value": value, "unknown_words": unknown})
        spelled.append(fact)
    return spelled


def _catalog_words(session: Session) -> frozenset[str]:
    """The words of the catalog's product names and categories, read once per session (a
    campaign builds many contexts in one)."""
    cached = session.info.get("catalog_words")
    if not isinstance(cached, frozenset):
        rows = session.execute(select(Product.name, Product.category)).all()
        cached = catalog_words(part for row in rows for part in row)
        session.info["catalog_words"] = cached
    return cached


def _intents(
    session: Session, *, customer_id: str, as_of: datetime, topics: list[str]
) -> tuple[list[RecentIntent], int]:
    rows = session.execute(
        select(
            MessageIntent.intent,
            func.count(MessageIntent.id),
            func.max(MessageIntent.sent_at),
        )
        .where(
            MessageIntent.customer_id == customer_id,
            MessageIntent.sent_at <= as_of,
            MessageIntent.sent_at > as_of - RECENT_INTENTS,
        )
        .group_by(MessageIntent.intent)
    ).all()
    intents = []
    withheld = 0
    for intent, count, last in rows:
        if mentions(intent.replace("_", " "), topics):
            withheld += 1
            continue
        # SQLite hands back the aggregate as a naive string-parsed datetime.
        last_said = last if isinstance(last, datetime) else datetime.fromisoformat(str(last))
        if last_said.tzinfo is None:
            last_said = last_said.replace(tzinfo=as_of.tzinfo)
        intents.append(RecentIntent(intent=intent, count=count, last_said_at=last_said))
    intents.sort(key=lambda i: i.last_said_at, reverse=True)
    return intents, withheld


def _blocked(session: Session, *, customer_id: str, as_of: datetime) -> dict[str, int]:
    """Blocked candidates from customer turns, plus what agents and bots said about them."""
    counts: Counter[str] = Counter()
    for reason, count in session.execute(
        select(BlockedCandidate.reason, func.sum(BlockedCandidate.count))
        .join(Message, Message.id == BlockedCandidate.message_id)
        .where(BlockedCandidate.customer_id == customer_id, Message.sent_at <= as_of)
        .group_by(BlockedCandidate.reason)
    ).all():
        counts[reason] += int(count)
    for role, text in session.execute(
        select(Message.role, Message.text).where(
            Message.customer_id == customer_id,
            Message.role.in_(("agent", "bot")),
            Message.sent_at <= as_of,
        )
    ).all():
        found = turn_reason(role=role, text=text)
        if found:
            counts[found] += 1
    return dict(sorted(counts.items()))


def turn_reason(*, role: str, text: str) -> str | None:
    """Why an agent or bot turn is never a fact about the customer, if it says anything about
    them: a guess ("sounds like you're a pro") or a statement ("I see you're with the club")."""
    if GUESS.search(text):
        return "inferred_by_agent"
    if ABOUT_YOU.search(text):
        return "bot_stated" if role == "bot" else "agent_stated"
    return None
