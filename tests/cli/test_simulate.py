"""The simulated month: seeded (the same seed draws the same events and orders, in any store),
close to its stated rates over many sends, marked simulated everywhere it is stored, and run
through list hygiene as real provider events are."""

from collections import Counter
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cli.simulate import MONTH, SimulationRates, SimulationSummary, simulate_month
from engine.db import Database
from engine.measure.report import flow_report
from engine.models import Customer, Draft, EmailEvent, EmailSend, FlowEntry, Order, Product
from engine.settings import Settings
from tests.builders import AS_OF
from tests.measure_rows import draft_row

START = AS_OF - timedelta(days=10)


def campaign(
    db: Database,
    *,
    personal: int,
    generic: int,
    holdout: int,
    at: Any = START,
    prefix: str = "",
    usual: str | None = None,
) -> None:
    """Customers entering the welcome step in each arm, the emailed ones with a sent email
    (and, with `usual`, each with one real order of that total in EUR before)."""
    with db.write() as session:
        for arm, n in (("personal", personal), ("generic", generic), ("holdout", holdout)):
            for i in range(n):
                customer_id = f"{prefix}{arm[0]}{i}"
                session.add(
                    Customer(
                        id=customer_id, email=f"{customer_id}@example.com", marketing_consent=True
                    )
                )
                if usual is not None:
                    session.add(
                        Order(
                            id=f"real-{customer_id}",
                            customer_id=customer_id,
                            placed_at=at - timedelta(days=40),
                            currency="EUR",
                            total=Decimal(usual),
                        )
                    )
                draft_id = None
                if arm != "holdout":
                    draft = draft_row(customer_id)
                    session.add(draft)
                    session.flush()
                    draft_id = draft.id
                    session.add(
                        EmailSend(
                            draft_id=draft_id,
                            customer_id=customer_id,
                            message_id=f"{customer_id}@test",
                            transport="smtp",
                            state="sent",
                            sent_at=at,
                        )
                    )
                session.add(
                    FlowEntry(
                        customer_id=customer_id,
                        kind="welcome",
                        step="d0",
                        anchor="test",
                        arm=arm,
                        draft_id=draft_id,
                        entered_at=at,
                    )
                )


