"""Idempotent writes: customers, messages, transcripts and orders, each whole or not at all."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.orm import Session

from chat_ingest.schemas import (
    CustomerCreate,
    CustomerUpdate,
    MessageCreate,
    MessageEvent,
    OrderCreate,
    TranscriptCreate,
    clip_text,
)
from engine.customers.consent import set_consent, withdraw_drafts
from engine.customers.lifecycle import order_anchor
from engine.db import insert_ignoring, insert_ignoring_conflicts
from engine.errors import ConflictError, NotFoundError
from engine.models import (
    PURCHASE_STATUS,
    Base,
    Conversation,
    Customer,
    CustomerMerge,
    Message,
    Order,
    OrderItem,
    Product,
    utcnow,
)

CENT = Decimal("0.01")


@dataclass(frozen=True)
class StoredMessage:
    """What became of one message: its row id, whether we had it already, and whether its text
    is stored cut (it was longer than MAX_MESSAGE_CHARS)."""

    id: int
    message_id: str
    conversation_id: str
    customer_id: str
    duplicate: bool
    truncated: bool = False


@dataclass(frozen=True)
class StoredTranscript:
    """What became of one transcript: how many of its messages were new, and how many of its
    messages are stored cut (new or known, as a message's answer says)."""

    conversation_id: str
    customer_id: str
    stored: int
    duplicates: int
    new_message_ids: tuple[str, ...] = ()
    truncated: int = 0

    @property
    def duplicate(self) -> bool:
        """True when every message of the transcript was already stored."""
        return self.stored == 0


@dataclass(frozen=True)
class StoredOrder:
    """What became of one order: its buyer (None: none we can identify), whether we had it
    already, its status now, and the drafts waiting for review that this delivery withdrew
    (the order stopped being a purchase, or its buyer unsubscribed)."""

    order_id: str
    customer_id: str | None
    duplicate: bool
    status: str = PURCHASE_STATUS
    drafts_withdrawn: int = 0


@dataclass(frozen=True)
class StoredCustomer:
    """What became of one customer record."""

    customer_id: str
    created: bool


def upsert_customer(
    session: Session, *, customer: CustomerCreate, actor: str = "import"
) -> StoredCustomer:
    """Create the customer, or update the fields the record gives; a record that withdraws
    consent also withdraws the customer's drafts waiting for review (`actor` is recorded)."""
    existing = session.get(Customer, customer.id)
    now = utcnow()
    if existing is None:
        consent = bool(customer.marketing_consent)
        session.add(
            Customer(
                id=customer.id,
                email=customer.email,
                first_name=customer.first_name,
                signup_source=customer.signup_source,
                subscribed_at=customer.subscribed_at,
                marketing_consent=consent,
                consent_at=(customer.subscribed_at or now) if consent else None,
            )
        )
        session.flush()
        return StoredCustomer(customer_id=customer.id, created=True)
    _apply(session, existing, customer, consent=customer.marketing_consent, actor=actor)
    return StoredCustomer(customer_id=customer.id, created=False)


def update_customer(
    session: Session, *, customer_id: str, changes: CustomerUpdate, actor: str
) -> tuple[Customer, int]:
    """Change a known customer's fields given; `consent: false` also withdraws their drafts
    waiting for review. The customer, and how many drafts were withdrawn."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"no customer {customer_id!r}")
    return customer, _apply(session, customer, changes, consent=changes.consent, actor=actor)


def _apply(
    session: Session,
    customer: Customer,
    record: CustomerCreate | CustomerUpdate,
    *,
    consent: bool | None,
    actor: str,
) -> int:
    """Set the fields a record gives (None: unchanged); the drafts a withdrawal withdrew."""
    for name in ("email", "first_name", "signup_source", "subscribed_at"):
        value = getattr(record, name)
        if value is not None:
            setattr(customer, name, value)
    withdrawn = 0
    if consent is not None:
        withdrawn = set_consent(
            session, customer=customer, consent=consent, at=utcnow(), actor=actor
        )
    session.flush()
    return withdrawn


def ensure_customer(
    session: Session, *, customer_id: str, email: str | None = None, first_name: str | None = None
) -> None:
    """Make sure a customer row exists; fill in email and first name only where we lack them."""
    insert_ignoring_conflicts(
        session,
        Customer,
        {
            "id": customer_id,
            "email": email,
            "first_name": first_name,
            "marketing_consent": False,
            "created_at": utcnow(),
            "updated_at": utcnow(),
        },
        key=["id"],
    )
    for column, value in ((Customer.email, email), (Customer.first_name, first_name)):
        if value is not None:
            session.execute(
                update(Customer)
                .where(Customer.id == customer_id, column.is_(None))
                .values({column: value})
            )


def customer_id_by_email(session: Session, *, email: str) -> str | None:
    """The id of the customer with this email (case-insensitive), if there is one; of several,
    the one we knew first, so the answer does not depend on how the database reads them."""
    return session.scalar(
        select(Customer.id)
        .where(func.lower(Customer.email) == email.lower())
        .order_by(Customer.created_at, Customer.id)
        .limit(1)
    )


def _ensure_conversation(
    session: Session, *, conversation_id: str, customer_id: str, source: str, started_at: datetime
) -> None:
    """Create the conversation if new; refuse one that belongs to another customer."""
    insert_ignoring_conflicts(
        session,
        Conversation,
        {
            "id": conversation_id,
            "customer_id": customer_id,
            "source": source,
            "started_at": started_at,
            "created_at": utcnow(),
        },
        key=["id"],
    )
    owner = session.scalar(
        select(Conversation.customer_id).where(Conversation.id == conversation_id)
    )
    if owner != customer_id:
        raise ConflictError(
            f"conversation {conversation_id!r} belongs to another customer",
            field="conversation_id",
        )


def _insert_message(
    session: Session, *, message: MessageCreate, conversation_id: str, customer_id: str
) -> StoredMessage:
    """Insert one message unless its id is known."""
    added = insert_ignoring_conflicts(
        session,
        Message,
        _message_row(message, conversation_id, customer_id, utcnow()),
        key=["message_id"],
    )
    row = session.execute(
        select(Message.id, Message.conversation_id, Message.customer_id, Message.truncated).where(
            Message.message_id == message.id
        )
    ).one()
    return StoredMessage(
        id=row.id,
        message_id=message.id,
        conversation_id=row.conversation_id,
        customer_id=row.customer_id,
        duplicate=not added,
        truncated=row.truncated,
    )


def store_message(session: Session, *, event: MessageEvent) -> StoredMessage:
    """Store one streamed message; the same message id again is a no-op."""
    result = store_messages(session, events=[event])[0]
    if isinstance(result, ConflictError):
        raise result
    return result


def store_messages(
    session: Session, *, events: list[MessageEvent]
) -> list[StoredMessage | ConflictError]:
    """Store a batch of streamed messages with a few set-wise statements (group commit).

    Returns, per event, what became of it; an event whose conversation belongs to another
    customer gets a ConflictError and stores nothing of its own.
    """
    if not events:
        return []
    now = utcnow()
    customers: dict[str, dict[str, Any]] = {}
    conversations: dict[str, dict[str, Any]] = {}
    for event in events:
        ref = event.customer
        known = customers.setdefault(
            ref.id,
            {
                "id": ref.id,
                "email": None,
                "first_name": None,
                "marketing_consent": False,
                "created_at": now,
                "updated_at": now,
            },
        )
        known["email"] = known["email"] or ref.email
        known["first_name"] = known["first_name"] or ref.first_name
        conversations.setdefault(
            event.conversation_id,
            {
                "id": event.conversation_id,
                "customer_id": ref.id,
                "source": event.source,
                "started_at": event.message.sent_at,
                "created_at": now,
            },
        )
    session.execute(insert_ignoring(session, Customer, key=["id"]), list(customers.values()))
    for column in ("email", "first_name"):
        rows = [{"cid": c["id"], "value": c[column]} for c in customers.values() if c[column]]
        if rows:
            session.execute(_FILL_BLANK[column], rows)
    session.execute(
        insert_ignoring(session, Conversation, key=["id"]), list(conversations.values())
    )
    owners = dict(
        session.execute(
            select(Conversation.id, Conversation.customer_id).where(
                Conversation.id.in_(conversations)
            )
        ).all()
    )
    accepted = [e for e in events if owners.get(e.conversation_id) == e.customer.id]
    inserted: set[str] = set()
    if accepted:
        rows = [_message_row(e.message, e.conversation_id, e.customer.id, now) for e in accepted]
        unique_rows = list({row["message_id"]: row for row in reversed(rows)}.values())
        stmt = insert_ignoring(session, Message, key=["message_id"]).returning(
            _table(Message).c.message_id
        )
        inserted = set(session.scalars(stmt, unique_rows))
    stored = {
        row.message_id: row
        for row in session.execute(
            select(
                Message.id,
                Message.message_id,
                Message.conversation_id,
                Message.customer_id,
                Message.truncated,
            ).where(Message.message_id.in_({e.message.id for e in accepted}))
        )
    }
    results: list[StoredMessage | ConflictError] = []
    reported: set[str] = set()
    for event in events:
        if owners.get(event.conversation_id) != event.customer.id:
            results.append(
                ConflictError(
                    f"conversation {event.conversation_id!r} belongs to another customer",
                    field="conversation_id",
                )
            )
            continue
        row = stored[event.message.id]
        # Within one batch, only the first copy of a message id is the new one.
        new = event.message.id in inserted and event.message.id not in reported
        reported.add(event.message.id)
        results.append(
            StoredMessage(
                id=row.id,
                message_id=row.message_id,
                conversation_id=row.conversation_id,
                customer_id=row.customer_id,
                duplicate=not new,
                truncated=row.truncated,
            )
        )
    return results


def _table(model: type[Base]) -> Table:
    """A model's Core table, for plain executemany statements."""
    return cast(Table, model.__table__)


_CUSTOMERS = _table(Customer)
# Core (not ORM) statements: executemany over plain rows, no objects to keep in sync.
_FILL_BLANK = {
    column: update(_CUSTOMERS)
    .where(_CUSTOMERS.c.id == bindparam("cid"), _CUSTOMERS.c[column].is_(None))
    .values({column: bindparam("value")})
    for column in ("email", "first_name")
}


def _message_row(
    message: MessageCreate, conversation_id: str, customer_id: str, now: datetime
) -> dict[str, Any]:
    """The row of a new message (its text cut to what is kept); agent and bot turns skip the
    processing queue."""
    text, truncated = clip_text(message.text)
    return {
        "message_id": message.id,
        "conversation_id": conversation_id,
        "customer_id": customer_id,
        "role": message.role,
        "text": text,
        "truncated": truncated,
        "sent_at": message.sent_at,
        "state": "pending" if message.role == "customer" else "skipped",
        "attempts": 0,
        "received_at": now,
    }


def store_transcript(session: Session, *, transcript: TranscriptCreate) -> StoredTranscript:
    """Store a conversation's messages; already-known messages are counted, not repeated."""
    ensure_customer(session, customer_id=transcript.customer_id)
    _ensure_conversation(
        session,
        conversation_id=transcript.conversation_id,
        customer_id=transcript.customer_id,
        source=transcript.source,
        started_at=min(m.sent_at for m in transcript.messages),
    )
    stored = duplicates = truncated = 0
    new_ids: list[str] = []
    for message in transcript.messages:
        result = _insert_message(
            session,
            message=message,
            conversation_id=transcript.conversation_id,
            customer_id=transcript.customer_id,
        )
        truncated += result.truncated
        if result.duplicate:
            duplicates += 1
        else:
            stored += 1
            new_ids.append(message.id)
    return StoredTranscript(
        conversation_id=transcript.conversation_id,
        customer_id=transcript.customer_id,
        stored=stored,
        duplicates=duplicates,
        new_message_ids=tuple(new_ids),
        truncated=truncated,
    )


def store_order(
    session: Session,
    *,
    order: OrderCreate,
    source: str = "api",
    updated_at: datetime | None = None,
) -> StoredOrder:
    """Store an order with its items and learn its products (the lines that are products, of
    any order but a test one); a known order id is a no-op. `updated_at` is the platform's own
    time of this version of the order."""
    existing = session.execute(
        select(Order.customer_id, Order.status).where(Order.id == order.order_id)
    ).first()
    if existing is not None:
        return StoredOrder(
            order_id=order.order_id,
            customer_id=existing.customer_id,
            duplicate=True,
            status=existing.status,
        )
    if order.customer_id is not None:
        ensure_customer(session, customer_id=order.customer_id)
    session.add(
        Order(
            id=order.order_id,
            customer_id=order.customer_id,
            placed_at=order.placed_at,
            currency=order.currency,
            total=order.total.quantize(CENT),
            source=source,
            status=order.status,
            source_updated_at=updated_at,
            items=[
                OrderItem(
                    position=position,
                    sku=item.sku,
                    name=item.name,
                    category=item.category,
                    quantity=item.quantity,
                    unit_price=item.unit_price.quantize(CENT),
                    is_product=item.is_product,
                )
                for position, item in enumerate(order.items)
            ],
        )
    )
    # A test order's lines (a made-up product, a price typed for the test) teach the catalog
    # nothing; a cancelled order's products are still the shop's.
    learned = [item for item in order.items if item.is_product and order.status != "test"]
    for item in learned:
        _learn_product(
            session,
            sku=item.sku,
            name=item.name,
            category=item.category,
            price=item.unit_price.quantize(CENT),
            seen_at=order.placed_at,
        )
    session.flush()
    return StoredOrder(
        order_id=order.order_id,
        customer_id=order.customer_id,
        duplicate=False,
        status=order.status,
    )


def _learn_product(
    session: Session,
    *,
    sku: str,
    name: str,
    category: str | None,
    price: Decimal,
    seen_at: datetime,
) -> None:
    """Add a product to the catalog, or refresh it from a newer order."""
    product = session.get(Product, sku)
    if product is None:
        session.add(
            Product(
                sku=sku,
                name=name,
                category=category,
                price=price,
                first_seen_at=seen_at,
                last_seen_at=seen_at,
            )
        )
        session.flush()
        return
    if seen_at >= product.last_seen_at:
        product.name, product.price, product.last_seen_at = name, price, seen_at
        product.category = category or product.category
    product.first_seen_at = min(product.first_seen_at, seen_at)


def known_customer_id(session: Session, *, customer_id: str) -> str | None:
    """The customer this id names now: itself when stored, else the customer it was merged
    into (the newest merge of it), else None."""
    if session.get(Customer, customer_id) is not None:
        return customer_id
    # Audit rows follow later merges (they move with the survivor), so this is a stored id.
    return session.scalar(
        select(CustomerMerge.customer_id)
        .where(CustomerMerge.merged_id == customer_id)
        .order_by(CustomerMerge.at.desc(), CustomerMerge.id.desc())
        .limit(1)
    )


def resolve_customer_id(session: Session, *, candidate_id: str, email: str | None) -> str:
    """A known id (or the customer it was merged into); else the customer who has this email;
    else the candidate (new)."""
    known = known_customer_id(session, customer_id=candidate_id)
    if known is not None:
        return known
    if email:
        return customer_id_by_email(session, email=email) or candidate_id
    return candidate_id


# Why a post-purchase draft is withdrawn when its order stops being a purchase.
_NO_LONGER_A_PURCHASE = {
    "cancelled": "order cancelled",
    "voided": "order voided",
    "refunded": "order refunded",
    "test": "test order",
}


def store_order_update(
    session: Session,
    *,
    order: OrderCreate,
    source: str,
    updated_at: datetime | None,
    actor: str,
) -> StoredOrder:
    """Store an order as a platform sends it at each change (created, updated, cancelled): an
    order we lack is stored whole; a known one takes the status of this version unless we hold
    a newer one (deliveries arrive out of order). While it is no purchase, the post-purchase
    drafts it anchored that wait for review are withdrawn, as an unsubscribe withdraws drafts."""
    # Locked (PostgreSQL): two versions of one order arriving at once apply one after the other.
    stored = session.scalars(
        select(Order).where(Order.id == order.order_id).with_for_update()
    ).first()
    if stored is None:
        return store_order(session, order=order, source=source, updated_at=updated_at)
    newer = stored.source_updated_at is None or (
        updated_at is not None and updated_at >= stored.source_updated_at
    )
    if newer:
        stored.status = order.status
        stored.source_updated_at = updated_at or stored.source_updated_at
    withdrawn = 0
    # Also when it was no purchase already: a draft written while the change was on its way
    # (its campaign saw the order still placed) goes at the next delivery about the order.
    if newer and stored.status != PURCHASE_STATUS and stored.customer_id is not None:
        withdrawn = withdraw_drafts(
            session,
            customer_ids=[stored.customer_id],
            actor=actor,
            reason=_NO_LONGER_A_PURCHASE.get(stored.status, f"order {stored.status}"),
            anchor=order_anchor(stored.id),
        )
    session.flush()
    return StoredOrder(
        order_id=stored.id,
        customer_id=stored.customer_id,
        duplicate=True,
        status=stored.status,
        drafts_withdrawn=withdrawn,
    )


def record_platform_consent(
    session: Session, *, customer_id: str, subscribed: bool, at: datetime | None, actor: str
) -> int:
    """Record what a platform says of a known customer's email marketing consent, as of `at`
    (None: now). A subscription gives consent and dates the subscription (which starts the
    welcome sequence), unless the customer unsubscribed after `at`; an unsubscribe withdraws
    consent and the drafts waiting for review, as every route does. Returns how many drafts
    were withdrawn."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"no customer {customer_id!r}")
    at = at or utcnow()
    if not subscribed:
        if not customer.marketing_consent and customer.unsubscribed_at is None:
            # Kept even for someone who never consented here, so that an older "subscribed"
            # arriving late cannot subscribe them.
            customer.unsubscribed_at = at
        return set_consent(session, customer=customer, consent=False, at=at, actor=actor)
    if customer.unsubscribed_at is not None and customer.unsubscribed_at >= at:
        return 0  # their later "no" stands
    if not customer.marketing_consent:
        set_consent(session, customer=customer, consent=True, at=at, actor=actor)
        customer.subscribed_at = at
    elif customer.subscribed_at is None:
        customer.subscribed_at = at
    session.flush()
    return 0
