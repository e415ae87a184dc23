"""The customer context: every field, the RFM and lifecycle edges, opt-out suppression, blocked
counts, and that nothing said by agents or bots, or blocked by the gate, ever reaches it."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select

from chat_ingest.schemas import CustomerCreate, OrderCreate, TranscriptCreate
from chat_ingest.service import store_order, store_transcript, upsert_customer
from engine.customers.context import (
    build_context,
    frequency_band,
    lifecycle_stage,
    monetary_cuts,
    recency_band,
    turn_reason,
)
from engine.db import Database
from engine.errors import NotFoundError
from engine.models import BlockedCandidate, Fact
from engine.runtime import Services
from tests.builders import AS_OF


def customer(db: Database, customer_id: str, **fields: Any) -> None:
    values = {
        "id": customer_id,
        "email": f"{customer_id}@example.com",
        "first_name": "Ana",
        "subscribed_at": "2026-01-05T10:00:00Z",
        "marketing_consent": True,
    } | fields
    with db.write() as session:
        upsert_customer(session, customer=CustomerCreate.model_validate(values))


def order(
    db: Database,
    order_id: str,
    customer_id: str | None,
    *,
    days_ago: int,
    items: list[Any],
    status: str = "placed",
) -> None:
    total = sum(Decimal(str(i["unit_price"])) * i["quantity"] for i in items)
    with db.write() as session:
        store_order(
            session,
            order=OrderCreate.model_validate(
                {
                    "order_id": order_id,
                    "customer_id": customer_id,
                    "placed_at": (AS_OF - timedelta(days=days_ago)).isoformat(),
                    "currency": "USD",
                    "total": str(total),
                    "status": status,
                    "items": items,
                }
            ),
        )


def item(sku: str, name: str, category: str, price: float, quantity: int = 1) -> dict[str, Any]:
    return {
        "sku": sku,
        "name": name,
        "category": category,
        "quantity": quantity,
        "unit_price": price,
    }


def chat(db: Database, conversation: str, customer_id: str, *turns: tuple[str, str]) -> None:
    transcript = TranscriptCreate.model_validate(
        {
            "conversation_id": conversation,
            "customer_id": customer_id,
            "messages": [
                {
                    "id": f"{conversation}-{i}",
                    "role": role,
                    "text": text,
                    "sent_at": (AS_OF - timedelta(days=10, minutes=-i)).isoformat(),
                }
                for i, (role, text) in enumerate(turns)
            ],
        }
    )
    with db.write() as session:
        store_transcript(session, transcript=transcript)


def context_json(db: Database, customer_id: str) -> str:
    with db.read() as session:
        return build_context(session, customer_id=customer_id, as_of=AS_OF).model_dump_json()


@pytest.mark.parametrize(
    ("days", "band"),
    [(0, "0-30"), (30, "0-30"), (31, "31-90"), (90, "31-90"), (91, "91-180"), (180, "91-180")]
    + [(181, "180+"), (900, "180+")],
)
def test_recency_bands_at_their_edges(days: int, band: str) -> None:
    """0-30, 31-90, 91-180 and 180+ days since the last order."""
    assert recency_band(days) == band


@pytest.mark.parametrize(
    ("orders", "band"),
    [(0, "none"), (1, "first_time"), (2, "repeat"), (3, "repeat"), (4, "frequent")]
    + [(9, "frequent"), (10, "vip"), (40, "vip")],
)
def test_frequency_bands_at_their_edges(orders: int, band: str) -> None:
    """First-time, repeat (2-3), frequent (4-9), VIP (10+)."""
    assert frequency_band(orders) == band


@pytest.mark.parametrize(
    ("orders", "days_since", "stage"),
    [
        (0, None, "new_subscriber"),
        (1, 10, "new_customer"),
        (3, 10, "repeat"),
        (12, 10, "vip"),
        (12, 90, "vip"),
        (12, 91, "dormant"),
        (1, 200, "dormant"),
    ],
)
def test_lifecycle_stages(orders: int, days_since: int | None, stage: str) -> None:
    """New subscriber, new customer, repeat, VIP, and dormant after 90 days without an order."""
    last = None if days_since is None else AS_OF - timedelta(days=days_since)
    assert lifecycle_stage(orders=orders, last_order_at=last, as_of=AS_OF) == stage


def test_monetary_tertiles_split_ordering_customers_in_thirds(db: Database) -> None:
    """The lowest third of spenders is low, the top third high."""
    for number, spend in enumerate([10, 20, 30, 40, 50, 60]):
        customer(db, f"m{number}")
        order(
            db, f"mo{number}", f"m{number}", days_ago=5, items=[item("S", "Beans", "beans", spend)]
        )
    with db.read() as session:
        cuts = monetary_cuts(session)
        bands = [
            build_context(session, customer_id=f"m{n}", as_of=AS_OF, cuts=cuts).rfm.monetary
            for n in range(6)
        ]
    assert cuts["USD"] == (Decimal("20.00"), Decimal("40.00"))
    assert bands == ["low", "low", "mid", "mid", "high", "high"]


@pytest.mark.parametrize("status", ["cancelled", "voided", "refunded", "test"])
def test_only_a_placed_order_counts_in_the_context(db: Database, status: str) -> None:
    """A newer, bigger order that is no purchase is in no count, spend, product, category,
    RFM band or lifecycle stage."""
    customer(db, "p1")
    order(db, "p1-a", "p1", days_ago=40, items=[item("BN-1", "Ethiopia Guji", "beans", 18)])
    order(
        db,
        "p1-b",
        "p1",
        days_ago=2,
        items=[item("GR-1", "Baratza Encore", "grinders", 149, 3)],
        status=status,
    )
    with db.read() as session:
        found = build_context(session, customer_id="p1", as_of=AS_OF)
    assert found.orders.count == 1
    assert found.orders.total_spend == {"USD": Decimal("18.00")}
    assert found.orders.last_order_at == AS_OF - timedelta(days=40)
    assert [p.sku for p in found.orders.products] == ["BN-1"]
    assert found.orders.categories == ["beans"]
    assert (found.rfm.recency, found.rfm.recency_days, found.rfm.frequency) == (
        "31-90",
        40,
        "first_time",
    )
    assert found.lifecycle == "new_customer"


def test_a_line_that_is_no_product_is_spend_but_never_a_product_bought(db: Database) -> None:
    """A tip or a custom item: in the order's total, not in products or categories."""
    customer(db, "p2")
    tip = item("shopify-line:tip", "Tip", "tips", 3) | {"is_product": False}
    order(db, "p2-a", "p2", days_ago=3, items=[item("BN-1", "Ethiopia Guji", "beans", 18), tip])
    with db.read() as session:
        found = build_context(session, customer_id="p2", as_of=AS_OF)
    assert found.orders.total_spend == {"USD": Decimal("21.00")}
    assert [p.sku for p in found.orders.products] == ["BN-1"]
    assert found.orders.categories == ["beans"]
    assert "Tip" not in found.model_dump_json()


