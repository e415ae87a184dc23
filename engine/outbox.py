"""The review webhook outbox: draft events are queued in SQL in the same transaction as the
draft, then POSTed (signed, with an idempotency key) by a deliverer that retries with
exponential backoff until the receiver answers 2xx."""

import hashlib
import hmac
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Literal

import httpx
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from engine.background import LoopThread
from engine.db import Database, in_chunks, insert_ignoring_conflicts
from engine.models import WebhookDelivery, utcnow

log = logging.getLogger(__name__)

# The events the review webhook receiver gets: a new draft; a draft it holds withdrawn (the
# customer unsubscribed); drafts it holds erased with their customer (ids only).
DRAFT_CREATED = "draft.created"
DRAFT_WITHDRAWN = "draft.withdrawn"
DRAFTS_ERASED = "drafts.erased"

SIGNATURE_HEADER = "X-Signature-SHA256"
IDEMPOTENCY_HEADER = "Idempotency-Key"
USER_AGENT = "personalize-review-webhook/0.1"
# After this many attempts a delivery is `failed`; with the backoff below that is about
# 10 + 20 + ... + 1280 s and then 2 hourly tries: roughly 2.7 hours of trying.
MAX_ATTEMPTS = 10
BACKOFF_BASE = timedelta(seconds=10)
BACKOFF_CAP = timedelta(hours=1)
# How long a claimed delivery is held for its deliverer. It must outlast one HTTP call
# (the client's timeout, 10 s by default) by a wide margin, or a slow send would be sent
# again by another deliverer; a deliverer that crashed mid-send is retried after it.
LEASE = timedelta(seconds=60)
# Enough of an error answer to tell what went wrong, not a whole HTML error page.
ERROR_TEXT_LIMIT = 500


def sign(body: bytes, secret: str) -> str:
    """The hex HMAC-SHA256 of the body, keyed with the secret."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def signature_matches(body: bytes, secret: str, presented: str) -> bool:
    """Whether `presented` is the body's signature under the secret (in constant time)."""
    # Compared as bytes: compare_digest refuses non-ASCII str, and a header can hold anything.
    expected = sign(body, secret).encode("ascii")
    return hmac.compare_digest(expected, presented.strip().lower().encode("utf-8"))


def idempotency_key(*, draft_id: int, event: str) -> str:
    """The key that makes one draft event one delivery, however often it is enqueued."""
    return f"draft-{draft_id}-{event}"


def _json_default(value: object) -> str:
    """Timestamps in a payload become ISO 8601; anything else unknown is a caller's bug."""
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def serialize_payload(payload: dict[str, Any], *, key: str, event: str) -> str:
    """The exact text that is signed and sent: compact JSON with sorted keys."""
    document = {**payload, "idempotency_key": key, "event": event}
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=_json_default)


def enqueue(
    session: Session, *, draft_id: int, event: str, payload: dict[str, Any], url: str
) -> WebhookDelivery:
    """Queue one draft event for delivery in the caller's transaction (once per draft/event)."""
    key = idempotency_key(draft_id=draft_id, event=event)
    return enqueue_event(session, key=key, event=event, payload=payload, url=url, draft_id=draft_id)


