"""The sender: approved drafts out, oldest first, through the sending outbox.

Each approved draft gets one `email_sends` row with the Message-ID it will always go out with.
A sender claims a row by pushing its next attempt one lease ahead, re-checks that the customer
may still get email, renders the message, hands it to the transport, and then marks it sent.
A sender killed after the server accepted a message and before that commit leaves the row to be
claimed again when the lease ends: the customer may get the same message twice (with the same
Message-ID, which mail systems use to drop duplicates), and no message is ever lost."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.background import LoopThread
from engine.customers.lifecycle import consenting
from engine.db import Database
from engine.email.keys import link_key
from engine.email.render import Outgoing, Sender, new_message_id, render, sender_domain
from engine.email.transports import (
    SendFailed,
    SmtpTransport,
    Transport,
    WebhookTransport,
    parse_smtp_url,
)
from engine.errors import InvalidInput
from engine.models import Customer, Draft, DraftEvent, EmailSend, SendState, utcnow
from engine.outbox import backoff
from engine.settings import Settings, reveal

# How long a claimed send is this sender's before another may retry it.
LEASE = timedelta(minutes=2)
MAX_ATTEMPTS = 8
ACTOR = "sender"


@dataclass
class SendReport:
    """What one sending pass did."""

    queued: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    withdrawn: int = 0
    errors: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class SenderConfig:
    """What every message needs from the settings, checked once before anything is sent."""

    from_address: str
    reply_to: str | None
    business_address: str
    public_url: str
    shop_url: str | None
    track_clicks: bool
    track_opens: bool = False


def sender_config(settings: Settings) -> SenderConfig:
    """The settings sending needs; InvalidInput names the first one missing."""
    for name in ("email_from", "business_address", "public_url"):
        if not getattr(settings, name):
            raise InvalidInput("is required to send email", field=name.upper())
    assert settings.email_from and settings.business_address and settings.public_url
    return SenderConfig(
        from_address=settings.email_from,
        reply_to=settings.email_reply_to or None,
        business_address=settings.business_address,
        public_url=settings.public_url.rstrip("/"),
        shop_url=settings.shop_url or None,
        track_clicks=settings.track_clicks,
        track_opens=settings.track_opens,
    )


def make_transport(settings: Settings) -> Transport | None:
    """The configured transport, or None when EMAIL_TRANSPORT is `none`."""
    if settings.email_transport == "smtp":
        url = reveal(settings.smtp_url)
        if not url:
            raise InvalidInput("is required when EMAIL_TRANSPORT=smtp", field="SMTP_URL")
        return SmtpTransport(parse_smtp_url(url))
    if settings.email_transport == "webhook":
        if not settings.review_webhook_url:
            raise InvalidInput(
                "is required when EMAIL_TRANSPORT=webhook", field="REVIEW_WEBHOOK_URL"
            )
        return WebhookTransport(settings.review_webhook_url)
    return None


def queue_approved(session: Session, *, config: SenderConfig, transport: str) -> int:
    """Give every approved draft without a send its send row, oldest approval first."""
    waiting = session.scalars(
        select(Draft)
        .where(Draft.status == "approved", Draft.id.not_in(select(EmailSend.draft_id)))
        .order_by(Draft.reviewed_at, Draft.id)
    ).all()
    for draft in waiting:
        session.add(
            EmailSend(
                draft_id=draft.id,
                customer_id=draft.customer_id,
                message_id=new_message_id(draft.id, sender_domain(config.from_address)),
                transport=transport,
            )
        )
    return len(waiting)


@dataclass(frozen=True)
class _Claimed:
    send_id: int
    draft_id: int
    attempts: int


def _claim(db: Database, *, now: datetime) -> _Claimed | None:
    """Lease the oldest due send to this sender, or None."""
    with db.write() as session:
        row = session.execute(
            select(EmailSend.id, EmailSend.draft_id, EmailSend.attempts)
            .where(EmailSend.state == "pending", EmailSend.next_attempt_at <= now)
            .order_by(EmailSend.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            return None
        session.execute(
            update(EmailSend)
            .where(EmailSend.id == row.id)
            .values(attempts=EmailSend.attempts + 1, next_attempt_at=now + LEASE)
        )
    return _Claimed(send_id=row.id, draft_id=row.draft_id, attempts=row.attempts + 1)


def _why_not(session: Session, customer: Customer | None) -> str | None:
    """Why this customer may not get email now (consent, opt-out, suppression, no address)."""
    if customer is None:
        return "customer gone"
    if not customer.email:
        return "no email address"
    allowed = session.scalar(consenting(select(Customer.id)).where(Customer.id == customer.id))
    if allowed is None:
        return "suppressed" if customer.suppressed_at else "no consent"
    return None


def _withdraw(session: Session, send: EmailSend, draft: Draft, reason: str) -> None:
    """Withdraw a send and its draft, with the reason in the draft's audit trail."""
    send.state = "withdrawn"
    send.last_error = reason
    draft.status = "withdrawn"
    session.add(
        DraftEvent(draft_id=draft.id, action="withdrawn", actor=ACTOR, changes={"reason": reason})
    )


