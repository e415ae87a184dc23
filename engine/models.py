"""SQL tables: customers, conversations, messages, orders, products, API keys, intents, facts,
voice guides, drafts and their audit trail, the review webhook outbox, merges and erasures, and
for sending: flow entries (arms), the sending outbox, provider events and attributions."""

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal, get_args

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy import false as sa_false
from sqlalchemy import true as sa_true
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

MESSAGE_ROLES = ("customer", "agent", "bot")
# A message's place in the processing queue: customer turns wait as `pending`, a worker
# `claimed` them (with a lease), then `processed` (or `failed` after repeated errors);
# agent and bot turns are stored for context and never processed (`skipped`).
MESSAGE_STATES = ("pending", "claimed", "processed", "skipped", "failed")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a timezone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    """The current time, timezone-aware."""
    return datetime.now(UTC)


# The times the engine stores and reckons with. Any chat, order or campaign date lies well
# inside; the edges stay centuries away from what Python, SQLite and PostgreSQL can hold, so
# converting to UTC and stepping a year either way (RFM windows, steps) never overflows.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)


def time_out_of_range(moment: datetime) -> str | None:
    """Why the store cannot take this time (no timezone, or outside EARLIEST..LATEST), if so."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        return "needs a timezone (e.g. 2026-11-20T09:00:00Z)"
    outside = f"must lie from {EARLIEST.year} up to (not including) {LATEST.year}, in UTC"
    try:
        in_utc = moment.astimezone(UTC)
    except OverflowError:  # year 1 at +01:00, year 9999 at -01:00
        return outside
    return None if EARLIEST <= in_utc < LATEST else outside


class Base(DeclarativeBase):
    """Declarative base of every table."""

    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON}  # noqa: RUF012


class Customer(Base):
    """A person the business knows, keyed by the business's own customer id."""

    __tablename__ = "customers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    email: Mapped[str | None] = mapped_column(String(320), index=True)
    first_name: Mapped[str | None] = mapped_column(String(200))
    signup_source: Mapped[str | None] = mapped_column(String(100))
    subscribed_at: Mapped[datetime | None]
    marketing_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    consent_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    # No email goes to a suppressed address (a hard bounce, repeated soft bounces); unlike an
    # unsubscribe it is the address that fails, not the customer's wish.
    suppressed_at: Mapped[datetime | None]
    suppression_reason: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    conversations: Mapped[list["Conversation"]] = relationship(back_populates="customer")
    orders: Mapped[list["Order"]] = relationship(back_populates="customer")


class Conversation(Base):
    """One chat thread of one customer, from one source (widget, Chatwoot, email, ...)."""

    __tablename__ = "conversations"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    source: Mapped[str] = mapped_column(String(100), default="api")
    started_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer] = relationship(back_populates="conversations")
    messages: Mapped[list["Message"]] = relationship(back_populates="conversation")