def enqueue_event(
    session: Session,
    *,
    key: str,
    event: str,
    payload: dict[str, Any],
    url: str,
    draft_id: int | None = None,
    not_before: datetime | None = None,
) -> WebhookDelivery:
    """Queue one event under its idempotency key in the caller's transaction (once per key),
    to be sent no earlier than `not_before`."""
    now = utcnow()
    # ON CONFLICT DO NOTHING, not select-then-insert: two writers enqueueing the same event
    # at once on PostgreSQL must not fail the caller's transaction on the unique key.
    insert_ignoring_conflicts(
        session,
        WebhookDelivery,
        {
            "draft_id": draft_id,
            "idempotency_key": key,
            "url": url,
            # Serialised once, here: every retry sends these bytes and the same signature.
            "payload": serialize_payload(payload, key=key, event=event),
            "state": "pending",
            "attempts": 0,
            "next_attempt_at": max(now, not_before) if not_before else now,
            "created_at": now,
        },
        key=["idempotency_key"],
    )
    return session.scalars(
        select(WebhookDelivery).where(WebhookDelivery.idempotency_key == key)
    ).one()


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed attempt: 10 s doubling, at most 1 hour."""
    # The exponent is capped first so a huge attempt count cannot overflow timedelta.
    exponent = min(max(attempts - 1, 0), 20)
    return min(BACKOFF_BASE * (1 << exponent), BACKOFF_CAP)


@dataclass
class DeliveryReport:
    """What one deliver_due call did."""

    delivered: int = 0
    retrying: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        """How many deliveries this call finished with (one way or another)."""
        return self.delivered + self.retrying + self.failed


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery leased to one deliverer for one attempt."""

    id: int
    url: str
    payload: str
    idempotency_key: str
    attempts: int


def _clock(now: datetime | None) -> Callable[[], datetime]:
    """A fixed time when the caller gives one (tests step it), else the wall clock."""
    if now is None:
        return utcnow
    return lambda: now


def _due(now: datetime) -> Any:
    """The SQL condition of a pending delivery whose time has come."""
    return (WebhookDelivery.state == "pending") & (WebhookDelivery.next_attempt_at <= now)


def claim_due(
    db: Database, *, now: datetime | None = None, lease: timedelta = LEASE
) -> ClaimedDelivery | None:
    """Lease the next due delivery to this deliverer (one attempt), or None if none is due."""
    if now is None:
        now = utcnow()
    with db.write() as session:
        # SKIP LOCKED: deliverers in other processes claim different rows instead of queueing
        # on the same one; SQLite has a single writer and ignores it.
        row = session.execute(
            select(
                WebhookDelivery.id,
                WebhookDelivery.url,
                WebhookDelivery.payload,
                WebhookDelivery.idempotency_key,
                WebhookDelivery.attempts,
            )
            .where(_due(now), WebhookDelivery.attempts < MAX_ATTEMPTS)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        ).first()
        if row is None:
            return None
        # The attempt is counted and the row pushed out of `due` before anything is sent: a
        # second deliverer skips it, and if this one dies mid-send it is retried after the lease.
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.id == row.id)
            .values(attempts=WebhookDelivery.attempts + 1, next_attempt_at=now + lease)
        )
    return ClaimedDelivery(
        id=row.id,
        url=row.url,
        payload=row.payload,
        idempotency_key=row.idempotency_key,
        attempts=row.attempts + 1,
    )


def _give_up_exhausted(db: Database, *, now: datetime) -> int:
    """Fail the deliveries whose last allowed attempt was claimed but never recorded."""
    # Only a deliverer that died mid-send on its last attempt leaves such a row behind.
    with db.write() as session:
        result = session.execute(
            update(WebhookDelivery)
            .where(_due(now), WebhookDelivery.attempts >= MAX_ATTEMPTS)
            .values(state="failed", last_error="gave up: the last attempt never finished")
        )
        count = int(getattr(result, "rowcount", 0) or 0)
    if count:
        log.error("gave up on %d webhook deliveries after %d attempts", count, MAX_ATTEMPTS)
    return count


@dataclass(frozen=True)
class _Outcome:
    """What the receiver said: an HTTP status, or no answer at all."""

    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def _send(client: httpx.Client, claimed: ClaimedDelivery, *, secret: str | None) -> _Outcome:
    """POST the stored payload bytes once; never raises."""
    body = claimed.payload.encode("utf-8")
    headers = {
        "Content-Type": "application/json",
        IDEMPOTENCY_HEADER: claimed.idempotency_key,
        "User-Agent": USER_AGENT,
    }
    # An empty secret signs nothing a receiver could trust, so it counts as no secret.
    if secret:
        headers[SIGNATURE_HEADER] = sign(body, secret)
    try:
        response = client.post(claimed.url, content=body, headers=headers)
    except Exception as exc:
        # Timeouts, refused connections, bad URLs, a closed client: all are a failed attempt
        # of this row, retried later, never a reason to stop delivering the others.
        return _Outcome(status=None, error=f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LIMIT])
    if 200 <= response.status_code < 300:
        return _Outcome(status=response.status_code, error=None)
    detail = f"HTTP {response.status_code}: {response.text}".strip()
    return _Outcome(status=response.status_code, error=detail[:ERROR_TEXT_LIMIT])