def test_monetary_thirds_count_only_purchases_of_known_buyers(db: Database) -> None:
    """Cancelled orders and orders with no buyer do not move anyone's third."""
    for number, spend in enumerate([10, 20, 30]):
        customer(db, f"t{number}")
        order(db, f"to{number}", f"t{number}", days_ago=5, items=[item("S", "B", "b", spend)])
    order(db, "big", "t0", days_ago=4, items=[item("S", "B", "b", 900)], status="cancelled")
    for n in range(3):
        order(db, f"pos{n}", None, days_ago=4, items=[item("S", "B", "b", 5)])
    with db.read() as session:
        assert monetary_cuts(session) == {"USD": (Decimal("10.00"), Decimal("20.00"))}
        assert build_context(session, customer_id="t0", as_of=AS_OF).rfm.monetary == "low"


def test_context_fields_from_orders_chats_and_consent(services: Services) -> None:
    """Name, consent, orders with products and categories, RFM, lifecycle, intents, facts with
    provenance, and blocked counts by reason."""
    db = services.db
    customer(db, "c1", first_name="Maya")
    order(db, "o1", "c1", days_ago=40, items=[item("GR-1", "Baratza Encore", "grinders", 149)])
    order(
        db,
        "o2",
        "c1",
        days_ago=12,
        items=[item("BN-1", "Ethiopia Guji", "beans", 18, 2), item("GR-F", "Burr set", "parts", 9)],
    )
    order(db, "o3", "c1", days_ago=-5, items=[item("BN-2", "Future order", "beans", 5)])
    chat(
        db,
        "k1",
        "c1",
        ("bot", "Hi! Looks like you're a wholesale customer at Brightside Deli."),
        ("customer", "I run a bakery and since the chemo I can't taste much"),
        ("agent", "Sounds like you're a pro baker! I see you're with the Riverside club."),
        ("customer", "how much is the Studio plan? my husband thinks the decaf is too weak"),
    )
    services.pipeline().run_until_idle()
    with db.read() as session:
        found = build_context(session, customer_id="c1", as_of=AS_OF)
    assert found.first_name == "Maya"
    assert found.consent.marketing_consent is True
    assert found.orders.count == 2  # the order placed after as_of does not count
    assert found.orders.total_spend == {"USD": Decimal("194.00")}
    assert found.orders.first_order_at == AS_OF - timedelta(days=40)
    assert found.orders.last_order_at == AS_OF - timedelta(days=12)
    assert [p.sku for p in found.orders.products] == ["BN-1", "GR-F", "GR-1"]
    assert found.orders.products[0].quantity == 2
    assert found.orders.categories == ["beans", "grinders", "parts"]
    assert (found.rfm.recency, found.rfm.recency_days, found.rfm.frequency) == (
        "0-30",
        12,
        "repeat",
    )
    assert found.lifecycle == "repeat"
    assert "pricing_interest" in {i.intent for i in found.intents}
    [fact] = found.facts
    assert (fact.category, fact.value, fact.quote) == ("business", "bakery", "I run a bakery")
    assert fact.message_id == "k1-1" and fact.conversation_id == "k1"
    assert fact.span == (0, len("I run a bakery"))
    assert fact.said_at == AS_OF - timedelta(days=10, minutes=-1)
    assert fact.extractor.startswith("facts.rules.v1/")
    assert found.blocked["sensitive"] >= 1
    assert found.blocked["third_party"] >= 1
    assert found.blocked["bot_stated"] == 1
    assert found.blocked["inferred_by_agent"] == 1
    dumped = found.model_dump_json().lower()
    for never in ("chemo", "husband", "riverside", "brightside", "pro baker", "too weak", "@"):
        assert never not in dumped


