"""Campaigns and single drafts: who gets drafted, idempotency, the grounding check's retry for a
model's drafts, needs_attention, the evidence stored for the reviewer, and the webhook outbox
row written with the draft."""

from collections.abc import Sequence
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine.db import Database
from engine.drafting.base import DraftContent, DraftFailed, DraftRequest, Evidence
from engine.drafting.review import get_draft, list_drafts
from engine.drafting.service import NoConsentError, draft_one, run_campaign
from engine.drafting.templates import TemplateDrafter
from engine.errors import ConflictError, NotFoundError
from engine.models import Draft, DraftEvent, WebhookDelivery
from tests.builders import AS_OF, chat, customer, fact, order, shop


class ScriptedModel:
    """A stand-in for a model drafter: answers from a script, records what it was asked."""

    name = "scripted"

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers
        self.requests: list[DraftRequest] = []

    def draft_many(self, requests: Sequence[DraftRequest]) -> list[DraftContent | DraftFailed]:
        outcomes: list[DraftContent | DraftFailed] = []
        for request in requests:
            self.requests.append(request)
            answer = self.answers.pop(0)
            if answer == "fail":
                outcomes.append(DraftFailed(key=request.key, error="overloaded"))
                continue
            body = f"Hi {request.context.first_name},\n\n{answer}\n\nThe team"
            outcomes.append(
                DraftContent(
                    subject="Hello",
                    preheader="A note from us",
                    body=body,
                    fact_ids=[f.id for f in request.context.facts],
                    evidence=[
                        Evidence(sentence=answer, fact_ids=[f.id for f in request.context.facts])
                    ],
                    drafter="scripted",
                    template="scripted.v1",
                    model="scripted-model",
                )
            )
        return outcomes


def test_a_campaign_drafts_everyone_due_once(db: Database) -> None:
    fact_id = shop(db)
    progress: list[tuple[int, int]] = []
    report = run_campaign(
        db,
        drafter=TemplateDrafter(),
        kind="welcome",
        as_of=AS_OF,
        actor="tester",
        on_progress=lambda done, total: progress.append((done, total)),
    )
    assert (report.due, report.created, report.needs_attention) == (2, 2, 0)
    assert progress[0] == (0, 2) and progress[-1] == (2, 2)
    again = run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t")
    assert (again.due, again.created) == (0, 0)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Draft)) == 2
        drafts = {d.customer_id: d for d in list_drafts(session)}
        maya = get_draft(session, draft_id=drafts["c1"].id)
    assert maya.status == "pending_review"
    assert maya.drafter == "template" and maya.template.startswith("welcome.d0.v1")
    assert maya.context.customer_id == "c1"
    assert maya.original == {
        "subject": maya.subject,
        "preheader": maya.preheader,
        "body": maya.body,
    }
    assert [e.action for e in maya.history] == ["created"]
    assert maya.history[0].actor == "tester"
    # The reviewer sees the customer's own words behind the sentence that uses them.
    quoted = [f for e in maya.evidence for f in e.facts]
    assert [f.id for f in quoted] == [fact_id]
    assert quoted[0].quote == "I run a small bakery"
    assert all(e.sentence in maya.body or e.sentence in maya.subject for e in maya.evidence)


def test_template_drafts_of_every_kind_pass_the_grounding_check(db: Database) -> None:
    shop(db)
    customer(db, "buyer")
    order(db, "o1", "buyer", days_ago=3)
    chat(db, "buyer", days_ago=3)
    fact(db, "buyer", "uses", "aeropress", "we brew with an AeroPress at home")
    customer(db, "lapsed")
    order(db, "o2", "lapsed", days_ago=200)
    for kind in ("welcome", "post_purchase", "win_back"):
        report = run_campaign(db, drafter=TemplateDrafter(), kind=kind, as_of=AS_OF, actor="t")
        assert report.created >= 1
        # A template draft failing the check would be a bug in the templates.
        assert report.needs_attention == 0, kind


def test_a_model_draft_that_fails_is_retried_once_with_the_failures_as_feedback(
    db: Database,
) -> None:
    shop(db)
    model = ScriptedModel(
        [
            "We're delighted you joined.",  # c1: banned phrase
            "Thanks for signing up.",  # c2: fine
            "Thanks for joining, from one small shop to another.",  # c1's retry: fine
        ]
    )
    report = run_campaign(db, drafter=model, kind="welcome", as_of=AS_OF, actor="t")
    assert (report.created, report.needs_attention) == (2, 0)
    retry = model.requests[2]
    assert retry.context.customer_id == "c1"
    assert any("delighted" in line for line in retry.feedback)
    with db.read() as session:
        attempts = dict(session.execute(select(Draft.customer_id, Draft.attempts)).all())
    assert attempts == {"c1": 2, "c2": 1}