def _send_one(
    db: Database,
    claimed: _Claimed,
    *,
    transport: Transport,
    config: SenderConfig,
    key: bytes,
    report: SendReport,
) -> None:
    """Render, check and send one claimed draft, and record the outcome."""
    with db.read() as session:
        send = session.get(EmailSend, claimed.send_id)
        draft = session.get(Draft, claimed.draft_id)
        customer = session.get(Customer, send.customer_id) if send else None
        reason = _why_not(session, customer)
    if send is None or draft is None:
        return
    if reason is not None:
        with db.write() as session:
            _withdraw(
                session,
                session.get_one(EmailSend, send.id),
                session.get_one(Draft, draft.id),
                reason,
            )
        report.withdrawn += 1
        return
    assert customer is not None and customer.email
    message = render(
        Outgoing(
            draft_id=draft.id,
            customer_id=customer.id,
            to=customer.email,
            first_name=customer.first_name,
            subject=draft.subject,
            preheader=draft.preheader,
            body=draft.body,
            message_id=send.message_id,
        ),
        Sender(
            from_address=config.from_address,
            reply_to=config.reply_to,
            business_address=config.business_address,
            public_url=config.public_url,
            shop_url=config.shop_url,
            track_clicks=config.track_clicks,
            track_opens=config.track_opens,
            link_key=key,
        ),
    )
    try:
        if isinstance(transport, SmtpTransport):
            transport.send(message)
    except SendFailed as error:
        _record_failure(db, claimed, error, report)
        return
    now = utcnow()
    with db.write() as session:
        if isinstance(transport, WebhookTransport):
            transport.enqueue(session, message, draft_id=draft.id)
        session.execute(
            update(EmailSend)
            .where(EmailSend.id == send.id)
            .values(state="sent", sent_at=now, last_error=None)
        )
        session.execute(update(Draft).where(Draft.id == draft.id).values(status="sent"))
        session.add(DraftEvent(draft_id=draft.id, action="sent", actor=ACTOR, changes={}))
    report.sent += 1


def _record_failure(db: Database, claimed: _Claimed, error: SendFailed, report: SendReport) -> None:
    """Retry a failed send with backoff, or give up when it is permanent or too often."""
    gave_up = error.permanent or claimed.attempts >= MAX_ATTEMPTS
    values: dict[str, object] = {"last_error": str(error)[:2000]}
    if gave_up:
        values["state"] = "failed"
        report.failed += 1
    else:
        values["next_attempt_at"] = utcnow() + backoff(claimed.attempts)
        report.retrying += 1
    report.errors.append(f"draft {claimed.draft_id}: {error}")
    with db.write() as session:
        session.execute(update(EmailSend).where(EmailSend.id == claimed.send_id).values(**values))


