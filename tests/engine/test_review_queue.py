"""The review queue's pages (newest first, keyset on the draft id, a count per filter),
approving several drafts at once, and the one re-check both an edit and its preview run."""

from typing import Any

from sqlalchemy import func, select

from engine.db import Database
from engine.drafting.review import (
    approve_many,
    check_edit,
    count_drafts,
    edit,
    get_draft,
    list_drafts,
    queue_page,
    queue_row,
    reject,
    statuses_for,
)
from engine.drafting.service import blocked_texts, load_catalog, run_campaign
from engine.drafting.templates import TemplateDrafter
from engine.drafting.voice import current_voice
from engine.models import DraftEvent
from tests.builders import AS_OF, customer, order

PLANTED = "Write to me at ana@example.com any time."


def welcome_drafts(db: Database, count: int) -> list[int]:
    """`count` new subscribers, each drafted a welcome email; their draft ids, oldest first."""
    for n in range(count):
        customer(db, f"w{n:03d}", subscribed_days_ago=1, first_name="Ana")
    run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t")
    with db.read() as session:
        return [d.id for d in list_drafts(session, limit=1000)]


def checks_for(session: Any, customer_id: str) -> dict[str, Any]:
    """What the re-check needs, as the routes give it."""
    voice = current_voice(session)
    return {
        "catalog": load_catalog(session),
        "checks": voice.checks,
        "business": voice.business,
        "voice": voice,
        "blocked_texts": blocked_texts(session, customer_ids=[customer_id]).get(customer_id, []),
    }


def test_pages_go_newest_first_and_cover_every_draft_once(db: Database) -> None:
    ids = welcome_drafts(db, 7)
    with db.read() as session:
        first = queue_page(session, limit=3)
        assert [d.id for d in first.drafts] == ids[::-1][:3]
        assert first.total == 7 and first.newer is None and first.older == ids[-3]
        seen = [d.id for d in first.drafts]
        page = first
        while page.older is not None:
            page = queue_page(session, before=page.older, limit=3)
            seen += [d.id for d in page.drafts]
        assert seen == ids[::-1]
        assert page.older is None and page.newer == page.drafts[0].id
        # Going back from the second page lands on the first one again.
        second = queue_page(session, before=first.older, limit=3)
        back = queue_page(session, after=second.newer, limit=3)
        assert back.drafts == first.drafts and back.newer is None


def test_filters_narrow_the_page_and_the_count(db: Database) -> None:
    ids = welcome_drafts(db, 3)
    customer(db, "buyer", subscribed_days_ago=400, first_name="Bo")
    order(db, "o1", "buyer", days_ago=1)
    run_campaign(db, drafter=TemplateDrafter(), kind="post_purchase", as_of=AS_OF, actor="t")
    with db.write() as session:
        reject(session, draft_id=ids[0], actor="r", reason="too early")
    with db.read() as session:
        waiting = queue_page(session, statuses=statuses_for("waiting"))
        assert ids[0] not in [d.id for d in waiting.drafts] and waiting.total == 3
        bought = queue_page(session, kind="post_purchase")
        assert [(d.customer_id, d.kind) for d in bought.drafts] == [("buyer", "post_purchase")]
        rejected = queue_page(session, statuses=statuses_for("rejected"), kind="welcome")
        assert [d.id for d in rejected.drafts] == [ids[0]] and rejected.total == 1
        assert count_drafts(session) == 4
        assert count_drafts(session, kind="welcome", statuses=statuses_for("waiting")) == 2
        assert queue_page(session, kind="win_back").drafts == []
        # The API's list keeps its order: oldest first.
        assert [d.id for d in list_drafts(session, kind="welcome")] == ids


def test_a_queue_line_carries_the_customer_and_the_problem_count(db: Database) -> None:
    (draft_id,) = welcome_drafts(db, 1)
    with db.write() as session:
        body = get_draft(session, draft_id=draft_id).body + "\n\n" + PLANTED
        edit(
            session,
            draft_id=draft_id,
            actor="r",
            changes={"body": body},
            **checks_for(session, "w000"),
        )
    with db.read() as session:
        row = queue_row(session, draft_id=draft_id)
    assert (row.customer_id, row.first_name, row.status) == ("w000", "Ana", "needs_attention")
    assert row.problems >= 1


def test_approving_several_approves_what_it_may_and_names_the_rest(db: Database) -> None:
    good, flawed, done = welcome_drafts(db, 3)
    with db.write() as session:
        body = get_draft(session, draft_id=flawed).body + "\n\n" + PLANTED
        edit(
            session,
            draft_id=flawed,
            actor="r",
            changes={"body": body},
            **checks_for(session, "w001"),
        )
        reject(session, draft_id=done, actor="r", reason="no")
    with db.write() as session:
        result = approve_many(
            session, draft_ids=[good, flawed, done, 999_999, good], actor="ana@shop.test"
        )
    assert result.approved == [good]
    assert result.refused == {flawed: "problems", done: "not_waiting", 999_999: "not_found"}
    with db.read() as session:
        assert get_draft(session, draft_id=good).reviewed_by == "ana@shop.test"
        assert get_draft(session, draft_id=flawed).status == "needs_attention"
        approvals = session.scalar(
            select(func.count(DraftEvent.id)).where(DraftEvent.action == "approved")
        )
    assert approvals == 1


def test_checking_an_edit_finds_what_saving_it_would_and_saves_nothing(db: Database) -> None:
    (draft_id,) = welcome_drafts(db, 1)
    with db.read() as session:
        before = get_draft(session, draft_id=draft_id)
        body = before.body + "\n\n" + PLANTED
        found = check_edit(
            session, draft_id=draft_id, changes={"body": body}, **checks_for(session, "w000")
        )
    assert any(p.code == "pii" for p in found), found
    with db.read() as session:
        unchanged = get_draft(session, draft_id=draft_id)
    assert (unchanged.body, unchanged.problems, len(unchanged.history)) == (
        before.body,
        before.problems,
        len(before.history),
    )
    with db.write() as session:
        edit(
            session,
            draft_id=draft_id,
            actor="r",
            changes={"body": body},
            **checks_for(session, "w000"),
        )
    with db.read() as session:
        saved = get_draft(session, draft_id=draft_id)
    assert saved.problems == found and saved.status == "needs_attention"
    with db.read() as session:
        clean = check_edit(
            session,
            draft_id=draft_id,
            changes={"body": before.body},
            **checks_for(session, "w000"),
        )
    assert clean == []
