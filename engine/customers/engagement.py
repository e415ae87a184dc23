"""Who has stopped reading: a customer whose last six emails, sent over at least 90 days, drew
no click and no open (machine opens and clicks aside) is `unengaged`, and campaigns leave them
out unless asked to include them; mailing people who never react hurts the sender's reputation
for everyone else."""

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from engine.db import in_chunks
from engine.models import EmailEvent, EmailSend

UNENGAGED_SENDS = 6
UNENGAGED_DAYS = 90


def unengaged(session: Session, *, customer_ids: Sequence[str], as_of: datetime) -> set[str]:
    """The customers among these whose last UNENGAGED_SENDS sends, the earliest of them at least
    UNENGAGED_DAYS before `as_of`, drew no human click or open since that earliest send."""
    found: set[str] = set()
    for chunk in in_chunks(sorted(set(customer_ids))):
        ranked = (
            select(
                EmailSend.customer_id,
                EmailSend.sent_at,
                func.row_number()
                .over(partition_by=EmailSend.customer_id, order_by=EmailSend.sent_at.desc())
                .label("rank"),
            )
            .where(EmailSend.state == "sent", EmailSend.customer_id.in_(chunk))
            .subquery()
        )
        oldest_of_the_last = dict(
            (customer_id, sent_at)
            for customer_id, sent_at in session.execute(
                select(ranked.c.customer_id, ranked.c.sent_at).where(
                    ranked.c.rank == UNENGAGED_SENDS,
                    ranked.c.sent_at <= as_of - timedelta(days=UNENGAGED_DAYS),
                )
            )
        )
        if not oldest_of_the_last:
            continue
        engaged = {
            customer_id
            for customer_id, at in session.execute(
                select(EmailEvent.customer_id, func.max(EmailEvent.occurred_at))
                .where(
                    EmailEvent.customer_id.in_(list(oldest_of_the_last)),
                    EmailEvent.event.in_(("clicked", "opened")),
                    EmailEvent.machine.is_(False),
                )
                .group_by(EmailEvent.customer_id)
            )
            if at is not None and at >= oldest_of_the_last[customer_id]
        }
        found |= set(oldest_of_the_last) - engaged
    return found
