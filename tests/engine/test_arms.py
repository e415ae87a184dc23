"""Arms: a keyed hash puts each customer in the same arm on every run, holds out the share
asked for, and splits the rest evenly and independently; campaign runs record every due
customer's entry, draft no held-out customer, and write generic drafts with nothing personal."""

from collections import Counter

import pytest
from sqlalchemy import func, select

from engine.db import Database
from engine.drafting.arms import arm_key, assign_arm
from engine.drafting.service import run_campaign
from engine.drafting.templates import TemplateDrafter
from engine.errors import InvalidInput
from engine.models import Draft, FlowEntry, Secret
from tests.builders import AS_OF, chat, customer, fact

KEY = bytes.fromhex("5a" * 32)
IDS = [f"customer-{n}" for n in range(10_000)]


def test_the_same_key_gives_the_same_arm_every_time() -> None:
    first = [assign_arm(KEY, customer_id=c, kind="welcome", holdout=0.2, ab=True) for c in IDS]
    again = [assign_arm(KEY, customer_id=c, kind="welcome", holdout=0.2, ab=True) for c in IDS]
    assert first == again
    # Another key (or another campaign kind) draws afresh.
    other = [
        assign_arm(b"another key", customer_id=c, kind="welcome", holdout=0.2, ab=True) for c in IDS
    ]
    win_back = [assign_arm(KEY, customer_id=c, kind="win_back", holdout=0.2, ab=True) for c in IDS]
    assert sum(a != b for a, b in zip(first, other, strict=True)) > 3000
    assert sum(a != b for a, b in zip(first, win_back, strict=True)) > 3000


@pytest.mark.parametrize("holdout", [0.05, 0.2, 0.5])
def test_the_holdout_share_is_what_was_asked(holdout: float) -> None:
    arms = Counter(
        assign_arm(KEY, customer_id=c, kind="welcome", holdout=holdout, ab=False) for c in IDS
    )
    # Binomial standard deviation at 10,000 draws is at most 0.005: 4 of them either way.
    assert abs(arms["holdout"] / len(IDS) - holdout) < 0.02
    assert set(arms) == {"holdout", "personal"}


def test_the_ab_split_is_even_and_independent_of_the_holdout_draw() -> None:
    arms = {c: assign_arm(KEY, customer_id=c, kind="welcome", holdout=0.5, ab=True) for c in IDS}
    # Who would be held out at 0.5 is who draws low; among the others, whether one would also
    # be held out at 0.75 (a high draw or not) must not change the generic share.
    wider = {c: assign_arm(KEY, customer_id=c, kind="welcome", holdout=0.75, ab=True) for c in IDS}
    emailed = [c for c, arm in arms.items() if arm != "holdout"]
    assert abs(len(emailed) / len(IDS) - 0.5) < 0.02
    generic = sum(arms[c] == "generic" for c in emailed) / len(emailed)
    assert abs(generic - 0.5) < 0.03
    low = [c for c in emailed if wider[c] == "holdout"]
    high = [c for c in emailed if wider[c] != "holdout"]
    for part in (low, high):
        share = sum(arms[c] == "generic" for c in part) / len(part)
        assert abs(share - 0.5) < 0.05
    # An emailed customer keeps their arm when the holdout grows and leaves them in.
    assert all(wider[c] == arms[c] for c in high)
    # Without a holdout and without A/B everyone is personal.
    assert {assign_arm(KEY, customer_id=c, kind="welcome", holdout=0, ab=False) for c in IDS} == {
        "personal"
    }


def test_a_holdout_outside_zero_to_one_is_refused(db: Database) -> None:
    with pytest.raises(ValueError, match="holdout"):
        assign_arm(KEY, customer_id="c", kind="welcome", holdout=1.0, ab=False)
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(InvalidInput) as error:
            run_campaign(
                db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t", holdout=bad
            )
        assert error.value.field == "holdout"


def test_the_arm_key_is_made_once_and_kept(db: Database) -> None:
    with db.write() as session:
        first = arm_key(session)
    with db.write() as session:
        assert arm_key(session) == first
        assert session.scalar(select(func.count()).select_from(Secret)) == 1
    assert len(first) == 32


def subscribers(db: Database, count: int) -> list[str]:
    """New subscribers, each with a stated fact a personal welcome uses."""
    ids = [f"s{n:02d}" for n in range(count)]
    for customer_id in ids:
        customer(db, customer_id, subscribed_days_ago=1, first_name="Maya")
        chat(db, customer_id, days_ago=1)
        fact(db, customer_id, "business", "small bakery", "I run a small bakery")
    return ids


def test_a_campaign_with_holdout_and_ab_enters_everyone_and_drafts_by_arm(db: Database) -> None:
    ids = subscribers(db, 24)
    with db.write() as session:
        session.add(Secret(name="arm_key", value=KEY.hex()))
    expected = {
        c: assign_arm(KEY, customer_id=c, kind="welcome", holdout=0.3, ab=True) for c in ids
    }
    counts = Counter(expected.values())
    assert set(counts) == {"personal", "generic", "holdout"}  # this key gives all three

    report = run_campaign(
        db,
        drafter=TemplateDrafter(),
        kind="welcome",
        as_of=AS_OF,
        actor="t",
        holdout=0.3,
        ab=True,
    )
    assert report.due == 24
    assert report.held_out == counts["holdout"]
    assert report.generic == counts["generic"]
    assert report.created == counts["personal"] + counts["generic"]
    assert report.needs_attention == 0

    with db.read() as session:
        entries = {e.customer_id: e for e in session.scalars(select(FlowEntry))}
        drafts = {d.id: d for d in session.scalars(select(Draft))}
    assert {c: e.arm for c, e in entries.items()} == expected
    assert all(
        e.entered_at == AS_OF and (e.kind, e.step) == ("welcome", "d0") for e in entries.values()
    )
    for customer_id, entry in entries.items():
        if entry.arm == "holdout":
            assert entry.draft_id is None
            continue
        assert entry.draft_id is not None
        draft = drafts[entry.draft_id]
        assert draft.customer_id == customer_id
        if entry.arm == "generic":
            assert draft.template.endswith("/generic")
            assert draft.fact_ids == [] and draft.evidence == []
            assert draft.context["facts"] == [] and draft.context["intents"] == []
            assert "bakery" not in (draft.subject + draft.preheader + draft.body).lower()
        else:
            assert not draft.template.endswith("/generic")
            assert draft.fact_ids and draft.context["facts"]
    assert len(drafts) == report.created

    # Running it again creates nothing: no draft, no entry, and nobody held out twice.
    again = run_campaign(
        db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t", holdout=0.3, ab=True
    )
    assert (again.due, again.created, again.held_out, again.generic) == (0, 0, 0, 0)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(FlowEntry)) == 24
        assert session.scalar(select(func.count()).select_from(Draft)) == report.created


def test_a_plain_campaign_records_a_personal_entry_per_draft(db: Database) -> None:
    ids = subscribers(db, 3)
    report = run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t")
    assert (report.created, report.held_out, report.generic) == (3, 0, 0)
    with db.read() as session:
        entries = list(session.scalars(select(FlowEntry).order_by(FlowEntry.customer_id)))
        # No key is made for a run that needs none.
        assert session.scalar(select(func.count()).select_from(Secret)) == 0
    assert [e.customer_id for e in entries] == ids
    assert {e.arm for e in entries} == {"personal"}
    assert sorted(e.draft_id for e in entries if e.draft_id) == sorted(report.draft_ids)