def _record(
    db: Database, claimed: ClaimedDelivery, outcome: _Outcome, *, now: datetime
) -> Literal["delivered", "retrying", "failed"]:
    """Store how the attempt went: delivered, retry after a backoff, or failed for good."""
    with db.write() as session:
        if outcome.ok:
            # The receiver has it, whoever else may also be sending it (after a lost lease).
            session.execute(
                update(WebhookDelivery)
                .where(WebhookDelivery.id == claimed.id, WebhookDelivery.state == "pending")
                .values(
                    state="delivered",
                    delivered_at=now,
                    last_status=outcome.status,
                    last_error=None,
                )
            )
            return "delivered"
        exhausted = claimed.attempts >= MAX_ATTEMPTS
        values: dict[str, Any] = {"last_status": outcome.status, "last_error": outcome.error}
        if exhausted:
            values["state"] = "failed"
        else:
            values["next_attempt_at"] = now + backoff(claimed.attempts)
        # Matching on attempts: if our lease ran out and another deliverer claimed the row,
        # its lease stands and our late failure must not reschedule it.
        session.execute(
            update(WebhookDelivery)
            .where(
                WebhookDelivery.id == claimed.id,
                WebhookDelivery.state == "pending",
                WebhookDelivery.attempts == claimed.attempts,
            )
            .values(**values)
        )
    if exhausted:
        log.error(
            "webhook delivery %d failed for good after %d attempts: %s",
            claimed.id,
            claimed.attempts,
            outcome.error,
        )
        return "failed"
    log.warning(
        "webhook delivery %d attempt %d failed, retrying in %s: %s",
        claimed.id,
        claimed.attempts,
        backoff(claimed.attempts),
        outcome.error,
    )
    return "retrying"


def deliver_due(
    db: Database,
    *,
    client: httpx.Client,
    secret: str | None,
    now: datetime | None = None,
    limit: int = 50,
) -> DeliveryReport:
    """Send up to `limit` due deliveries, one at a time, and record each outcome."""
    clock = _clock(now)
    report = DeliveryReport()
    # A read first: an idle outbox (the usual case, polled every few seconds) must not take
    # SQLite's write lock away from the pipeline.
    with db.read() as session:
        waiting = session.scalar(select(WebhookDelivery.id).where(_due(clock())).limit(1))
    if waiting is None:
        return report
    report.failed += _give_up_exhausted(db, now=clock())
    for _ in range(limit):
        # One row per claim, right before its send: a batch claimed at once could outlive its
        # lease while the rows ahead of it wait on slow receivers.
        claimed = claim_due(db, now=clock())
        if claimed is None:
            break
        # No transaction is open here: a slow receiver never holds a lock.
        outcome = _send(client, claimed, secret=secret)
        result = _record(db, claimed, outcome, now=clock())
        setattr(report, result, getattr(report, result) + 1)
    return report


def make_client(*, timeout: float = 10.0) -> httpx.Client:
    """An HTTP client for the deliverer; redirects are not followed (a 3xx is a failure)."""
    return httpx.Client(timeout=timeout, follow_redirects=False)


