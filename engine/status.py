"""Counts of what is stored, and the processing backlog."""

from dataclasses import asdict, dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.models import Conversation, Customer, Message, Order, Product


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
    )
