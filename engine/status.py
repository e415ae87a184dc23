"""Counts of what is stored, and the processing backlog."""

from dataclasses import asdict, dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.models import Conversation, Customer, EmailSend, Message, Order, Product


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