class Message(Base):
    """One chat turn; customer turns also wait in the processing queue (`state`)."""

    __tablename__ = "messages"
    __table_args__ = (Index("ix_messages_state_id", "state", "id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    # True when the text was longer than we keep (a long email): its first part is stored.
    truncated: Mapped[bool] = mapped_column(Boolean, default=False, server_default=sa_false())
    sent_at: Mapped[datetime] = mapped_column(index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_at: Mapped[datetime | None]
    processed_at: Mapped[datetime | None]
    # The text with PII replaced by placeholders: what quotes and evidence show.
    redacted_text: Mapped[str | None] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)

    conversation: Mapped[Conversation] = relationship(back_populates="messages")


class Product(Base):
    """A catalog entry, learned from the items of the orders we see."""

    __tablename__ = "products"

    sku: Mapped[str] = mapped_column(String(200), primary_key=True)
    name: Mapped[str] = mapped_column(String(500))
    category: Mapped[str | None] = mapped_column(String(200), index=True)
    price: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)


# An order counts as a purchase only while it is `placed`; a cancelled, voided, refunded or
# test order is kept (the platform sent it) but never counts as something a customer bought.
ORDER_STATUSES = ("placed", "cancelled", "voided", "refunded", "test")


class Order(Base):
    """A purchase by a customer (none when the platform sent an order with no buyer we can
    identify: a guest order without an email)."""

    __tablename__ = "orders"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    customer_id: Mapped[str | None] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    placed_at: Mapped[datetime] = mapped_column(index=True)
    currency: Mapped[str] = mapped_column(String(3))
    total: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    source: Mapped[str] = mapped_column(String(100), default="api")
    # Not indexed: nearly every order is `placed`, and SQLite would pick such an index over the
    # customer's for "this customer's purchases" (bench/campaign.py ran 30% slower with it).
    status: Mapped[str] = mapped_column(String(16), default="placed", server_default="placed")
    # The platform's own last-change time, so a late, older update cannot undo a newer one.
    source_updated_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    customer: Mapped[Customer | None] = relationship(back_populates="orders")
    items: Mapped[list["OrderItem"]] = relationship(
        back_populates="order", cascade="all, delete-orphan", order_by="OrderItem.position"
    )


# The source of orders the demo's simulated month makes up: the report marks itself simulated
# when one counts.
SIMULATED_SOURCE = "simulated"
# The one test of "this order is a purchase", wherever orders count (orders, spend, products
# bought, RFM, lifecycle stage and triggers, the demo summary).
PURCHASE_STATUS = ORDER_STATUSES[0]
PURCHASED = Order.status == PURCHASE_STATUS


class OrderItem(Base):
    """One line of an order."""

    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    order_id: Mapped[str] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    sku: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(500))
    category: Mapped[str | None] = mapped_column(String(200))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    # False for a line that is no product (a tip, a custom item): it never joins the catalog
    # and never becomes a product the customer bought.
    is_product: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())

    order: Mapped[Order] = relationship(back_populates="items")


