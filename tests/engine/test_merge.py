"""Merging two profiles of one person: every row of the merged one moves to the survivor (no table
names it any more), consent is combined conservatively, a draft of the same step is not sent
twice, vectors follow (after the commit, re-applied until done), a pipeline batch in flight
records under the survivor, and erasing the survivor leaves nothing of either."""

from datetime import datetime, timedelta

import pytest
from sqlalchemy import UniqueConstraint, func, select

from engine.customers.erasure import forget_customer
from engine.customers.merge import customer_columns, merge_customers, move_merged_vectors
from engine.db import Database
from engine.drafting.review import list_drafts
from engine.drafting.service import run_campaign
from engine.drafting.templates import TemplateDrafter
from engine.errors import NotFoundError
from engine.models import (
    Base,
    Customer,
    CustomerMerge,
    Draft,
    DraftEvent,
    Fact,
    Message,
    MessageIntent,
    Order,
)
from engine.runtime import Services
from tests.builders import AS_OF, converse, customer, order
from tests.scans import haystack

SURVIVOR = "shop-4411"
MERGED = "chatwoot-contact:7781"
MERGED_EMAIL = "odalys.brightwater@example.org"
# Words only the merged profile ever wrote.
MERGED_WORDS = ["brightwater", "zephyrine"]


def populate(services: Services) -> None:
    """Two profiles of one person, each with a processed chat (facts, intents, vectors), an
    order and a welcome draft."""
    db = services.db
    customer(db, SURVIVOR, subscribed_days_ago=2, email=None, first_name=None)
    customer(db, MERGED, subscribed_days_ago=3, email=MERGED_EMAIL, first_name="Odalys")
    converse(
        db,
        SURVIVOR,
        "conv-shop",
        [("customer", "I run a small bakery and the card reader will not pair.")],
    )
    converse(
        db,
        MERGED,
        "conv-chat",
        [
            ("customer", "I run Brightwater Ceramics, a tiny pottery studio."),
            ("customer", "The Zephyrine kiln app keeps crashing when I pair the card reader."),
        ],
    )
    order(db, "order-shop", SURVIVOR, days_ago=2)
    order(db, "order-chat", MERGED, days_ago=5)
    services.pipeline().run_until_idle()
    run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="tester")


def naming(db: Database, customer_id: str) -> dict[str, int]:
    """Rows per table whose customer column names this id."""
    with db.read() as session:
        counts = {
            column.table.name: session.scalar(
                select(func.count()).select_from(column.table).where(column == customer_id)
            )
            or 0
            for column in customer_columns()
        }
    return {table: count for table, count in counts.items() if count}


def test_a_merge_moves_every_row_and_no_table_names_the_merged_customer(
    services: Services,
) -> None:
    populate(services)
    db, store = services.db, services.store
    before = naming(db, MERGED)
    # The test can fail: the merged profile's rows are in every table that can hold them.
    for table in ("conversations", "messages", "facts", "message_intents", "orders", "drafts"):
        assert before.get(table, 0) > 0, table
    vectors = (store.count(customer_id=SURVIVOR), store.count(customer_id=MERGED))
    assert vectors[1] > 0

    with db.write() as session:
        report = merge_customers(
            session, survivor_id=SURVIVOR, merged_id=MERGED, actor="tester", store=store
        )

    assert naming(db, MERGED) == {}
    assert report.moved == before | {"vectors": vectors[1]}
    with db.read() as session:
        assert session.get(Customer, MERGED) is None
        survivor = session.get(Customer, SURVIVOR)
        assert survivor is not None
        # Blanks filled, and the earlier subscription stands (no new welcome sequence).
        assert (survivor.email, survivor.first_name) == (MERGED_EMAIL, "Odalys")
        assert survivor.subscribed_at == AS_OF - timedelta(days=3)
        audit = session.scalars(select(CustomerMerge)).one()
        assert (audit.customer_id, audit.merged_id, audit.actor, audit.moved) == (
            SURVIVOR,
            MERGED,
            "tester",
            report.moved,
        )
        orders = set(session.scalars(select(Order.id).where(Order.customer_id == SURVIVOR)))
        assert orders == {"order-shop", "order-chat"}
        facts = session.scalars(select(Fact.quote).where(Fact.customer_id == SURVIVOR)).all()
        assert any("Brightwater" in quote for quote in facts)

    # The vectors move after the commit, once; again moves nothing.
    assert store.count(customer_id=MERGED) == vectors[1]
    assert move_merged_vectors(db=db, store=store, customer_id=SURVIVOR) == vectors[1]
    assert store.count(customer_id=MERGED) == 0
    assert store.count(customer_id=SURVIVOR) == sum(vectors)
    assert move_merged_vectors(db=db, store=store, customer_id=SURVIVOR) == 0