def test_opted_out_topics_are_withheld_from_facts_products_and_intents(services: Services) -> None:
    """'please don't email me about grinders' keeps grinders out of everything a drafter sees."""
    db = services.db
    customer(db, "c2")
    order(
        db, "o9", "c2", days_ago=20, items=[item("GR-1", "Baratza Encore grinder", "grinders", 149)]
    )
    order(db, "o10", "c2", days_ago=15, items=[item("BN-1", "House Espresso", "beans", 16)])
    chat(
        db,
        "k2",
        "c2",
        ("customer", "we use a hand grinder at home and I love the House Espresso"),
        ("customer", "please don't email me about grinders, we're sorted"),
    )
    services.pipeline().run_until_idle()
    with db.read() as session:
        found = build_context(session, customer_id="c2", as_of=AS_OF)
    assert [o.topic for o in found.opt_outs] == ["grinders"]
    assert found.opt_outs[0].quote == "don't email me about grinders"
    kept = " ".join(f"{f.value} {f.quote}" for f in found.facts).lower()
    assert "house espresso" in kept
    assert "grinder" not in kept
    assert [p.sku for p in found.orders.products] == ["BN-1"]
    assert found.orders.count == 2  # what they bought still counts; only the topic is withheld
    assert found.withheld_by_opt_out >= 2


def test_unsubscribing_in_chat_turns_marketing_consent_off(services: Services) -> None:
    """ "stop emailing me" is an opt-out from all marketing: consent reads false."""
    customer(services.db, "c3")
    chat(services.db, "k3", "c3", ("customer", "I run a florist. stop emailing me please"))
    services.pipeline().run_until_idle()
    with services.db.read() as session:
        found = build_context(session, customer_id="c3", as_of=AS_OF)
    assert found.consent.opted_out_in_chat is True
    assert found.consent.marketing_consent is False
    assert found.facts == []


def test_a_customer_with_nothing_yet(db: Database) -> None:
    """A new subscriber: no orders, no segment, no facts, nothing blocked."""
    customer(db, "c4", marketing_consent=False)
    with db.read() as session:
        found = build_context(session, customer_id="c4", as_of=AS_OF)
    assert found.lifecycle == "new_subscriber"
    assert found.rfm.recency is None and found.rfm.monetary is None
    assert found.rfm.frequency == "none"
    assert found.orders.count == 0 and found.orders.products == []
    assert found.consent.marketing_consent is False
    assert (found.facts, found.opt_outs, found.intents, found.blocked) == ([], [], [], {})