class ApiKey(Base):
    """An API key: only its prefix (to find it) and a SHA-256 hash (to check it) are kept."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200))
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64))
    scopes: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]


class MessageIntent(Base):
    """An intent found in a customer message (built-in or a tracker), with its score."""

    __tablename__ = "message_intents"
    __table_args__ = (
        UniqueConstraint("message_id", "intent", name="uq_message_intents_message_intent"),
        Index("ix_message_intents_intent_customer", "intent", "customer_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    intent: Mapped[str] = mapped_column(String(100))
    score: Mapped[float] = mapped_column(Float)
    sent_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(String(16))  # "builtin" or "tracker"
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Tracker(Base):
    """A custom intent a marketer defined by a description and example phrases."""

    __tablename__ = "trackers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    description: Mapped[str] = mapped_column(Text)
    examples: Mapped[list[str]] = mapped_column(JSON)
    threshold: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Fact(Base):
    """Something a customer said about themselves that passed the surveillance gate, with where
    and when they said it. Opt-outs are facts of category `opt_out` (the value is the topic)."""

    __tablename__ = "facts"
    __table_args__ = (
        UniqueConstraint("message_id", "category", "value", name="uq_facts_message_category_value"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    category: Mapped[str] = mapped_column(String(32))
    value: Mapped[str] = mapped_column(String(300))
    # The verbatim (redacted) words of the clause, and their span in the redacted message.
    quote: Mapped[str] = mapped_column(Text)
    span_start: Mapped[int] = mapped_column(Integer)
    span_end: Mapped[int] = mapped_column(Integer)
    said_at: Mapped[datetime]
    extractor: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class BlockedCandidate(Base):
    """How many candidate facts the gate blocked in a message, per reason; never their content."""

    __tablename__ = "blocked_candidates"
    __table_args__ = (
        UniqueConstraint("message_id", "reason", name="uq_blocked_candidates_message_reason"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[int] = mapped_column(ForeignKey("messages.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(String(32))
    count: Mapped[int] = mapped_column(Integer)


# The sequences a draft belongs to.
DraftKind = Literal["welcome", "post_purchase", "win_back"]
DRAFT_KINDS: tuple[DraftKind, ...] = get_args(DraftKind)
# A draft waits for a person (`pending_review`), or for a person to fix it (`needs_attention`:
# it failed the grounding check); a reviewer approves or rejects it; a draft whose customer
# withdrew consent before review is `withdrawn`.
# An approved draft is `sent` once the email transport accepted it.
DraftStatus = Literal[
    "pending_review", "needs_attention", "approved", "rejected", "withdrawn", "sent"
]
DRAFT_STATUSES: tuple[DraftStatus, ...] = get_args(DraftStatus)
# The statuses a reviewer can still act on (and consent withdraws).
REVIEWABLE: tuple[DraftStatus, ...] = ("pending_review", "needs_attention")


class VoiceGuide(Base):
    """A business's voice guide; every change is a new version, the newest is in use."""

    __tablename__ = "voice_guides"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    business: Mapped[str] = mapped_column(String(200), index=True)
    guide: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_by: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Draft(Base):
    """One drafted email for one customer and one sequence step, waiting for (or past) review.

    A step is drafted once per customer and anchor (the subscription, the order, the last
    activity it answers), which makes running a campaign twice a no-op."""

    __tablename__ = "drafts"
    __table_args__ = (
        UniqueConstraint(
            "customer_id", "kind", "step", "anchor", name="uq_drafts_customer_kind_step_anchor"
        ),
        Index("ix_drafts_status_id", "status", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[DraftKind] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    anchor: Mapped[str] = mapped_column(String(200))
    status: Mapped[DraftStatus] = mapped_column(String(32), default="pending_review")
    subject: Mapped[str] = mapped_column(Text)
    preheader: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    # What the drafter wrote, kept as it was when a reviewer edits the draft.
    original: Mapped[dict[str, Any]] = mapped_column(JSON)
    fact_ids: Mapped[list[int]] = mapped_column(JSON)
    # The quotes, products and intents behind each personalized sentence.
    evidence: Mapped[list[Any]] = mapped_column(JSON)
    # The gated context the drafter saw, as it was.
    context: Mapped[dict[str, Any]] = mapped_column(JSON)
    problems: Mapped[list[Any]] = mapped_column(JSON)
    drafter: Mapped[str] = mapped_column(String(32))
    template: Mapped[str] = mapped_column(String(200))
    model: Mapped[str | None] = mapped_column(String(200))
    voice_version: Mapped[int | None] = mapped_column(Integer)
    input_tokens: Mapped[int] = mapped_column(Integer, default=0)
    output_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_read_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cache_write_tokens: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[str | None] = mapped_column(String(200))
    reject_reason: Mapped[str | None] = mapped_column(Text)


class DraftEvent(Base):
    """The audit trail of a draft: created, edited (what changed), approved, rejected."""

    __tablename__ = "draft_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    action: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    # For an edit: {field: {"from": old, "to": new}}; for a rejection: {"reason": ...}.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)


# An outbox row is `pending` until the receiver answers 2xx (`delivered`); after too many
# failures it is `failed` (a person can see it on the draft).
DELIVERY_STATES = ("pending", "delivered", "failed")


class WebhookDelivery(Base):
    """The review webhook's outbox: one row per event to push, retried until delivered (a draft's
    events name it; an erasure's event names no draft of its own)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[int | None] = mapped_column(
        ForeignKey("drafts.id", ondelete="CASCADE"), index=True
    )
    idempotency_key: Mapped[str] = mapped_column(String(200), unique=True)
    url: Mapped[str] = mapped_column(Text)
    # The exact bytes signed and sent, so a retry sends the same body and signature.
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerMerge(Base):
    """The audit trail of merges: two profiles found to be one person (a chat contact who gave
    the email of a known customer) became one; erased with the customer it was merged into."""

    __tablename__ = "customer_merges"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    merged_id: Mapped[str] = mapped_column(String(128))
    actor: Mapped[str] = mapped_column(String(200))
    # Rows moved per table, and vectors moved in the store.
    moved: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Erasure(Base):
    """The audit trail of erasures: that one happened, when, by whom, and how many rows and
    vectors went; never whose (no customer id, email or words)."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    actor: Mapped[str] = mapped_column(String(200))
    # Rows removed per table, and vectors removed from the store.
    removed: Mapped[dict[str, Any]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Secret(Base):
    """A key the product made for itself (the link-signing key), shared by every process."""

    __tablename__ = "secrets"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


# The arms of a campaign run: the personal draft, the same step's generic template (an A/B
# run), or held out (no email; counted to show what the emails earned).
Arm = Literal["personal", "generic", "holdout"]
ARMS: tuple[Arm, ...] = get_args(Arm)


class FlowEntry(Base):
    """A customer entering a step of a flow in a campaign run: the arm, and the draft if any
    (a held-out customer has none)."""

    __tablename__ = "flow_entries"
    __table_args__ = (
        UniqueConstraint(
            "customer_id",
            "kind",
            "step",
            "anchor",
            name="uq_flow_entries_customer_kind_step_anchor",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[DraftKind] = mapped_column(String(32))
    step: Mapped[str] = mapped_column(String(32))
    anchor: Mapped[str] = mapped_column(String(200))
    arm: Mapped[Arm] = mapped_column(String(16))
    draft_id: Mapped[int | None] = mapped_column(
        ForeignKey("drafts.id", ondelete="CASCADE"), index=True
    )
    entered_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)


# A send is `pending` until the transport accepts it (`sent`); a sender claims it by pushing
# its next attempt one lease ahead, so a sender that dies mid-send leaves it to be retried.
# After too many failures it is `failed`; `withdrawn` when consent or the address was lost
# before it went.
SendState = Literal["pending", "sent", "failed", "withdrawn"]


class EmailSend(Base):
    """The sending outbox: one row per approved draft, with the Message-ID it goes out with."""

    __tablename__ = "email_sends"
    __table_args__ = (Index("ix_email_sends_state_next", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), unique=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    message_id: Mapped[str] = mapped_column(String(200), unique=True)
    transport: Mapped[str] = mapped_column(String(16))
    state: Mapped[SendState] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


EmailEventName = Literal[
    "delivered", "opened", "clicked", "bounced", "complained", "unsubscribed", "deferred", "dropped"
]
EMAIL_EVENTS: tuple[EmailEventName, ...] = get_args(EmailEventName)


class EmailEvent(Base):
    """What happened to a sent email, as its provider (or our click redirect) reported it; one
    row per provider event id."""

    __tablename__ = "email_events"
    __table_args__ = (
        UniqueConstraint("provider", "event_id", name="uq_email_events_provider_event_id"),
        Index("ix_email_events_customer_event_at", "customer_id", "event", "occurred_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(200))
    event: Mapped[EmailEventName] = mapped_column(String(16))
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[str] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    bounce: Mapped[str | None] = mapped_column(String(8))
    machine: Mapped[bool] = mapped_column(Boolean, default=False)
    url: Mapped[str | None] = mapped_column(Text)
    occurred_at: Mapped[datetime]
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    simulated: Mapped[bool] = mapped_column(Boolean, default=False)


class Attribution(Base):
    """An order credited to the email that earned it (the last clicked within the click
    window, else the last delivered within the delivered window); each order at most once."""

    __tablename__ = "attributions"

    order_id: Mapped[str] = mapped_column(
        ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True
    )
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), index=True)
    customer_id: Mapped[str] = mapped_column(
        ForeignKey("customers.id", ondelete="CASCADE"), index=True
    )
    rule: Mapped[str] = mapped_column(String(16))  # "click" or "delivered"
    touched_at: Mapped[datetime]
    attributed_at: Mapped[datetime] = mapped_column(default=utcnow)


# What a person signed in to the console may do: a marketer reviews, searches and reads
# customers; an admin also forgets customers and manages people.
Role = Literal["marketer", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)


class User(Base):
    """A person who signs in to the console; never deleted (the audit trail names them),
    only disabled."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    # Argon2id, with its parameters and salt in the string.
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(String(16))
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ConsoleSession(Base):
    """A browser signed in to the console: its id is kept hashed, so a read of the table
    cannot be replayed as a cookie."""

    __tablename__ = "console_sessions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