class OutboxDeliverer(LoopThread):
    """Delivers the outbox on a thread: every `interval` seconds, or at once when woken."""

    def __init__(
        self,
        db: Database,
        *,
        secret: str | None,
        client: httpx.Client | None = None,
        interval: float = 2.0,
        limit: int = 50,
    ) -> None:
        super().__init__(name="webhook-outbox", idle_seconds=interval)
        self._db = db
        # A client handed in belongs to the caller; one built here is closed on stop.
        self._owns_client = client is None
        self._client = client if client is not None else make_client()
        self._secret = secret
        self._limit = limit

    def step(self) -> bool:
        """Deliver what is due; a full batch means more may be due right now."""
        report = deliver_due(self._db, client=self._client, secret=self._secret, limit=self._limit)
        return report.total >= self._limit

    def stop(self, *, timeout: float = 30.0) -> None:
        """Finish the current batch, then stop; closes the HTTP client if it built it."""
        super().stop(timeout=timeout)
        # Closing under a thread still mid-send would only fail that attempt (it is retried),
        # but there is no reason to: a late thread keeps its client.
        if self._owns_client and not self.alive:
            self._client.close()


class DeliveryState(BaseModel):
    """How a draft's newest webhook delivery stands."""

    model_config = ConfigDict(from_attributes=True)

    state: Literal["pending", "delivered", "failed"]
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime
    delivered_at: datetime | None


def delivery_states(session: Session, *, draft_ids: Sequence[int]) -> dict[int, DeliveryState]:
    """The newest delivery of each draft that has one, by draft id."""
    states: dict[int, DeliveryState] = {}
    ids = list(dict.fromkeys(draft_ids))
    for chunk in in_chunks(ids):
        rows = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.draft_id.in_(chunk))
            # Ascending ids: the last row seen per draft is its newest (ids only grow).
            .order_by(WebhookDelivery.draft_id, WebhookDelivery.id)
        )
        for row in rows:
            if row.draft_id is not None:  # always, by the filter; an erasure event names none
                states[row.draft_id] = DeliveryState.model_validate(row)
    return states


@dataclass(frozen=True)
class DeliveryProblem:
    """A delivery that failed at least once: still being retried, or given up on."""

    id: int
    draft_id: int | None
    state: str
    attempts: int
    last_status: int | None
    last_error: str | None
    next_attempt_at: datetime
    created_at: datetime


@dataclass(frozen=True)
class OutboxSummary:
    """The review webhook queue at a glance."""

    # Pending and never tried yet, or tried and failed and waiting for the next try.
    waiting: int
    retrying: int
    delivered: int
    failed: int
    oldest_waiting_since: datetime | None
    # The newest deliveries that failed at least once and are not delivered, newest first.
    problems: list[DeliveryProblem]


def outbox_summary(session: Session, *, problems: int = 5) -> OutboxSummary:
    """Deliveries waiting, retrying, delivered and failed, and the newest problems."""
    pending = WebhookDelivery.state == "pending"
    tried = WebhookDelivery.attempts > 0
    waiting, retrying, delivered, failed = session.execute(
        select(
            func.count().filter(pending, ~tried),
            func.count().filter(pending, tried),
            func.count().filter(WebhookDelivery.state == "delivered"),
            func.count().filter(WebhookDelivery.state == "failed"),
        )
    ).one()
    oldest = session.scalar(select(func.min(WebhookDelivery.created_at)).where(pending))
    rows = session.scalars(
        select(WebhookDelivery)
        .where(WebhookDelivery.state != "delivered", WebhookDelivery.last_error.is_not(None))
        .order_by(WebhookDelivery.id.desc())
        .limit(problems)
    ).all()
    return OutboxSummary(
        waiting=int(waiting or 0),
        retrying=int(retrying or 0),
        delivered=int(delivered or 0),
        failed=int(failed or 0),
        oldest_waiting_since=oldest,
        problems=[
            DeliveryProblem(
                id=row.id,
                draft_id=row.draft_id,
                state=row.state,
                attempts=row.attempts,
                last_status=row.last_status,
                last_error=row.last_error,
                next_attempt_at=row.next_attempt_at,
                created_at=row.created_at,
            )
            for row in rows
        ],
    )
