"""Lifecycle triggers at their edges: the days each step is due on, consent, unsubscribes, chat
opt-outs, and steps already drafted."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from engine.customers.lifecycle import SEQUENCES, Due, due_customers, step_on
from engine.db import Database
from engine.facts.optouts import ALL_MARKETING
from engine.models import Customer, Draft, Fact, Message
from tests.builders import AS_OF, chat, customer, order


def due(db: Database, kind: str, as_of: datetime = AS_OF) -> dict[str, Due]:
    with db.read() as session:
        return {d.customer_id: d for d in due_customers(session, kind=kind, as_of=as_of)}  # type: ignore[arg-type]


def drafted(db: Database, found: Due) -> None:
    with db.write() as session:
        session.add(
            Draft(
                customer_id=found.customer_id,
                kind=found.kind,
                step=found.step,
                anchor=found.anchor,
                subject="s",
                preheader="p",
                body="b",
                original={},
                fact_ids=[],
                evidence=[],
                context={},
                problems=[],
                drafter="template",
                template="t",
            )
        )


@pytest.mark.parametrize(
    ("days", "step"),
    [
        (0, "d0"),
        (2.9, "d0"),
        (3, "d3"),
        (6.5, "d3"),
        (7, "d7"),
        (13, "d7"),
        (13.9, "d7"),
        (14, "d14"),
        (14.9, "d14"),
        (15, None),
        (30, None),
    ],
)
def test_welcome_steps_by_days_since_subscribing(
    db: Database, days: float, step: str | None
) -> None:
    customer(db, "c1", subscribed_days_ago=days)
    found = due(db, "welcome")
    assert (found["c1"].step if "c1" in found else None) == step


def test_welcome_needs_consent_and_no_unsubscribe_and_no_chat_opt_out(db: Database) -> None:
    customer(db, "yes", subscribed_days_ago=1)
    customer(db, "no_consent", subscribed_days_ago=1, marketing_consent=False)
    customer(db, "unsubscribed", subscribed_days_ago=1)
    customer(db, "asked_out", subscribed_days_ago=1)
    customer(db, "future", subscribed_days_ago=-2)
    with db.write() as session:
        unsubscribed = session.get(Customer, "unsubscribed")
        assert unsubscribed is not None
        unsubscribed.unsubscribed_at = AS_OF - timedelta(hours=1)
    chat(db, "asked_out", days_ago=0.5)
    with db.write() as session:
        message = session.scalars(select(Message).where(Message.customer_id == "asked_out")).one()
        session.add(
            Fact(
                customer_id="asked_out",
                message_id=message.id,
                category="opt_out",
                value=ALL_MARKETING,
                quote="unsubscribe me",
                span_start=0,
                span_end=14,
                said_at=message.sent_at,
                extractor="test",
            )
        )
    assert set(due(db, "welcome")) == {"yes"}


def test_a_step_drafted_is_not_due_again_but_the_next_step_is(db: Database) -> None:
    customer(db, "c1", subscribed_days_ago=1)
    first = due(db, "welcome")["c1"]
    assert first.step == "d0"
    drafted(db, first)
    assert due(db, "welcome") == {}
    # Three days on, the next step is due, for the same subscription.
    later = due(db, "welcome", AS_OF + timedelta(days=2))["c1"]
    assert (later.step, later.anchor) == ("d3", first.anchor)


@pytest.mark.parametrize(
    ("days", "step"),
    [
        (0, None),
        (1, "d1"),
        (2, "d1"),
        (3, "d3"),
        (7, "d3"),
        (8, None),
        (13, None),
        (14, "d14"),
        (21, "d14"),
        (22, None),
        (29, None),
        (30, "d30"),
        (30.9, "d30"),
        (31, None),
    ],
)
def test_post_purchase_steps_by_days_since_the_newest_order(
    db: Database, days: float, step: str | None
) -> None:
    customer(db, "c1")
    order(db, "o1", "c1", days_ago=days)
    found = due(db, "post_purchase")
    assert (found["c1"].step if "c1" in found else None) == step
    if step:
        assert found["c1"].anchor == "order:o1"


def test_post_purchase_follows_the_newest_order_and_needs_consent(db: Database) -> None:
    customer(db, "c1")
    order(db, "old", "c1", days_ago=15)
    order(db, "new", "c1", days_ago=3)
    customer(db, "no_consent", marketing_consent=False)
    order(db, "o2", "no_consent", days_ago=3)
    found = due(db, "post_purchase")
    assert set(found) == {"c1"}
    assert (found["c1"].step, found["c1"].anchor) == ("d3", "order:new")
    drafted(db, found["c1"])
    assert due(db, "post_purchase") == {}


@pytest.mark.parametrize("status", ["cancelled", "voided", "refunded", "test"])
def test_an_order_that_is_no_purchase_anchors_nothing(db: Database, status: str) -> None:
    """No post-purchase sequence follows a cancelled (voided, refunded, test) order, and it
    does not keep an older buyer from being lapsed; the purchase before it still counts."""
    customer(db, "x1")
    order(db, "x1-old", "x1", days_ago=20)
    order(db, "x1-new", "x1", days_ago=1.5, status=status)
    customer(db, "x2")
    order(db, "x2-old", "x2", days_ago=120)
    order(db, "x2-new", "x2", days_ago=10, status=status)
    customer(db, "x3")
    order(db, "x3-only", "x3", days_ago=1.5, status=status)
    post_purchase = due(db, "post_purchase")
    assert post_purchase["x1"].anchor == "order:x1-old"
    assert post_purchase["x1"].step == "d14"
    assert "x3" not in post_purchase
    win_back = due(db, "win_back")
    assert win_back["x2"].anchor_at == AS_OF - timedelta(days=120)
    assert "x3" not in win_back


def test_an_order_after_as_of_does_not_count(db: Database) -> None:
    customer(db, "c1")
    order(db, "o1", "c1", days_ago=-1)
    assert due(db, "post_purchase") == {}
    assert due(db, "win_back") == {}


@pytest.mark.parametrize(
    ("days", "is_due"), [(89, False), (90, False), (90.9, False), (91, True), (400, True)]
)
def test_win_back_after_more_than_90_days_without_an_order(
    db: Database, days: float, is_due: bool
) -> None:
    customer(db, "c1")
    order(db, "o1", "c1", days_ago=days)
    assert ("c1" in due(db, "win_back")) is is_due


def test_win_back_needs_an_order_no_recent_chat_and_consent(db: Database) -> None:
    customer(db, "never_ordered")
    customer(db, "chatted", subscribed_days_ago=400)
    order(db, "o1", "chatted", days_ago=200)
    chat(db, "chatted", days_ago=10)
    customer(db, "agent_only")
    order(db, "o2", "agent_only", days_ago=200)
    chat(db, "agent_only", days_ago=10, role="agent")  # an agent writing is not the customer
    customer(db, "lapsed")
    order(db, "o3", "lapsed", days_ago=120)
    chat(db, "lapsed", days_ago=100)
    customer(db, "no_consent", marketing_consent=False)
    order(db, "o4", "no_consent", days_ago=200)
    found = due(db, "win_back")
    assert set(found) == {"agent_only", "lapsed"}
    # The anchor is the last activity (the chat 100 days ago), so it is drafted once per lapse.
    assert found["lapsed"].days == 100
    drafted(db, found["lapsed"])
    assert "lapsed" not in due(db, "win_back", AS_OF + timedelta(days=30))
    # They come back and lapse again: a new win-back is due.
    order(db, "o5", "lapsed", days_ago=-10)
    assert "lapsed" in due(db, "win_back", AS_OF + timedelta(days=120))


def test_every_sequence_has_the_steps_the_issue_names() -> None:
    assert [s.name for s in SEQUENCES["welcome"]] == ["d0", "d3", "d7", "d14"]
    assert [s.name for s in SEQUENCES["post_purchase"]] == ["d1", "d3", "d14", "d30"]
    assert step_on("win_back", 91) is not None
    assert step_on("win_back", 90) is None


def test_due_is_narrowed_to_given_customers(db: Database) -> None:
    customer(db, "a", subscribed_days_ago=1)
    customer(db, "b", subscribed_days_ago=1)
    with db.read() as session:
        found = due_customers(session, kind="welcome", as_of=AS_OF, customer_ids=["b"])
    assert [d.customer_id for d in found] == ["b"]