def send_due(
    db: Database,
    *,
    transport: Transport,
    config: SenderConfig,
    limit: int | None = None,
    now: datetime | None = None,
) -> SendReport:
    """Queue the approved drafts, then send what is due, oldest first (at most `limit`)."""
    report = SendReport()
    with db.write() as session:
        report.queued = queue_approved(session, config=config, transport=transport.name)
    key = link_key(db)  # the same for every message: read once a pass
    done = 0
    while limit is None or done < limit:
        claimed = _claim(db, now=now or utcnow())
        if claimed is None:
            break
        _send_one(db, claimed, transport=transport, config=config, key=key, report=report)
        done += 1
    return report


class SenderLoop(LoopThread):
    """Sends due drafts on a thread (in `serve` and `worker`) until stopped; sleeps while
    nothing is due."""

    def __init__(
        self, db: Database, *, transport: Transport, config: SenderConfig, idle_seconds: float = 5.0
    ) -> None:
        super().__init__(name="email-sender", idle_seconds=idle_seconds)
        self._db = db
        self._transport = transport
        self._config = config

    def step(self) -> bool:
        """One pass of at most 100 sends; True when something was sent or tried."""
        report = send_due(self._db, transport=self._transport, config=self._config, limit=100)
        return bool(report.sent or report.retrying or report.failed or report.withdrawn)

    def stop(self, *, timeout: float = 30.0) -> None:
        """Stop the loop, then close the transport's connection."""
        super().stop(timeout=timeout)
        if isinstance(self._transport, SmtpTransport):
            self._transport.close()


def start_sender(db: Database, settings: Settings) -> SenderLoop | None:
    """Start sending in the background when EMAIL_TRANSPORT says how (None when it is `none`);
    a missing setting stops the start with an error that names it."""
    transport = make_transport(settings)
    if transport is None:
        return None
    loop = SenderLoop(db, transport=transport, config=sender_config(settings))
    loop.start()
    return loop


@dataclass(frozen=True)
class SendProblem:
    """A send that failed at least once, or was withdrawn before it went: why, and how often."""

    draft_id: int
    customer_id: str
    state: SendState
    attempts: int
    last_error: str | None
    next_attempt_at: datetime


@dataclass(frozen=True)
class SendingSummary:
    """The sending queue at a glance."""

    # Approved drafts the sender has not picked up yet (no send row: it queues them first).
    approved_not_queued: int
    # Send rows by state; a pending one that failed before is also counted in `retrying`.
    pending: int
    retrying: int
    sent: int
    failed: int
    withdrawn: int
    # The newest sends that failed (for good or for now) or were withdrawn, newest first.
    problems: list[SendProblem]

    @property
    def waiting(self) -> int:
        """Approved drafts not sent yet, queued or not."""
        return self.approved_not_queued + self.pending


def sending_summary(session: Session, *, problems: int = 5) -> SendingSummary:
    """Approved drafts waiting, sends by state, and the newest problems."""
    unqueued = session.scalar(
        select(func.count())
        .select_from(Draft)
        .where(Draft.status == "approved", Draft.id.not_in(select(EmailSend.draft_id)))
    )
    by_state = dict(
        session.execute(select(EmailSend.state, func.count()).group_by(EmailSend.state)).all()
    )
    retrying = session.scalar(
        select(func.count())
        .select_from(EmailSend)
        .where(EmailSend.state == "pending", EmailSend.last_error.is_not(None))
    )
    rows = session.scalars(
        select(EmailSend)
        .where(EmailSend.state != "sent", EmailSend.last_error.is_not(None))
        .order_by(EmailSend.id.desc())
        .limit(problems)
    ).all()
    return SendingSummary(
        approved_not_queued=int(unqueued or 0),
        pending=int(by_state.get("pending", 0)),
        retrying=int(retrying or 0),
        sent=int(by_state.get("sent", 0)),
        failed=int(by_state.get("failed", 0)),
        withdrawn=int(by_state.get("withdrawn", 0)),
        problems=[
            SendProblem(
                draft_id=row.draft_id,
                customer_id=row.customer_id,
                state=row.state,
                attempts=row.attempts,
                last_error=row.last_error,
                next_attempt_at=row.next_attempt_at,
            )
            for row in rows
        ],
    )
