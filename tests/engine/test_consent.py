"""Consent: a withdrawal (unsubscribe, an update, an import, a chat "unsubscribe me") takes the
customer's waiting drafts out of the review queue, and no draft is ever stored for a customer
without consent, not even one drafted while they unsubscribed."""

import json
from collections.abc import Sequence
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from chat_ingest.schemas import CustomerCreate
from chat_ingest.service import upsert_customer
from engine.customers.consent import unsubscribe
from engine.db import Database
from engine.drafting.base import DraftContent, DraftFailed, DraftRequest
from engine.drafting.review import approve, list_drafts
from engine.drafting.service import NoConsentError, draft_one, run_campaign
from engine.drafting.templates import TemplateDrafter
from engine.errors import NotFoundError
from engine.facts.optouts import ALL_MARKETING
from engine.models import REVIEWABLE, Draft, DraftEvent, WebhookDelivery, utcnow
from engine.outbox import deliver_due, signature_matches
from engine.runtime import Services
from tests.builders import AS_OF, converse, customer, fact, shop
from tests.servers import recording_transport

URL = "http://127.0.0.1:9/review"


def statuses(db: Database) -> dict[str, str]:
    """Each customer's draft status (one draft each in these tests)."""
    with db.read() as session:
        return {d.customer_id: d.status for d in session.scalars(select(Draft))}


def drafted(db: Database) -> None:
    """Welcome drafts for c1 and c2; c1's approved, c2's waiting."""
    shop(db)
    run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t")
    with db.write() as session:
        first = next(d for d in list_drafts(session) if d.customer_id == "c1")
        approve(session, draft_id=first.id, actor="reviewer")


def test_unsubscribing_withdraws_waiting_drafts_and_keeps_reviewed_ones(db: Database) -> None:
    drafted(db)
    customer(db, "c4", subscribed_days_ago=1)
    run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t")
    with db.write() as session:
        session.execute(
            update(Draft).where(Draft.customer_id == "c4").values(status="needs_attention")
        )
    with db.write() as session:
        assert unsubscribe(session, customer_id="c2", actor="ops") == 1
        assert unsubscribe(session, customer_id="c4", actor="ops") == 1
        assert unsubscribe(session, customer_id="c1", actor="ops") == 0
    assert statuses(db) == {"c1": "approved", "c2": "withdrawn", "c4": "withdrawn"}
    with db.read() as session:
        events = session.scalars(select(DraftEvent).where(DraftEvent.action == "withdrawn")).all()
        waiting = list_drafts(session, statuses=REVIEWABLE)
    assert sorted(e.actor for e in events) == ["ops", "ops"]
    assert all(e.changes == {"reason": "consent withdrawn"} for e in events)
    assert [d.customer_id for d in waiting] == []
    # Repeating it changes nothing; an unknown customer is a clear error.
    with db.write() as session:
        assert unsubscribe(session, customer_id="c2", actor="ops") == 0
    with db.write() as session, pytest.raises(NotFoundError):
        unsubscribe(session, customer_id="nobody", actor="ops")


def test_a_customer_update_or_import_without_consent_withdraws_drafts(db: Database) -> None:
    drafted(db)
    with db.write() as session:
        upsert_customer(
            session,
            customer=CustomerCreate(id="c2", marketing_consent=False),
            actor="shop-sync",
        )
    assert statuses(db)["c2"] == "withdrawn"
    with db.read() as session:
        event = session.scalars(select(DraftEvent).where(DraftEvent.action == "withdrawn")).one()
    assert event.actor == "shop-sync"


def test_no_draft_for_an_unsubscribed_customer_even_after_consent_was_given(db: Database) -> None:
    shop(db)
    with db.write() as session:
        unsubscribe(session, customer_id="c1", actor="ops")
    report = run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t")
    assert report.created == 1 and statuses(db) == {"c2": "pending_review"}
    with pytest.raises(NoConsentError):
        draft_one(db, drafter=TemplateDrafter(), customer_id="c1", kind="welcome", actor="t")


