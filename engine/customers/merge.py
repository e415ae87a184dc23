"""Merging two customer profiles found to be one person (a chat contact who gave the email of a
known customer): every row of the merged profile moves to the survivor in the caller's
transaction, consent is combined conservatively, and an audit row records it.

The vector store is updated after the caller commits (`move_merged_vectors`): a crash in
between leaves the merged id's points under the old id until the survivor's next merge-aware
call re-applies its merges (idempotent), and erasing the survivor erases them as well."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Column, CursorResult, String, Table, delete, select, update
from sqlalchemy.orm import Session

from embeddings.store import VectorStore
from engine.customers.consent import set_consent, withdraw_drafts
from engine.db import Database
from engine.errors import NotFoundError
from engine.models import REVIEWABLE, Base, Customer, CustomerMerge, Draft, FlowEntry, Message

# A consent given at no recorded time (rows from before consent_at existed) is older than any
# decision with a time.
_LONG_AGO = datetime(1, 1, 1, tzinfo=UTC)
# What the anchor column holds: a merged draft's anchor gets a suffix and must still fit.
_ANCHOR_CHARS = cast(String, cast(Table, Draft.__table__).c.anchor.type).length or 200


@dataclass(frozen=True)
class MergeReport:
    """What a merge did: rows moved per table (and vectors to move), drafts withdrawn, its audit
    row."""

    survivor_id: str
    merged_id: str
    moved: dict[str, int]
    drafts_withdrawn: int
    audit_id: int


def merge_customers(
    session: Session,
    *,
    survivor_id: str,
    merged_id: str,
    actor: str,
    store: VectorStore | None = None,
) -> MergeReport:
    """Make `merged_id` part of `survivor_id`, in the caller's transaction: move every row that
    names the merged customer, fill the survivor's blanks, combine consent, delete the merged
    customer and write one `customer_merges` audit row. With `store`, the audit row counts the
    merged customer's vectors; moving them is `move_merged_vectors`, after the commit."""
    if survivor_id == merged_id:
        raise ValueError(f"cannot merge customer {survivor_id!r} into itself")
    # The merged customer's messages in id order, then both customers in id order: the order a
    # pipeline batch takes (its messages, then their customers' keys as it writes facts), so
    # neither waits on the other in a circle (PostgreSQL; SQLite has one writer).
    session.execute(
        select(Message.id)
        .where(Message.customer_id == merged_id)
        .order_by(Message.id)
        .with_for_update()
    ).all()
    locked = {
        customer_id: session.get(
            Customer, customer_id, with_for_update=True, populate_existing=True
        )
        for customer_id in sorted((survivor_id, merged_id))
    }
    survivor, merged = locked[survivor_id], locked[merged_id]
    if survivor is None or merged is None:
        # Nothing is changed yet: a caller that lost a race to a concurrent merge may look again.
        missing = survivor_id if survivor is None else merged_id
        raise NotFoundError(f"no customer {missing!r}")
    clashing = _reanchor_clashing_drafts(session, survivor_id=survivor_id, merged_id=merged_id)
    moved: dict[str, int] = {}
    for column in customer_columns():
        result = session.execute(
            update(column.table)
            .where(column == merged_id)
            .values({column.name: survivor_id})
            .execution_options(synchronize_session=False)
        )
        count = cast(CursorResult[Any], result).rowcount
        if count:
            moved[column.table.name] = moved.get(column.table.name, 0) + count
    _fill_profile(survivor, merged)
    withdrawn = _combine_consent(session, survivor=survivor, merged=merged, actor=actor)
    for anchor in clashing:
        withdrawn += withdraw_drafts(
            session,
            customer_ids=[survivor_id],
            anchor=anchor,
            actor=actor,
            reason=f"merged profile {merged_id!r}: the survivor has a draft of this step",
        )
    session.expunge(merged)
    session.execute(
        delete(Customer)
        .where(Customer.id == merged_id)
        .execution_options(synchronize_session=False)
    )
    vectors = store.count(customer_id=merged_id) if store is not None else 0
    if vectors:
        moved["vectors"] = vectors
    audit = CustomerMerge(customer_id=survivor_id, merged_id=merged_id, actor=actor, moved=moved)
    session.add(audit)
    session.flush()
    return MergeReport(
        survivor_id=survivor_id,
        merged_id=merged_id,
        moved=moved,
        drafts_withdrawn=withdrawn,
        audit_id=audit.id,
    )


def move_merged_vectors(*, db: Database, store: VectorStore, customer_id: str) -> int:
    """Give the vector points of every profile merged into this customer the customer's id;
    run after a merge's commit, and safe to run again any time. Returns points moved."""
    with db.read() as session:
        merged = list(
            session.scalars(
                select(CustomerMerge.merged_id)
                .where(CustomerMerge.customer_id == customer_id)
                # An id merged away and later used again is someone's own now: not moved.
                .where(CustomerMerge.merged_id.not_in(select(Customer.id)))
                .distinct()
            )
        )
    # Counting first: a store write for every merge on every call would grow its log for nothing.
    return sum(
        store.reassign_customer(old, customer_id)
        for old in sorted(merged)
        if store.count(customer_id=old)
    )