def test_moving_vectors_again_leaves_a_merged_id_used_anew_alone(services: Services) -> None:
    """An id merged away and later someone's own again (a widget posting under it): its new
    points are not the survivor's."""
    db, store = services.db, services.store
    customer(db, SURVIVOR)
    customer(db, MERGED)
    converse(db, MERGED, "conv-old", [("customer", "I run Brightwater Ceramics.")])
    services.pipeline().run_until_idle()
    with db.write() as session:
        merge_customers(session, survivor_id=SURVIVOR, merged_id=MERGED, actor="tester")
    assert move_merged_vectors(db=db, store=store, customer_id=SURVIVOR) > 0
    customer(db, MERGED)
    converse(db, MERGED, "conv-new", [("customer", "We sell plants at the market.")])
    services.pipeline().run_until_idle()
    again = store.count(customer_id=MERGED)
    assert again > 0
    assert move_merged_vectors(db=db, store=store, customer_id=SURVIVOR) == 0
    assert store.count(customer_id=MERGED) == again


def test_merging_an_unknown_customer_or_one_into_itself_is_refused(db: Database) -> None:
    customer(db, SURVIVOR)
    with db.write() as session, pytest.raises(NotFoundError):
        merge_customers(session, survivor_id=SURVIVOR, merged_id="nobody", actor="tester")
    with db.write() as session, pytest.raises(ValueError, match="itself"):
        merge_customers(session, survivor_id=SURVIVOR, merged_id=SURVIVOR, actor="tester")


T0 = AS_OF - timedelta(days=30)
T1 = AS_OF - timedelta(days=10)
# (consent, consent_at, unsubscribed_at) of a profile.
NEVER: tuple[bool, datetime | None, datetime | None] = (False, None, None)


def yes(at: datetime) -> tuple[bool, datetime | None, datetime | None]:
    return True, at, None


def no(at: datetime) -> tuple[bool, datetime | None, datetime | None]:
    return False, T0 - timedelta(days=100), at


@pytest.mark.parametrize(
    ("survivor", "merged", "consent", "unsubscribed_at"),
    [
        (NEVER, NEVER, False, None),
        (NEVER, yes(T1), True, None),  # the merged yes is the only, so the newest, decision
        (yes(T0), NEVER, True, None),
        (yes(T0), no(T1), False, T1),  # a newer no on the other side wins
        (no(T1), yes(T0), False, T1),  # an older yes does not undo a no
        (no(T0), yes(T1), True, None),  # a newer yes is the person's decision now
        (yes(T1), no(T1), False, T1),  # a tie: the no
        (no(T0), no(T1), False, T1),  # the latest no
    ],
    ids=[
        "neither-decided",
        "merged-yes",
        "survivor-yes",
        "newer-no-wins",
        "older-yes-loses",
        "newer-yes-wins",
        "tie-no-wins",
        "latest-no",
    ],
)
def test_consent_after_a_merge_is_the_newest_decision_and_a_no_wins_a_tie(
    db: Database,
    survivor: tuple[bool, datetime | None, datetime | None],
    merged: tuple[bool, datetime | None, datetime | None],
    consent: bool,
    unsubscribed_at: datetime | None,
) -> None:
    customer(db, SURVIVOR, marketing_consent=False)
    customer(db, MERGED, marketing_consent=False)
    with db.write() as session:
        for customer_id, (given, consent_at, unsubscribed) in (
            (SURVIVOR, survivor),
            (MERGED, merged),
        ):
            row = session.get(Customer, customer_id)
            assert row is not None
            row.marketing_consent, row.consent_at, row.unsubscribed_at = (
                given,
                consent_at,
                unsubscribed,
            )
    with db.write() as session:
        merge_customers(session, survivor_id=SURVIVOR, merged_id=MERGED, actor="tester")
    with db.read() as session:
        row = session.get(Customer, SURVIVOR)
        assert row is not None
        assert (row.marketing_consent, row.unsubscribed_at) == (consent, unsubscribed_at)
        if consent:
            assert row.consent_at is not None


def test_a_newer_withdrawal_of_the_merged_profile_withdraws_the_drafts_waiting(
    db: Database,
) -> None:
    customer(db, SURVIVOR, subscribed_days_ago=1)
    run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="tester")
    customer(db, MERGED, marketing_consent=False)
    with db.write() as session:
        merged = session.get(Customer, MERGED)
        assert merged is not None
        merged.unsubscribed_at = AS_OF
    with db.write() as session:
        report = merge_customers(session, survivor_id=SURVIVOR, merged_id=MERGED, actor="tester")
    assert report.drafts_withdrawn == 1
    with db.read() as session:
        assert {d.status for d in list_drafts(session)} == {"withdrawn"}


