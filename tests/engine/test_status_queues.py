"""The status page's counts: the processing queue, what the chats gave (facts, opt-outs,
blocked candidates, drafts by status), the review webhook outbox and the sending queue."""

from datetime import timedelta

from sqlalchemy import select, update

from engine.db import Database
from engine.email.sender import sending_summary
from engine.models import (
    BlockedCandidate,
    Draft,
    EmailSend,
    Message,
    WebhookDelivery,
    utcnow,
)
from engine.outbox import enqueue, enqueue_event, outbox_summary
from engine.status import read_findings, read_processing_queue
from tests.builders import approved_drafts, chat, customer, fact, shop


def test_the_processing_queue_counts_customer_messages_by_state(db: Database) -> None:
    with db.read() as session:
        empty = read_processing_queue(session)
    assert (empty.pending, empty.claimed, empty.processed, empty.failed) == (0, 0, 0, 0)
    assert empty.oldest_waiting_since is None and empty.waiting == 0
    customer(db, "c1")
    for days in (1, 2, 3, 4):
        chat(db, "c1", days_ago=days)
    chat(db, "c1", days_ago=5, role="agent")  # skipped: never in the queue
    with db.write() as session:
        ids = list(
            session.scalars(
                select(Message.id).where(Message.role == "customer").order_by(Message.id)
            )
        )
        session.execute(update(Message).where(Message.id == ids[0]).values(state="claimed"))
        session.execute(update(Message).where(Message.id == ids[1]).values(state="processed"))
        session.execute(update(Message).where(Message.id == ids[2]).values(state="failed"))
    with db.read() as session:
        queue = read_processing_queue(session)
        oldest = session.scalar(select(Message.received_at).where(Message.id == ids[0]))
    assert (queue.pending, queue.claimed, queue.processed, queue.failed) == (1, 1, 1, 1)
    assert queue.waiting == 2
    assert queue.oldest_waiting_since == oldest


def test_findings_count_facts_opt_outs_blocked_and_every_draft_status(db: Database) -> None:
    with db.read() as session:
        empty = read_findings(session)
    assert (empty.facts, empty.opt_outs, empty.blocked) == (0, 0, 0)
    assert set(empty.drafts.values()) == {0} and "needs_attention" in empty.drafts
    shop(db)  # one kept fact
    fact(db, "c1", "opt_out", "grinders", "please don't email me about grinders")
    approved_drafts(db, "c4")  # welcome drafts for c1 and c2 too (new subscribers)
    with db.write() as session:
        message_id = session.scalars(select(Message.id)).first()
        session.add(
            BlockedCandidate(customer_id="c1", message_id=message_id, reason="sensitive", count=3)
        )
    with db.read() as session:
        found = read_findings(session)
        statuses = list(session.scalars(select(Draft.status)))
    assert (found.facts, found.opt_outs, found.blocked) == (1, 1, 3)
    assert found.drafts["approved"] == 1
    assert sum(found.drafts.values()) == len(statuses)
    assert found.drafts["pending_review"] + found.drafts["needs_attention"] == len(statuses) - 1


def test_the_outbox_summary_splits_waiting_retrying_delivered_and_failed(db: Database) -> None:
    drafts = approved_drafts(db, "c1", "c2", "c3", "c4")
    with db.write() as session:
        for draft_id in drafts:
            enqueue(session, draft_id=draft_id, event="draft.created", payload={}, url="http://x")
        enqueue_event(session, key="erased-1", event="drafts.erased", payload={}, url="http://x")
        rows = list(session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)))
        rows[1].attempts, rows[1].last_error = 2, "HTTP 503: busy"
        rows[2].state, rows[2].attempts, rows[2].delivered_at = "delivered", 1, utcnow()
        rows[3].state, rows[3].attempts, rows[3].last_error = "failed", 10, "HTTP 500: down"
        rows[0].created_at = utcnow() - timedelta(days=1)
    with db.read() as session:
        summary = outbox_summary(session)
        oldest = session.get_one(WebhookDelivery, rows[0].id).created_at
    assert (summary.waiting, summary.retrying, summary.delivered, summary.failed) == (2, 1, 1, 1)
    assert summary.oldest_waiting_since == oldest
    # Newest first; the delivered and the never-failed ones are no problem.
    assert [(p.draft_id, p.state, p.last_error) for p in summary.problems] == [
        (drafts[3], "failed", "HTTP 500: down"),
        (drafts[1], "pending", "HTTP 503: busy"),
    ]
    with db.read() as session:
        assert len(outbox_summary(session, problems=1).problems) == 1


def test_the_sending_summary_counts_approved_drafts_and_sends_by_state(db: Database) -> None:
    drafts = approved_drafts(db, "c1", "c2", "c3", "c4", "c5", "c6")
    states = [
        ("pending", None),
        ("pending", "421 try later"),
        ("sent", None),
        ("failed", "550 no such user"),
        ("withdrawn", "no consent"),
    ]
    with db.write() as session:
        for draft_id, (state, error) in zip(drafts, states, strict=False):
            customer_id = session.get_one(Draft, draft_id).customer_id
            session.add(
                EmailSend(
                    draft_id=draft_id,
                    customer_id=customer_id,
                    message_id=f"<{draft_id}@test>",
                    transport="smtp",
                    state=state,
                    attempts=0 if error is None else 1,
                    last_error=error,
                )
            )
    with db.read() as session:
        summary = sending_summary(session)
    # The sixth approved draft has no send row yet.
    assert summary.approved_not_queued == 1
    assert (summary.pending, summary.retrying, summary.sent) == (2, 1, 1)
    assert (summary.failed, summary.withdrawn) == (1, 1)
    assert summary.waiting == 3
    assert [(p.draft_id, p.state, p.last_error) for p in summary.problems] == [
        (drafts[4], "withdrawn", "no consent"),
        (drafts[3], "failed", "550 no such user"),
        (drafts[1], "pending", "421 try later"),
    ]