class UnsubscribingDrafter:
    """Templates, but the customer unsubscribes while their draft is being written."""

    name = "template"

    def __init__(self, db: Database, customer_id: str) -> None:
        self.db = db
        self.customer_id = customer_id
        self.inner = TemplateDrafter()

    def draft_many(self, requests: Sequence[DraftRequest]) -> list[DraftContent | DraftFailed]:
        with self.db.write() as session:
            unsubscribe(session, customer_id=self.customer_id, actor="customer")
        return self.inner.draft_many(requests)


def test_a_draft_written_while_the_customer_unsubscribed_is_not_stored(db: Database) -> None:
    shop(db)
    report = run_campaign(
        db, drafter=UnsubscribingDrafter(db, "c1"), kind="welcome", as_of=AS_OF, actor="t"
    )
    assert (report.due, report.created, report.lost_consent) == (2, 1, 1)
    assert statuses(db) == {"c2": "pending_review"}
    with pytest.raises(NoConsentError, match="withdrew consent"):
        draft_one(
            db, drafter=UnsubscribingDrafter(db, "c2"), customer_id="c2", kind="welcome", actor="t"
        )


def test_asking_in_a_chat_to_unsubscribe_stops_drafts_being_stored(db: Database) -> None:
    shop(db)
    fact(db, "c1", "opt_out", ALL_MARKETING, "please stop emailing me")
    report = run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t")
    assert report.created == 1 and statuses(db) == {"c2": "pending_review"}


def test_a_chat_unsubscribe_withdraws_waiting_drafts_when_processed(services: Services) -> None:
    db = services.db
    shop(db)
    run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t")
    converse(db, "c2", "conv-stop", [("customer", "Please unsubscribe me from your emails.")])
    services.pipeline().run_until_idle()
    assert statuses(db) == {"c1": "pending_review", "c2": "withdrawn"}
    with db.read() as session:
        event = session.scalars(select(DraftEvent).where(DraftEvent.action == "withdrawn")).one()
    assert (event.actor, event.changes) == ("chat", {"reason": "asked in a chat"})


def test_the_review_webhook_receiver_hears_of_withdrawn_drafts_it_holds(db: Database) -> None:
    """A draft the receiver was sent is followed by a signed `draft.withdrawn` event; one it was
    never sent is not sent at all."""
    shop(db)
    customer(db, "c4", subscribed_days_ago=1)
    run_campaign(
        db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t", webhook_url=URL
    )
    with db.read() as session:
        ids = {d.customer_id: d.id for d in list_drafts(session)}
    received: list[httpx.Request] = []
    http = httpx.Client(transport=recording_transport(received))
    # c2's draft reaches the receiver; c4's is still queued when c4 unsubscribes.
    with db.write() as session:
        session.execute(
            update(WebhookDelivery)
            .where(WebhookDelivery.draft_id == ids["c4"])
            .values(next_attempt_at=utcnow() + timedelta(hours=1))
        )
    deliver_due(db, client=http, secret="s")
    assert {json.loads(r.content)["draft"]["id"] for r in received} >= {ids["c2"]}
    assert ids["c4"] not in {json.loads(r.content)["draft"]["id"] for r in received}
    received.clear()

    with db.write() as session:
        unsubscribe(session, customer_id="c2", actor="ops")
        unsubscribe(session, customer_id="c4", actor="ops")
    report = deliver_due(db, client=http, secret="s", now=utcnow() + timedelta(hours=2))

    assert report.delivered == 1
    (request,) = received
    body = json.loads(request.content)
    assert body["event"] == "draft.withdrawn"
    assert body["draft"] == {"id": ids["c2"], "status": "withdrawn", "reason": "consent withdrawn"}
    assert signature_matches(request.content, "s", request.headers["X-Signature-SHA256"])
    with db.read() as session:
        left = session.scalars(
            select(WebhookDelivery.idempotency_key).where(WebhookDelivery.draft_id == ids["c4"])
        ).all()
    assert left == []  # never sent, so nothing to take back