def test_unknown_customer_is_not_found(db: Database) -> None:
    """Asking for a customer we do not know is an error, not an empty context."""
    with db.read() as session, pytest.raises(NotFoundError):
        build_context(session, customer_id="nobody", as_of=AS_OF)


def test_facts_and_blocked_counts_are_stored_once_when_a_batch_runs_again(
    services: Services,
) -> None:
    """A crash after storing means the batch runs again: no duplicate facts or counts."""
    customer(services.db, "c5")
    chat(services.db, "k5", "c5", ("customer", "I run a salon with my sister. we use a V60"))
    pipeline = services.pipeline()
    messages = pipeline.claim(limit=10)
    pipeline.process(messages)
    pipeline.process(messages)
    with services.db.read() as session:
        facts = session.scalar(select(func.count(Fact.id)))
        blocked = session.scalars(select(BlockedCandidate.count)).all()
        found = build_context(session, customer_id="c5", as_of=AS_OF)
    assert facts == 2
    assert sum(blocked) == found.blocked["third_party"] == 1
    assert {f.quote for f in found.facts} == {"I run a salon", "we use a V60"}


def test_agent_and_bot_turns_are_never_facts(services: Services) -> None:
    """An agent saying it about the customer, even plainly, produces nothing."""
    customer(services.db, "c6")
    chat(
        services.db,
        "k6",
        "c6",
        ("agent", "I run a bakery too! You mentioned your studio in Leeds."),
        ("bot", "We love the Ethiopian. Your plan is the Office Plan."),
        ("customer", "ok thanks"),
    )
    services.pipeline().run_until_idle()
    with services.db.read() as session:
        found = build_context(session, customer_id="c6", as_of=AS_OF)
    assert found.facts == [] and found.opt_outs == []
    assert found.blocked == {"agent_stated": 1, "bot_stated": 1}


@pytest.mark.parametrize(
    ("role", "text", "reason"),
    [
        ("agent", "Sounds like you're a pro photographer!", "inferred_by_agent"),
        ("bot", "I bet you're a busy parent.", "inferred_by_agent"),
        ("agent", "I see you're with the Riverside club.", "agent_stated"),
        ("bot", "Your account says wholesale.", "bot_stated"),
        ("agent", "Thanks, that's shipped today.", None),
    ],
)
def test_turn_reasons(role: str, text: str, reason: str | None) -> None:
    """Agent and bot statements about the customer are counted by kind; others are not."""
    assert turn_reason(role=role, text=text) == reason


def test_fact_values_are_spelled_as_the_customer_and_the_catalog_spell_them(
    services: Services,
) -> None:
    """A misspelt fact word is corrected to a word the customer wrote elsewhere or the catalog
    holds; a brand the catalog sells or the customer capitalised stands; a word nothing vouches
    for is marked, and the fact is kept (with its quote as said) for the reviewer."""
    db = services.db
    customer(db, "s1")
    order(db, "s-o1", "s1", days_ago=20, items=[item("GR-9", "Baratza Encore", "grinders", 149)])
    chat(
        db,
        "s-k1",
        "s1",
        ("customer", "im a total begginer"),
        ("customer", "is the starter kit good for a beginner?"),
        ("customer", "we use a baratza encore"),
        ("customer", "just got a Gaggia"),
        ("customer", "we use a bialetti every day"),
    )
    customer(db, "s2")
    chat(db, "s-k2", "s2", ("customer", "im a total begginer"))
    services.pipeline().run_until_idle()
    with db.read() as session:
        first = build_context(session, customer_id="s1", as_of=AS_OF)
        second = build_context(session, customer_id="s2", as_of=AS_OF)
    spelled = {(f.category, f.value): f.unknown_words for f in first.facts}
    assert spelled == {
        ("role", "total beginner"): [],
        ("uses", "baratza encore"): [],
        ("uses", "gaggia"): [],
        ("uses", "bialetti"): ["bialetti"],
    }
    role = next(f for f in first.facts if f.category == "role")
    assert role.quote == "im a total begginer"
    [alone] = second.facts
    assert (alone.value, alone.unknown_words) == ("total begginer", ["begginer"])
    with db.read() as session:
        stored = session.scalars(select(Fact.value).where(Fact.customer_id == "s1")).all()
    assert "total begginer" in stored  # the stored fact stays as said
