"""Erasure: one customer removed from every table and from the vector store, with an audit row
that says an erasure happened, when and by whom, and holds nothing about the person."""

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, Delete, delete, or_, select, text
from sqlalchemy.orm import Session

from embeddings.store import VectorStore
from engine.db import Database
from engine.errors import NotFoundError
from engine.models import (
    Attribution,
    Base,
    BlockedCandidate,
    Conversation,
    Customer,
    CustomerMerge,
    Draft,
    DraftEvent,
    EmailEvent,
    EmailSend,
    Erasure,
    Fact,
    FlowEntry,
    Message,
    MessageIntent,
    Order,
    OrderItem,
    WebhookDelivery,
    utcnow,
)
from engine.outbox import DRAFTS_ERASED, LEASE, enqueue_event

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ErasureReport:
    """What an erasure removed: rows per table and vectors; `audit_id` is its audit row."""

    removed: dict[str, int]
    audit_id: int
    # Drafts the review webhook receiver was (or may have been) sent, now told to erase them.
    notified_drafts: list[int]

    @property
    def total(self) -> int:
        """Rows and vectors removed in all."""
        return sum(self.removed.values())


def forget_customer(
    *,
    db: Database,
    store: VectorStore | None,
    customer_id: str,
    actor: str,
    webhook_url: str | None = None,
) -> ErasureReport:
    """Erase a customer: their rows in one transaction, then their vectors, then the audit row.

    With `webhook_url`, the same transaction queues a `drafts.erased` event naming the drafts
    the review webhook receiver was sent, so it can erase its copies too.

    Re-runnable: if the vectors could not be deleted after the rows were, running it again
    finds the vectors by the customer id and removes them. Unknown everywhere: NotFoundError.
    """
    # On SQLite every connection runs with secure_delete, so the deleted rows' bytes are zeroed
    # in the file, not only unlinked (engine.db).
    with db.write() as session:
        sent, in_flight_until = _drafts_sent(session, customer_id=customer_id)
        merged = set(
            session.scalars(
                select(CustomerMerge.merged_id).where(CustomerMerge.customer_id == customer_id)
            )
        )
        removed = _delete_rows(session, customer_id=customer_id)
        # A profile merged into this one is this person too, and engine.customers.merge moves
        # its points after its commit: any still under the old id go now, before this commit, which
        # forgets the old id (a second run would not know to look for them).
        leftovers = _delete_vectors(store, sorted(merged - {customer_id}))
        if webhook_url and sent:
            # Not before a send already in flight could land: the receiver should get the
            # draft before the news that it is erased.
            enqueue_event(
                session,
                key=f"erasure-{uuid.uuid4().hex}",
                event=DRAFTS_ERASED,
                payload={"draft_ids": sent, "erased_at": utcnow()},
                url=webhook_url,
                not_before=in_flight_until,
            )
    vectors = store.count(customer_id=customer_id) if store is not None else 0
    if not removed and not vectors:
        raise NotFoundError(f"no customer {customer_id!r}")
    if vectors and store is not None:
        store.delete_customer(customer_id)
    if store is not None:
        # Deleting only unlists points: Qdrant Edge keeps their bytes in its segment files and
        # write-ahead log. The purge rewrites the store without them (a no-op when nothing was
        # deleted; a Qdrant server vacuums on its own schedule, see the README).
        store.purge()
    removed["vectors"] = vectors + leftovers
    with db.write() as session:
        audit = Erasure(actor=actor, removed=removed)
        session.add(audit)
        session.flush()
        audit_id = audit.id
    if db.is_sqlite:
        _checkpoint(db)
    notified = sent if webhook_url else []
    report = ErasureReport(removed=removed, audit_id=audit_id, notified_drafts=notified)
    log.info("erasure %d by %s removed %d rows and vectors", audit_id, actor, report.total)
    return report


@dataclass(frozen=True)
class ErasureRead:
    """An erasure's audit row: when, by whom, and what went (rows per table, vectors)."""

    id: int
    actor: str
    at: datetime
    removed: dict[str, int]


def get_erasure(session: Session, *, erasure_id: int) -> ErasureRead | None:
    """The audit row of one erasure, if there is one by that id (it names nobody)."""
    row = session.get(Erasure, erasure_id)
    if row is None:
        return None
    removed = {str(table): int(count) for table, count in (row.removed or {}).items()}
    return ErasureRead(id=row.id, actor=row.actor, at=row.at, removed=removed)


def vacuum_full_tables(db: Database, *, tables: Iterable[str]) -> list[str]:
    """PostgreSQL: rewrite the tables an erasure removed rows from (`VACUUM (FULL)`), so their
    bytes leave the table and index files; a plain VACUUM only marks the space reusable and
    leaves the bytes in place. Each table is locked (ACCESS EXCLUSIVE) while it is rewritten,
    so this is for a quiet moment, not for every erasure. The write-ahead log keeps the rows
    until its segments are recycled. Returns the tables rewritten; none on SQLite, where
    secure_delete already zeroes deleted rows."""
    if db.is_sqlite:
        return []
    known = set(Base.metadata.tables)
    names = sorted(name for name in set(tables) if name in known)
    # VACUUM cannot run inside a transaction block.
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        for name in names:
            connection.execute(text(f'VACUUM (FULL) "{name}"'))  # a known table name only
    return names


def _delete_vectors(store: VectorStore | None, customer_ids: list[str]) -> int:
    """Delete the points of these customer ids; how many there were."""
    if store is None:
        return 0
    counts = [store.count(customer_id=customer_id) for customer_id in customer_ids]
    for customer_id, count in zip(customer_ids, counts, strict=True):
        if count:
            store.delete_customer(customer_id)
    return sum(counts)


def _drafts_sent(session: Session, *, customer_id: str) -> tuple[list[int], datetime | None]:
    """The customer's drafts the receiver may hold (a delivery attempted), and when the lease
    of a send still in flight ends, if one is."""
    rows = session.execute(
        select(
            WebhookDelivery.draft_id, WebhookDelivery.state, WebhookDelivery.next_attempt_at
        ).where(
            WebhookDelivery.draft_id.in_(select(Draft.id).where(Draft.customer_id == customer_id)),
            WebhookDelivery.attempts > 0,
        )
    ).all()
    sent = sorted({row.draft_id for row in rows if row.draft_id is not None})
    now = utcnow()
    # A pending row due later is in flight (leased) or waiting to retry; either way the wait
    # is at most one lease, so the receiver hears of the erasure within a minute.
    later = [row.next_attempt_at for row in rows if row.state == "pending"]
    later = [at for at in later if at > now]
    return sent, min(max(later), now + LEASE) if later else None


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
        ("email_events", delete(EmailEvent).where(EmailEvent.customer_id == customer_id)),
        ("attributions", delete(Attribution).where(Attribution.customer_id == customer_id)),
        ("email_sends", delete(EmailSend).where(EmailSend.customer_id == customer_id)),
        ("flow_entries", delete(FlowEntry).where(FlowEntry.customer_id == customer_id)),
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
        # The audit rows of profiles merged into them: each holds the merged profile's id (an
        # email, say), which was this person's too.
        (
            "customer_merges",
            delete(CustomerMerge).where(CustomerMerge.customer_id == customer_id),
        ),
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