def drawn(db: Database) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The stored events and orders, by customer (database ids differ between stores)."""
    with db.read() as session:
        events = session.execute(
            select(
                EmailEvent.customer_id,
                EmailEvent.event,
                EmailEvent.bounce,
                EmailEvent.occurred_at,
                EmailEvent.simulated,
            ).order_by(EmailEvent.customer_id, EmailEvent.occurred_at, EmailEvent.event)
        ).all()
        orders = session.execute(
            select(Order.customer_id, Order.placed_at, Order.total, Order.currency, Order.source)
            .where(Order.source == "simulated")
            .order_by(Order.customer_id, Order.placed_at)
        ).all()
    return [tuple(e) for e in events], [tuple(o) for o in orders]


def draws(summary: SimulationSummary) -> tuple[int, ...]:
    return (
        summary.sends,
        summary.held_out,
        summary.delivered,
        summary.hard_bounced,
        summary.soft_bounced,
        summary.opened,
        summary.clicked,
        summary.unsubscribed,
        summary.complained,
    )


LIVELY = SimulationRates(
    hard_bounce=0.05,
    soft_bounce=0.10,
    open=0.5,
    click_personal=0.3,
    click_generic=0.1,
    order_personal=0.4,
    order_generic=0.2,
    order_base=0.1,
    unsubscribe=0.05,
    complaint=0.02,
)


def test_the_same_seed_draws_the_same_month_and_another_seed_another(
    db: Database, tmp_path: Path
) -> None:
    campaign(db, personal=40, generic=40, holdout=20)
    first = simulate_month(db, seed=7, start=START, rates=LIVELY)
    events, orders = drawn(db)
    assert events and orders and first.events_stored == len(events)
    # Again with the same seed: the same draws, nothing new stored.
    again = simulate_month(db, seed=7, start=START, rates=LIVELY)
    assert (again.events_stored, again.orders) == (0, 0)
    assert draws(again) == draws(first)
    assert drawn(db) == (events, orders)
    # A fresh SQLite store with the same campaign (other ids on PostgreSQL): the same month.
    other = Database(Settings(personalize_home=tmp_path / "other", database_url=None))
    other.migrate()
    try:
        campaign(other, personal=40, generic=40, holdout=20)
        simulate_month(other, seed=7, start=START, rates=LIVELY)
        assert drawn(other) == (events, orders)
        # Another seed, another month.
        simulate_month(other, seed=8, start=START, rates=LIVELY)
        assert len(drawn(other)[0]) > len(events)
    finally:
        other.dispose()


def test_rates_are_roughly_respected_over_many_sends(db: Database) -> None:
    n = 600
    campaign(db, personal=n, generic=n, holdout=n, usual="90.00")
    summary = simulate_month(db, seed=1, start=START, rates=LIVELY)
    sends = 2 * n
    assert summary.sends == sends and summary.held_out == n

    def near(count: int, rate: float, total: int) -> None:
        # Within four standard deviations of the binomial.
        sd = (rate * (1 - rate) / total) ** 0.5
        assert abs(count / total - rate) <= 4 * sd + 1e-9, (count, rate, total)

    near(summary.hard_bounced, LIVELY.hard_bounce, sends)
    near(summary.soft_bounced, LIVELY.soft_bounce, sends)
    assert summary.delivered == sends - summary.hard_bounced - summary.soft_bounced
    near(summary.unsubscribed, LIVELY.unsubscribe, summary.delivered)
    near(summary.complained, LIVELY.complaint, summary.delivered)
    with db.read() as session:
        by_arm: Counter[tuple[str, str]] = Counter(
            (arm, event)
            for arm, event in session.execute(
                select(FlowEntry.arm, EmailEvent.event)
                .join(EmailEvent, EmailEvent.draft_id == FlowEntry.draft_id)
                .where(EmailEvent.event.in_(("delivered", "clicked")))
            ).all()
        )
        bought: Counter[str] = Counter(
            session.execute(
                select(FlowEntry.arm)
                .join(Order, Order.customer_id == FlowEntry.customer_id)
                .where(Order.source == "simulated")
            ).scalars()
        )
        totals = [
            float(t)
            for t in session.scalars(select(Order.total).where(Order.source == "simulated"))
        ]
        currencies = set(session.scalars(select(Order.currency).where(Order.source == "simulated")))
    for arm, rate in (("personal", LIVELY.click_personal), ("generic", LIVELY.click_generic)):
        near(by_arm[arm, "clicked"], rate, by_arm[arm, "delivered"])
    # Personal and generic customers buy at their arm's rate once delivered (a bounced one at
    # the base rate); held-out ones at the base rate.
    for arm, rate in (("personal", LIVELY.order_personal), ("generic", LIVELY.order_generic)):
        delivered = by_arm[arm, "delivered"]
        expected = (delivered * rate + (n - delivered) * LIVELY.order_base) / n
        near(bought[arm], expected, n)
    near(bought["holdout"], LIVELY.order_base, n)
    assert bought["personal"] > bought["generic"] > bought["holdout"]
    assert summary.orders == sum(bought.values()) == len(totals)
    # Totals around the customers' usual 90.00 EUR, never under a third of it.
    assert currencies == {"EUR"}
    assert min(totals) >= 30.0 and 80 <= sum(totals) / len(totals) <= 100


def test_everything_it_stores_is_marked_simulated(db: Database) -> None:
    campaign(db, personal=30, generic=30, holdout=30)
    # Entered before the month: not simulated.
    campaign(db, personal=5, generic=0, holdout=5, at=START - timedelta(days=40), prefix="old-")
    with db.read() as session:
        products = session.scalar(select(func.count()).select_from(Product))
        real = [session.scalar(select(func.count()).select_from(m)) for m in (FlowEntry, EmailSend)]
    summary = simulate_month(db, seed=3, start=START, rates=LIVELY)
    assert summary.simulated and summary.sends == 60 and summary.held_out == 30
    with db.read() as session:
        events = session.execute(
            select(EmailEvent.provider, EmailEvent.simulated, EmailEvent.customer_id)
        ).all()
        assert events and all(p == "simulated" and sim for p, sim, _ in events)
        assert not any(c.startswith("old-") for _, _, c in events)
        orders = session.execute(
            select(Order.id, Order.source, Order.customer_id, Order.placed_at).where(
                Order.id.like("sim-%")
            )
        ).all()
        assert len(orders) == summary.orders > 0
        assert all(source == "simulated" for _, source, _, _ in orders)
        assert all(START <= placed < START + MONTH for _, _, _, placed in orders)
        assert not any((c or "").startswith("old-") for _, _, c, _ in orders)
        # A simulated order teaches the catalog nothing.
        assert session.scalar(select(func.count()).select_from(Product)) == products
        # The real flow entries and sends stay as they were: the simulation makes none.
        assert [
            session.scalar(select(func.count()).select_from(m)) for m in (FlowEntry, EmailSend)
        ] == real
    with db.write() as session:
        report = flow_report(
            session, since=START, until=START + MONTH, click_days=5, delivered_days=1
        )
    assert report.simulated
    [row] = report.flows
    assert {a.arm: a.recipients for a in row.arms} == {"personal": 30, "generic": 30, "holdout": 30}
    assert sum(a.delivered for a in row.arms) == summary.delivered


def test_simulated_hard_bounces_go_through_list_hygiene(db: Database) -> None:
    campaign(db, personal=4, generic=2, holdout=1)
    # A draft still waiting for review for one of them: hygiene withdraws it.
    with db.write() as session:
        waiting = draft_row("p0", kind="win_back", step="d90")
        waiting.status = "pending_review"
        session.add(waiting)
        session.flush()
        waiting_id = waiting.id
    everyone_bounces = SimulationRates(hard_bounce=1.0, soft_bounce=0.0, order_base=0.0)
    summary = simulate_month(db, seed=5, start=START, rates=everyone_bounces)
    assert (summary.hard_bounced, summary.delivered, summary.suppressed) == (6, 0, 6)
    with db.read() as session:
        suppressed = session.execute(
            select(Customer.id, Customer.suppression_reason).where(
                Customer.suppressed_at.is_not(None)
            )
        ).all()
        assert sorted(suppressed) == sorted(
            (c, "hard_bounce") for c in ("p0", "p1", "p2", "p3", "g0", "g1")
        )
        assert session.get_one(Draft, waiting_id).status == "withdrawn"


def test_rates_must_be_shares() -> None:
    with pytest.raises(ValueError, match="open"):
        SimulationRates(open=1.5)
    with pytest.raises(ValueError, match="hard_bounce"):
        SimulationRates(hard_bounce=0.6, soft_bounce=0.6)
    assert "delivered 97%" in SimulationRates().describe()
