"""Marketing consent: recording a change, and withdrawing the drafts of a customer who left
(the same withdrawal takes back a post-purchase draft whose order stopped being a purchase)."""

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from engine.errors import NotFoundError
from engine.models import REVIEWABLE, Customer, Draft, DraftEvent, WebhookDelivery, utcnow
from engine.outbox import DRAFT_CREATED, DRAFT_WITHDRAWN, enqueue, idempotency_key


def set_consent(
    session: Session, *, customer: Customer, consent: bool, at: datetime, actor: str
) -> int:
    """Record a change of marketing consent, with when it happened; a withdrawal also takes the
    customer's drafts out of the review queue. Returns how many drafts were withdrawn."""
    if consent and not customer.marketing_consent:
        customer.marketing_consent, customer.consent_at, customer.unsubscribed_at = True, at, None
    elif not consent:
        if customer.marketing_consent:
            customer.marketing_consent, customer.unsubscribed_at = False, at
        # Also when consent was already off: a draft made under an earlier consent must not
        # outlive a second "no".
        return withdraw_drafts(
            session, customer_ids=[customer.id], actor=actor, reason="consent withdrawn"
        )
    return 0


def unsubscribe(session: Session, *, customer_id: str, actor: str) -> int:
    """Withdraw a customer's marketing consent now; returns how many drafts were withdrawn."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise NotFoundError(f"no customer {customer_id!r}")
    return set_consent(session, customer=customer, consent=False, at=utcnow(), actor=actor)


def withdraw_drafts(
    session: Session,
    *,
    customer_ids: Iterable[str],
    actor: str,
    reason: str,
    anchor: str | None = None,
) -> int:
    """Move the customers' drafts still waiting for review to `withdrawn` (only those answering
    `anchor`, when given: the order a post-purchase draft follows), each with an audit row;
    approved and rejected drafts keep their history as it was."""
    ids = sorted(set(customer_ids))
    if not ids:
        return 0
    query = select(Draft.id).where(Draft.customer_id.in_(ids), Draft.status.in_(REVIEWABLE))
    if anchor is not None:
        query = query.where(Draft.anchor == anchor)
    waiting = list(session.scalars(query))
    if not waiting:
        return 0
    now = utcnow()
    session.execute(
        update(Draft)
        .where(Draft.id.in_(waiting), Draft.status.in_(REVIEWABLE))
        .values(status="withdrawn", reviewed_at=now, reviewed_by=actor)
        .execution_options(synchronize_session=False)
    )
    session.add_all(
        DraftEvent(draft_id=draft_id, action="withdrawn", actor=actor, changes={"reason": reason})
        for draft_id in waiting
    )
    _tell_the_review_webhook(session, draft_ids=waiting, reason=reason, at=now)
    return len(waiting)


def _tell_the_review_webhook(
    session: Session, *, draft_ids: list[int], reason: str, at: datetime
) -> None:
    """A withdrawn draft the review webhook receiver was never sent is not sent now; one it was
    (or may have been) sent is followed by a `draft.withdrawn` event to the same receiver."""
    created = {idempotency_key(draft_id=i, event=DRAFT_CREATED): i for i in draft_ids}
    # `attempts == 0` in the statement itself: a delivery a deliverer has just claimed (and
    # may be sending) has its attempt counted and stays.
    session.execute(
        delete(WebhookDelivery)
        .where(
            WebhookDelivery.idempotency_key.in_(created),
            WebhookDelivery.state == "pending",
            WebhookDelivery.attempts == 0,
        )
        .execution_options(synchronize_session=False)
    )
    sent = session.execute(
        select(WebhookDelivery.idempotency_key, WebhookDelivery.url).where(
            WebhookDelivery.idempotency_key.in_(created)
        )
    ).all()
    for key, url in sent:
        draft_id = created[key]
        payload = {"draft": {"id": draft_id, "status": "withdrawn", "reason": reason}, "at": at}
        enqueue(session, draft_id=draft_id, event=DRAFT_WITHDRAWN, payload=payload, url=url)
