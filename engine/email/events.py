"""Provider events stored once each, joined to their draft, and what they mean for the list:
a hard bounce suppresses the address, three soft bounces in 30 days do too, a complaint or a
provider unsubscribe withdraws consent (and the waiting drafts with it)."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.customers.consent import set_consent, withdraw_drafts
from engine.db import in_chunks, insert_ignoring
from engine.email.providers import ProviderEvent
from engine.models import Customer, Draft, EmailEvent, EmailSend, utcnow

SOFT_BOUNCES_TO_SUPPRESS = 3
SOFT_BOUNCE_WINDOW = timedelta(days=30)
# The events that change whether a customer may get email.
LIST_EVENTS = frozenset({"bounced", "complained", "unsubscribed"})


@dataclass
class EventsReport:
    """What one webhook call did: events stored, seen before, or for no draft we sent."""

    stored: int = 0
    duplicates: int = 0
    unknown: int = 0


def _draft_owners(
    session: Session, events: Sequence[ProviderEvent]
) -> tuple[dict[int, str], dict[str, tuple[int, str]]]:
    """The customer of each echoed draft id, and the draft and customer of each Message-ID."""
    ids = sorted({e.draft_id for e in events if e.draft_id is not None})
    by_draft: dict[int, str] = {}
    for chunk in in_chunks(ids):
        drafts = session.execute(select(Draft.id, Draft.customer_id).where(Draft.id.in_(chunk)))
        by_draft.update({draft_id: customer_id for draft_id, customer_id in drafts})
    message_ids = sorted({e.message_id for e in events if e.message_id})
    by_message: dict[str, tuple[int, str]] = {}
    for some in in_chunks(message_ids):
        rows = session.execute(
            select(EmailSend.message_id, EmailSend.draft_id, EmailSend.customer_id).where(
                EmailSend.message_id.in_(some)
            )
        )
        by_message.update({m: (d, c) for m, d, c in rows})
    return by_draft, by_message


def record_events(
    session: Session, events: Sequence[ProviderEvent], *, simulated: bool = False
) -> EventsReport:
    """Store each event once (by provider and event id), joined to its draft by the echoed id
    or the Message-ID; an event for no draft we know is counted and dropped."""
    report = EventsReport()
    by_draft, by_message = _draft_owners(session, events)
    rows: list[dict[str, object]] = []
    owners: dict[tuple[str, str], tuple[ProviderEvent, str]] = {}
    now = utcnow()
    for event in events:
        owner: tuple[int, str] | None = None
        if event.draft_id is not None and event.draft_id in by_draft:
            owner = (event.draft_id, by_draft[event.draft_id])
        elif event.message_id and event.message_id in by_message:
            owner = by_message[event.message_id]
        if owner is None:
            report.unknown += 1
            continue
        key = (event.provider, event.event_id[:200])
        if key in owners:  # the same event twice in one call
            report.duplicates += 1
            continue
        owners[key] = (event, owner[1])
        rows.append(
            {
                "provider": key[0],
                "event_id": key[1],
                "event": event.event,
                "draft_id": owner[0],
                "customer_id": owner[1],
                "bounce": event.bounce,
                "machine": event.machine,
                "url": event.url,
                "occurred_at": event.occurred_at,
                "received_at": now,
                "simulated": simulated,
            }
        )
    if not rows:
        return report
    # One statement for the batch: providers post hundreds of events at a time, and an
    # INSERT per event was what limited the webhook (bench/events.py).
    stored = session.execute(
        insert_ignoring(session, EmailEvent, key=["provider", "event_id"]).returning(
            EmailEvent.provider, EmailEvent.event_id
        ),
        rows,
    ).all()
    report.stored = len(stored)
    report.duplicates += len(rows) - len(stored)
    for provider, event_id in stored:
        event, customer_id = owners[(provider, event_id)]
        if event.event in LIST_EVENTS:
            _apply_to_the_list(session, event, customer_id)
    return report


def _apply_to_the_list(session: Session, event: ProviderEvent, customer_id: str) -> None:
    """What a new event means for whether the customer may get email."""
    customer = session.get(Customer, customer_id)
    if customer is None:
        return
    if event.event in {"complained", "unsubscribed"}:
        reason = "complaint" if event.event == "complained" else "provider unsubscribe"
        set_consent(session, customer=customer, consent=False, at=event.occurred_at, actor=reason)
        return
    if event.event != "bounced" or customer.suppressed_at is not None:
        return
    if event.bounce == "soft":
        since = event.occurred_at - SOFT_BOUNCE_WINDOW
        soft = session.scalar(
            select(func.count(EmailEvent.id)).where(
                EmailEvent.customer_id == customer_id,
                EmailEvent.event == "bounced",
                EmailEvent.bounce == "soft",
                EmailEvent.occurred_at > since,
                EmailEvent.occurred_at <= event.occurred_at,
            )
        )
        if (soft or 0) < SOFT_BOUNCES_TO_SUPPRESS:
            return
        reason = "soft_bounces"
    else:
        reason = "hard_bounce"
    customer.suppressed_at, customer.suppression_reason = event.occurred_at, reason
    withdraw_drafts(session, customer_ids=[customer_id], actor="hygiene", reason=reason)