def customer_columns() -> list[Column[Any]]:
    """Every column that names a customer (a foreign key to customers.id), whatever table it is
    in: a table added later moves too, instead of being cascaded away with the merged row."""
    customers = cast(Table, Customer.__table__)
    return [
        key.parent
        for table in Base.metadata.sorted_tables
        for key in table.foreign_keys
        if key.references(customers)
    ]


def _reanchor_clashing_drafts(session: Session, *, survivor_id: str, merged_id: str) -> list[str]:
    """Give the merged customer's drafts of a step the survivor also has a draft of (same kind,
    step and anchor: one per customer) an anchor of their own, so both histories stay and the
    survivor's draft is the one that counts. Returns the new anchors of those still waiting
    for review, which the caller withdraws: one person must not get the same step twice."""
    moved = _reanchor_clashing(session, Draft, survivor_id=survivor_id, merged_id=merged_id)
    # A campaign's flow entries are keyed the same way (one per customer and step).
    _reanchor_clashing(session, FlowEntry, survivor_id=survivor_id, merged_id=merged_id)
    if not moved:
        return []
    waiting = session.execute(
        select(Draft.anchor).where(Draft.id.in_(list(moved)), Draft.status.in_(REVIEWABLE))
    )
    return sorted(waiting.scalars())


def _reanchor_clashing(
    session: Session, model: type[Draft] | type[FlowEntry], *, survivor_id: str, merged_id: str
) -> dict[int, str]:
    """Re-anchor the merged customer's rows of `model` whose (kind, step, anchor) the survivor
    also has; returns their ids and new anchors."""
    theirs = {
        (row.kind, row.step, row.anchor)
        for row in session.execute(
            select(model.kind, model.step, model.anchor).where(model.customer_id == survivor_id)
        )
    }
    moved: dict[int, str] = {}
    for row in session.execute(
        select(model.id, model.kind, model.step, model.anchor)
        .where(model.customer_id == merged_id)
        .order_by(model.id)
    ).all():
        if (row.kind, row.step, row.anchor) not in theirs:
            continue
        suffix = f" (merged {'draft' if model is Draft else 'entry'} {row.id})"
        anchor = row.anchor[: _ANCHOR_CHARS - len(suffix)] + suffix
        session.execute(
            update(model)
            .where(model.id == row.id)
            .values(anchor=anchor)
            .execution_options(synchronize_session=False)
        )
        moved[row.id] = anchor
    return moved


def _fill_profile(survivor: Customer, merged: Customer) -> None:
    """The survivor's blanks from the merged profile; the earlier subscription (with its source)
    and the earlier first contact stand, so a merge never restarts a welcome sequence."""
    survivor.email = survivor.email or merged.email
    survivor.first_name = survivor.first_name or merged.first_name
    if merged.subscribed_at is not None and (
        survivor.subscribed_at is None or merged.subscribed_at < survivor.subscribed_at
    ):
        survivor.subscribed_at = merged.subscribed_at
        survivor.signup_source = merged.signup_source or survivor.signup_source
    else:
        survivor.signup_source = survivor.signup_source or merged.signup_source
    survivor.created_at = min(survivor.created_at, merged.created_at)


def _decision(customer: Customer) -> tuple[datetime, bool] | None:
    """A profile's latest consent decision (when, and whether it was a yes), if it made one."""
    if customer.marketing_consent:
        return customer.consent_at or _LONG_AGO, True
    if customer.unsubscribed_at is not None:
        return customer.unsubscribed_at, False
    return None


def _combine_consent(session: Session, *, survivor: Customer, merged: Customer, actor: str) -> int:
    """The newest decision of the two profiles stands, a withdrawal winning a tie: a merge grants
    consent only when the merged profile's yes is newer than anything the survivor decided, and
    a newer no on either side withdraws it (and the drafts waiting for review). Returns how many
    drafts were withdrawn."""
    decisions = [d for d in (_decision(survivor), _decision(merged)) if d is not None]
    if not decisions:
        return 0
    at, consented = max(decisions, key=lambda d: (d[0], not d[1]))
    if consented:
        if not survivor.marketing_consent:
            survivor.marketing_consent, survivor.unsubscribed_at = True, None
            survivor.consent_at = merged.consent_at
        return 0
    survivor.consent_at = survivor.consent_at or merged.consent_at
    withdrawn = set_consent(session, customer=survivor, consent=False, at=at, actor=actor)
    # The latest "no" of either profile, as set_consent keeps an earlier one when consent
    # was already off.
    survivor.unsubscribed_at = max(
        moment for moment in (survivor.unsubscribed_at, merged.unsubscribed_at, at) if moment
    )
    return withdrawn