def test_a_draft_of_a_step_both_profiles_have_is_withdrawn_and_kept_apart(db: Database) -> None:
    """Both were sent a welcome for the same subscription: the survivor's draft stands, the
    merged profile's is withdrawn (one person, one email per step), and both histories stay."""
    for customer_id in (SURVIVOR, MERGED):
        customer(db, customer_id, subscribed_days_ago=1)
    run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="tester")
    with db.read() as session:
        drafts = {d.customer_id: (d.id, d.step, d.anchor) for d in list_drafts(session)}
    assert drafts[SURVIVOR][1:] == drafts[MERGED][1:]  # the same step and anchor

    with db.write() as session:
        report = merge_customers(session, survivor_id=SURVIVOR, merged_id=MERGED, actor="tester")

    assert report.drafts_withdrawn == 1
    with db.read() as session:
        kept = session.get(Draft, drafts[SURVIVOR][0])
        moved = session.get(Draft, drafts[MERGED][0])
        assert kept is not None and moved is not None
        assert (kept.customer_id, kept.status, kept.anchor) == (
            SURVIVOR,
            "pending_review",
            drafts[SURVIVOR][2],
        )
        assert (moved.customer_id, moved.status) == (SURVIVOR, "withdrawn")
        assert moved.anchor != kept.anchor and moved.anchor.startswith(kept.anchor)
        event = session.scalars(
            select(DraftEvent).where(DraftEvent.draft_id == moved.id).order_by(DraftEvent.id)
        ).all()[-1]
        assert (event.action, event.actor) == ("withdrawn", "tester")
    again = run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t")
    assert again.created == 0


def test_a_batch_in_flight_during_a_merge_records_under_the_survivor(services: Services) -> None:
    """Claimed before the merge, processed after it: facts, intents and vector points go under
    the customer the messages belong to now, not under a deleted id."""
    db, store = services.db, services.store
    customer(db, SURVIVOR)
    customer(db, MERGED, email=MERGED_EMAIL)
    converse(
        db,
        MERGED,
        "conv-race",
        [("customer", "I run Brightwater Ceramics and I need a bigger kiln.")],
    )
    pipeline = services.pipeline()
    claimed = pipeline.claim(limit=10)
    assert [m.customer_id for m in claimed] == [MERGED]
    with db.write() as session:
        merge_customers(session, survivor_id=SURVIVOR, merged_id=MERGED, actor="tester")
    move_merged_vectors(db=db, store=store, customer_id=SURVIVOR)

    result = pipeline.process(claimed)

    assert result.messages == 1
    assert store.count(customer_id=MERGED) == 0
    assert store.count(customer_id=SURVIVOR) > 0
    with db.read() as session:
        assert set(session.scalars(select(Fact.customer_id))) == {SURVIVOR}
        assert set(session.scalars(select(MessageIntent.customer_id))) <= {SURVIVOR}
        assert session.scalar(select(Message.state)) == "processed"


def test_erasing_the_survivor_leaves_nothing_of_either_profile_even_before_vectors_moved(
    services: Services,
) -> None:
    """The process stopped between the merge's commit and moving the vectors: the merged id's
    points still carry it. Erasing the survivor erases them and the audit row of the merge."""
    populate(services)
    customer(services.db, "bystander", first_name="Tom")
    with services.db.write() as session:
        merge_customers(session, survivor_id=SURVIVOR, merged_id=MERGED, actor="tester")
    assert services.store.count(customer_id=MERGED) > 0
    needles = [SURVIVOR, MERGED, MERGED_EMAIL, *MERGED_WORDS]
    tables, vectors = haystack(services)
    assert all(n in tables for n in needles) and MERGED in vectors

    report = forget_customer(
        db=services.db, store=services.store, customer_id=SURVIVOR, actor="ops"
    )

    tables, vectors = haystack(services)
    assert [n for n in needles if n in tables] == []
    assert [n for n in needles if n in vectors] == []
    assert report.removed["customer_merges"] == 1 and report.removed["vectors"] > 0
    assert "bystander" in tables


def test_only_drafts_and_flow_entries_hold_a_customer_in_a_unique_key() -> None:
    """A merge moves every customer column with one UPDATE; a unique key holding a customer
    would make that fail, so each needs its own rule in engine.customers.merge (drafts and flow
    entries have one: a clashing row gets an anchor of its own)."""
    columns = {(c.table.name, c.name) for c in customer_columns()}
    unique = {
        table.name
        for table in Base.metadata.sorted_tables
        for constraint in table.constraints
        if isinstance(constraint, UniqueConstraint)
        and any((table.name, c.name) in columns for c in constraint.columns)
    } | {
        table.name
        for table in Base.metadata.sorted_tables
        for index in table.indexes
        if index.unique and any((table.name, c.name) in columns for c in index.columns)
    }
    assert unique == {"drafts", "flow_entries"}
