"""Hand-built gated customer contexts for drafter and grounding tests, without a database."""

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

from engine.customers.context import (
    Consent,
    CustomerContext,
    KeptFact,
    Lifecycle,
    OptOut,
    OrderSummary,
    ProductBought,
    RecentIntent,
    Rfm,
)


def kept_fact(
    *,
    fact_id: int,
    category: str,
    value: str,
    quote: str,
    said_at: datetime,
    message_id: str | None = None,
    conversation_id: str = "c-1",
    span: tuple[int, int] | None = None,
    extractor: str = "rules",
    unknown_words: Sequence[str] = (),
) -> KeptFact:
    """A kept fact; its message is m-<id> and its span the whole quote unless given;
    `unknown_words` are the value's words nothing vouches for (as build_context marks them)."""
    return KeptFact(
        id=fact_id,
        category=category,
        value=value,
        quote=quote,
        message_id=message_id if message_id is not None else f"m-{fact_id}",
        conversation_id=conversation_id,
        span=span if span is not None else (0, len(quote)),
        said_at=said_at,
        extractor=extractor,
        unknown_words=list(unknown_words),
    )


def product_bought(
    *, sku: str, name: str, category: str | None, at: datetime, quantity: int = 1
) -> ProductBought:
    """A product bought, last at the given time."""
    return ProductBought(
        sku=sku, name=name, category=category, quantity=quantity, last_bought_at=at
    )


def recent_intent(*, intent: str, at: datetime, count: int = 1) -> RecentIntent:
    """An intent said count times, last at the given time."""
    return RecentIntent(intent=intent, count=count, last_said_at=at)


def opt_out_of(*, topic: str, quote: str, message_id: str, said_at: datetime) -> OptOut:
    """An opt-out from a topic, with the words that asked for it."""
    return OptOut(topic=topic, quote=quote, message_id=message_id, said_at=said_at)


def make_context(
    *,
    as_of: datetime,
    customer_id: str = "c1",
    first_name: str | None = "Ana",
    subscribed_at: datetime | None = None,
    consented_on_subscribing: bool = True,
    products: Sequence[ProductBought] = (),
    order_count: int | None = None,
    total_spend: dict[str, Decimal] | None = None,
    rfm: Rfm | None = None,
    lifecycle: Lifecycle = "new_subscriber",
    intents: Sequence[RecentIntent] = (),
    facts: Sequence[KeptFact] = (),
    opt_outs: Sequence[OptOut] = (),
    blocked: dict[str, int] | None = None,
) -> CustomerContext:
    """A consenting customer's context; its orders span the products' dates, newest first."""
    dates = [p.last_bought_at for p in products]
    return CustomerContext(
        customer_id=customer_id,
        first_name=first_name,
        as_of=as_of,
        consent=Consent(
            marketing_consent=True,
            opted_out_in_chat=False,
            subscribed_at=subscribed_at,
            consent_at=subscribed_at if consented_on_subscribing else None,
            unsubscribed_at=None,
        ),
        orders=OrderSummary(
            count=order_count if order_count is not None else len(products),
            total_spend=dict(total_spend or {}),
            first_order_at=min(dates, default=None),
            last_order_at=max(dates, default=None),
            products=sorted(products, key=lambda p: p.last_bought_at, reverse=True),
            categories=sorted({p.category for p in products if p.category}),
        ),
        rfm=rfm
        if rfm is not None
        else Rfm(recency=None, recency_days=None, frequency="none", monetary=None),
        lifecycle=lifecycle,
        intents=list(intents),
        facts=list(facts),
        opt_outs=list(opt_outs),
        blocked=dict(blocked or {}),
        withheld_by_opt_out=0,
    )
