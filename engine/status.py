"""Counts of what is stored, and the processing backlog."""

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.models import (
    DRAFT_STATUSES,
    BlockedCandidate,
    Conversation,
    Customer,
    Draft,
    DraftStatus,
    EmailSend,
    Fact,
    Message,
    Order,
    Product,
)


@dataclass(frozen=True)
class Status:
    """What the store holds and how much is waiting to be processed."""

    customers: int
    conversations: int
    messages: int
    customer_messages: int
    orders: int
    products: int
    backlog: int
    failed: int
    # Addresses no email goes to, per reason (hard_bounce, soft_bounces).
    suppressed_hard_bounce: int
    suppressed_soft_bounces: int
    # The sending outbox: approved drafts waiting to go out, and those that failed for good.
    sends_waiting: int
    sends_failed: int

    def as_dict(self) -> dict[str, int]:
        """The counts as a plain dict."""
        return asdict(self)


def read_status(session: Session) -> Status:
    """Count customers, conversations, messages, orders, and unprocessed customer messages."""

    def count(stmt: object) -> int:
        return int(session.scalar(stmt) or 0)  # type: ignore[call-overload]

    by_state = dict(
        session.execute(select(Message.state, func.count()).group_by(Message.state)).all()
    )
    suppressed = dict(
        session.execute(
            select(Customer.suppression_reason, func.count())
            .where(Customer.suppressed_at.is_not(None))
            .group_by(Customer.suppression_reason)
        ).all()
    )
    sends = dict(
        session.execute(select(EmailSend.state, func.count()).group_by(EmailSend.state)).all()
    )
    by_role = dict(session.execute(select(Message.role, func.count()).group_by(Message.role)).all())
    return Status(
        customers=count(select(func.count()).select_from(Customer)),
        conversations=count(select(func.count()).select_from(Conversation)),
        messages=sum(by_role.values()),
        customer_messages=by_role.get("customer", 0),
        orders=count(select(func.count()).select_from(Order)),
        products=count(select(func.count()).select_from(Product)),
        # Claimed messages are not processed yet either: a crashed worker's batch counts.
        backlog=by_state.get("pending", 0) + by_state.get("claimed", 0),
        failed=by_state.get("failed", 0),
        suppressed_hard_bounce=suppressed.get("hard_bounce", 0),
        suppressed_soft_bounces=suppressed.get("soft_bounces", 0),
        sends_waiting=sends.get("pending", 0),
        sends_failed=sends.get("failed", 0),
    )


@dataclass(frozen=True)
class ProcessingQueue:
    """Customer messages by where they are in the pipeline, and how long the oldest has waited."""

    pending: int
    claimed: int
    processed: int
    failed: int
    # When the oldest message still waiting (pending or claimed) arrived; None when none waits.
    oldest_waiting_since: datetime | None

    @property
    def waiting(self) -> int:
        """Messages not processed yet (a claimed one may belong to a worker that crashed)."""
        return self.pending + self.claimed


def read_processing_queue(session: Session) -> ProcessingQueue:
    """The processing queue: customer messages pending, claimed, processed and failed."""
    # Agent and bot turns are stored as `skipped`: they never enter the queue.
    by_state = dict(
        session.execute(
            select(Message.state, func.count())
            .where(Message.state.in_(("pending", "claimed", "processed", "failed")))
            .group_by(Message.state)
        ).all()
    )
    oldest = session.scalar(
        select(func.min(Message.received_at)).where(Message.state.in_(("pending", "claimed")))
    )
    return ProcessingQueue(
        pending=by_state.get("pending", 0),
        claimed=by_state.get("claimed", 0),
        processed=by_state.get("processed", 0),
        failed=by_state.get("failed", 0),
        oldest_waiting_since=oldest,
    )


@dataclass(frozen=True)
class Findings:
    """What the pipeline and the drafters made of the chats: facts, opt-outs, blocked
    candidates, and drafts by status."""

    facts: int
    opt_outs: int
    # Candidate facts the surveillance gate kept out (each message counts its own).
    blocked: int
    drafts: dict[DraftStatus, int]


def read_findings(session: Session) -> Findings:
    """Kept facts (opt-outs apart), blocked candidates, and drafts per status (every status,
    zero included)."""
    opt_out = Fact.category == "opt_out"
    facts, opt_outs = session.execute(
        select(func.count().filter(~opt_out), func.count().filter(opt_out))
    ).one()
    blocked = session.scalar(select(func.coalesce(func.sum(BlockedCandidate.count), 0)))
    drafts = dict(session.execute(select(Draft.status, func.count()).group_by(Draft.status)).all())
    return Findings(
        facts=int(facts or 0),
        opt_outs=int(opt_outs or 0),
        blocked=int(blocked or 0),
        drafts={status: int(drafts.get(status, 0)) for status in DRAFT_STATUSES},
    )
