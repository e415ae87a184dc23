"""Erasure: one customer removed from every table and from the vector store, with an audit row
that says an erasure happened, when and by whom, and holds nothing about the person."""

import logging
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, delete, or_, select
from sqlalchemy.orm import Session

from embeddings.store import VectorStore
from engine.db import Database
from engine.errors import NotFoundError
from engine.models import (
    BlockedCandidate,
    Conversation,
    Customer,
    Draft,
    DraftEvent,
    Erasure,
    Fact,
    Message,
    MessageIntent,
    Order,
    OrderItem,
    WebhookDelivery,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure removed: rows per table and vectors; `audit_id` is its audit row."""

    removed: dict[str, int]
    audit_id: int

    @property
    def total(self) -> int:
        """Rows and vectors removed in all."""
        return sum(self.removed.values())


def forget_customer(
    *, db: Database, store: VectorStore | None, customer_id: str, actor: str
) -> ErasureReport:
    """Erase a customer: their rows in one transaction, then their vectors, then the audit row.

    Re-runnable: if the vectors could not be deleted after the rows were, running it again
    finds the vectors by the customer id and removes them. Unknown everywhere: NotFoundError.
    """
    # On SQLite every connection runs with secure_delete, so the deleted rows' bytes are zeroed
    # in the file, not only unlinked (engine.db).
    with db.write() as session:
        removed = _delete_rows(session, customer_id=customer_id)
    vectors = store.count(customer_id=customer_id) if store is not None else 0
    if not removed and not vectors:
        raise NotFoundError(f"no customer {customer_id!r}")
    if vectors and store is not None:
        store.delete_customer(customer_id)
    removed["vectors"] = vectors
    with db.write() as session:
        audit = Erasure(actor=actor, removed=removed)
        session.add(audit)
        session.flush()
        audit_id = audit.id
    if db.is_sqlite:
        _checkpoint(db)
    report = ErasureReport(removed=removed, audit_id=audit_id)
    log.info("erasure %d by %s removed %d rows and vectors", audit_id, actor, report.total)
    return report


def _delete_rows(session: Session, *, customer_id: str) -> dict[str, int]:
    """Delete the customer's rows, children first; the count per table of what went."""
    conversations = select(Conversation.id).where(Conversation.customer_id == customer_id)
    messages = select(Message.id).where(
        or_(Message.customer_id == customer_id, Message.conversation_id.in_(conversations))
    )
    drafts = select(Draft.id).where(Draft.customer_id == customer_id)
    orders = select(Order.id).where(Order.customer_id == customer_id)
    # Listed explicitly rather than left to ON DELETE CASCADE: the counts go to the audit row,
    # and a store whose foreign keys are off (an old SQLite connection) is erased all the same.
    steps: list[tuple[str, Delete]] = [
        ("webhook_deliveries", delete(WebhookDelivery).where(WebhookDelivery.draft_id.in_(drafts))),
        ("draft_events", delete(DraftEvent).where(DraftEvent.draft_id.in_(drafts))),
        ("drafts", delete(Draft).where(Draft.customer_id == customer_id)),
        (
            "facts",
            delete(Fact).where(or_(Fact.customer_id == customer_id, Fact.message_id.in_(messages))),
        ),
        (
            "blocked_candidates",
            delete(BlockedCandidate).where(
                or_(
                    BlockedCandidate.customer_id == customer_id,
                    BlockedCandidate.message_id.in_(messages),
                )
            ),
        ),
        (
            "message_intents",
            delete(MessageIntent).where(
                or_(
                    MessageIntent.customer_id == customer_id,
                    MessageIntent.message_id.in_(messages),
                )
            ),
        ),
        ("order_items", delete(OrderItem).where(OrderItem.order_id.in_(orders))),
        ("orders", delete(Order).where(Order.customer_id == customer_id)),
        ("messages", delete(Message).where(Message.id.in_(messages))),
        ("conversations", delete(Conversation).where(Conversation.customer_id == customer_id)),
        ("customers", delete(Customer).where(Customer.id == customer_id)),
    ]
    removed: dict[str, int] = {}
    for table, statement in steps:
        result = session.execute(statement.execution_options(synchronize_session=False))
        count = cast(CursorResult[Any], result).rowcount
        if count:
            removed[table] = count
    return removed


def _checkpoint(db: Database) -> None:
    """Fold the write-ahead log into the file and truncate it: old page images of the erased
    rows would otherwise stay in the WAL until the next checkpoint."""
    # A raw connection: SQLAlchemy would wrap the statement in a transaction, where a checkpoint
    # cannot run.
    raw = db.engine.raw_connection()
    try:
        busy = raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    finally:
        raw.close()
    if busy and busy[0]:
        # A reader held an old snapshot; the next checkpoint (automatic) finishes the job.
        log.info("WAL checkpoint after erasure was partial; it completes on a later checkpoint")