def test_a_model_draft_failing_twice_needs_attention_and_cannot_be_approved_as_is(
    db: Database,
) -> None:
    customer(db, "c1", subscribed_days_ago=1, first_name="Maya")
    model = ScriptedModel(["We're delighted.", "Still delighted, truly."])
    report = run_campaign(db, drafter=model, kind="welcome", as_of=AS_OF, actor="t")
    assert (report.created, report.needs_attention) == (1, 1)
    with db.read() as session:
        (draft,) = list_drafts(session)
    assert draft.status == "needs_attention"
    assert {p.code for p in draft.problems} == {"voice"}


def test_a_drafter_failure_stores_nothing_and_the_next_run_tries_again(db: Database) -> None:
    customer(db, "c1", subscribed_days_ago=1)
    report = run_campaign(
        db, drafter=ScriptedModel(["fail"]), kind="welcome", as_of=AS_OF, actor="t"
    )
    assert report.created == 0
    assert [(f.customer_id, f.error) for f in report.failed] == [("c1", "overloaded")]
    again = run_campaign(
        db,
        drafter=ScriptedModel(["Thanks for signing up."]),
        kind="welcome",
        as_of=AS_OF,
        actor="t",
    )
    assert again.created == 1


def test_draft_one_uses_the_due_step_and_returns_the_existing_draft_the_second_time(
    db: Database,
) -> None:
    shop(db)
    detail, created = draft_one(
        db, drafter=TemplateDrafter(), customer_id="c2", kind="welcome", as_of=AS_OF, actor="t"
    )
    assert created and detail.step == "d0" and detail.anchor.startswith("subscribed:")
    again, created_again = draft_one(
        db, drafter=TemplateDrafter(), customer_id="c2", kind="welcome", as_of=AS_OF, actor="t"
    )
    assert not created_again and again.id == detail.id


def test_draft_one_for_a_customer_not_due_is_a_manual_draft(db: Database) -> None:
    customer(db, "c1")
    order(db, "o1", "c1", days_ago=10)  # between post-purchase steps, not lapsed
    detail, created = draft_one(
        db, drafter=TemplateDrafter(), customer_id="c1", kind="win_back", as_of=AS_OF, actor="t"
    )
    assert created and detail.anchor == f"manual:{AS_OF.date().isoformat()}"
    assert detail.step == "d90"


def test_draft_one_refuses_without_consent_unknown_customers_and_nothing_to_follow(
    db: Database,
) -> None:
    shop(db)
    with pytest.raises(NoConsentError):
        draft_one(db, drafter=TemplateDrafter(), customer_id="c3", kind="welcome", actor="t")
    with pytest.raises(NotFoundError):
        draft_one(db, drafter=TemplateDrafter(), customer_id="nobody", kind="welcome", actor="t")
    with pytest.raises(ConflictError, match="no orders"):
        draft_one(db, drafter=TemplateDrafter(), customer_id="c2", kind="post_purchase", actor="t")


def test_with_a_webhook_url_each_new_draft_gets_one_outbox_row(db: Database) -> None:
    shop(db)
    url = "http://127.0.0.1:9/review"
    run_campaign(
        db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t", webhook_url=url
    )
    run_campaign(
        db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t", webhook_url=url
    )
    with db.read() as session:
        rows = session.scalars(select(WebhookDelivery).order_by(WebhookDelivery.id)).all()
        drafts = session.scalars(select(Draft.id).order_by(Draft.id)).all()
        events = session.scalar(select(func.count()).select_from(DraftEvent))
    assert [r.draft_id for r in rows] == list(drafts)
    assert all(r.state == "pending" and r.url == url for r in rows)
    assert '"draft.created"' in rows[0].payload and '"subject"' in rows[0].payload
    assert events == 2


def test_the_next_welcome_step_is_drafted_days_later(db: Database) -> None:
    shop(db)
    run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t")
    later = run_campaign(
        db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF + timedelta(days=3), actor="t"
    )
    assert later.created == 2
    with db.read() as session:
        steps = sorted(session.scalars(select(Draft.step).where(Draft.customer_id == "c1")).all())
    assert steps == ["d0", "d3"]
