"""Shopify orders stored: guest, POS and draft orders and lines that are no product (item 1),
cancelled, voided, refunded and test orders that never count as purchases (item 4), and the
buyer's email marketing consent (item 5). Every body comes from tests/chat_ingest/payloads
(its README says which Shopify shape each follows)."""

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
from sqlalchemy import func, select

from chat_ingest.adapters.shopify import parse_shopify_order
from chat_ingest.platforms import store_shopify_order
from chat_ingest.schemas import CustomerCreate
from chat_ingest.service import StoredOrder, upsert_customer
from engine.customers.consent import unsubscribe
from engine.customers.context import build_context, monetary_cuts
from engine.customers.lifecycle import due_customers, order_anchor
from engine.db import Database
from engine.drafting.service import run_campaign
from engine.drafting.templates import TemplateDrafter
from engine.models import (
    Customer,
    Draft,
    DraftEvent,
    Order,
    OrderItem,
    Product,
    WebhookDelivery,
    utcnow,
)
from engine.outbox import deliver_due
from tests.webhook_payloads import payload_file

RECEIVER = "http://127.0.0.1:9/review"


def store(db: Database, body: dict[str, Any], *, topic: str = "orders/create") -> StoredOrder:
    """Parse and store one webhook body, as the route does."""
    parsed = parse_shopify_order(body, topic=topic)
    with db.write() as session:
        return store_shopify_order(session, parsed=parsed)


def known(db: Database, customer_id: str, **fields: Any) -> None:
    """A customer we already know (from a signup form or an import)."""
    with db.write() as session:
        upsert_customer(
            session, customer=CustomerCreate.model_validate({"id": customer_id} | fields)
        )


def row(db: Database, model: Any, key: str) -> Any:
    with db.read() as session:
        found = session.get(model, key)
        assert found is not None
        session.expunge(found)
        return found


def placed(body: dict[str, Any], *, days_ago: float, now: datetime) -> dict[str, Any]:
    """The body as a paid order placed (and last changed) `days_ago` before `now`."""
    at = (now - timedelta(days=days_ago)).isoformat()
    body.update(
        {
            "created_at": at,
            "updated_at": at,
            "test": False,
            "cancelled_at": None,
            "cancel_reason": None,
            "financial_status": "paid",
        }
    )
    return body


def cancelled(body: dict[str, Any], *, after: timedelta = timedelta(hours=2)) -> dict[str, Any]:
    """The same order as orders/cancelled sends it: cancelled_at set, updated_at later."""
    when = (datetime.fromisoformat(body["updated_at"]) + after).isoformat()
    return body | {
        "cancelled_at": when,
        "cancel_reason": "customer",
        "financial_status": "voided",
        "updated_at": when,
    }


# Item 1: every order Shopify can send is stored.


def test_a_pos_sale_without_a_customer_is_stored_with_no_buyer(db: Database) -> None:
    """No `customer` key and `"email": ""`: stored, under no customer (none is made up); a
    retry of the same body is a duplicate, not a 422 for ever."""
    body = payload_file("orders_create_pos_without_customer.json")
    first = store(db, body)
    again = store(db, body)
    assert (first.customer_id, first.duplicate, first.status) == (None, False, "placed")
    assert (again.customer_id, again.duplicate) == (None, True)
    with db.read() as session:
        order = session.scalars(select(Order)).one()
        assert order.customer_id is None and order.total == Decimal("12.50")
        assert [(i.sku, i.is_product) for i in order.items] == [
            ("BAR-FLATWHITE", True),
            ("BAKE-ALMCRO", True),
            ("shopify-line:tip", False),
        ]
        assert session.scalar(select(func.count()).select_from(Customer)) == 0
        # The tip never joins the catalog.
        assert set(session.scalars(select(Product.sku))) == {"BAR-FLATWHITE", "BAKE-ALMCRO"}
        # An order with no buyer is nobody's spend.
        assert monetary_cuts(session) == {}


def test_a_guest_order_creates_a_customer_keyed_by_the_email(db: Database) -> None:
    """ "customer": null with the email on the order: a new customer keyed by the email
    lower-cased, without consent; their custom item is in the spend, never a product."""
    stored = store(db, payload_file("orders_create_draft_guest.json"))
    assert stored.customer_id == "dana.reyes@example.com"
    guest = row(db, Customer, "dana.reyes@example.com")
    assert (guest.email, guest.signup_source, guest.marketing_consent) == (
        "Dana.Reyes@Example.com",
        "shopify",
        False,
    )
    with db.read() as session:
        found = build_context(session, customer_id="dana.reyes@example.com")
        learned = set(session.scalars(select(Product.sku)))
    assert found.orders.count == 1
    assert found.orders.total_spend == {"USD": Decimal("64.00")}
    assert [p.name for p in found.orders.products] == ["Burr Grinder Pro"]
    assert found.orders.categories == ["Grinders"]
    assert learned == {"GRIND-PRO"}


def test_a_guest_order_joins_the_customer_with_that_email(db: Database) -> None:
    """The customer we know by that email, whatever its case, gets the order."""
    known(db, "cus_77", email="dana.reyes@example.com", signup_source="website")
    stored = store(db, payload_file("orders_create_draft_guest.json"))
    assert stored.customer_id == "cus_77"
    assert row(db, Customer, "cus_77").signup_source == "website"  # their record is theirs
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 1


def test_a_later_shopify_customer_with_the_guests_email_is_the_same_customer(
    db: Database,
) -> None:
    store(db, payload_file("orders_create_draft_guest.json"))
    body = payload_file("orders_create_2024_subscribed.json")
    body["customer"]["email"] = body["email"] = "dana.reyes@example.com"
    assert store(db, body).customer_id == "dana.reyes@example.com"


def test_a_variant_without_a_sku_is_still_a_product(db: Database) -> None:
    """A real delivery's `"sku": ""` line: keyed by its variant, learned as a product."""
    store(db, payload_file("orders_create_empty_sku.json"))
    with db.read() as session:
        skus = set(session.scalars(select(Product.sku)))
    assert skus == {"5905884494769", "shopify-variant:41899282661450"}


# Item 4: cancelled, voided, refunded and test orders never count as purchases.


def test_the_test_notification_is_stored_but_changes_nobody(db: Database) -> None:
    """ "Send test notification" (a test order, cancelled and voided): stored as `test`; it
    makes up no customer (its John Smith "accepts marketing"), learns no product."""
    stored = store(db, payload_file("orders_test_notification.json"))
    assert (stored.status, stored.customer_id, stored.duplicate) == ("test", None, False)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Customer)) == 0
        assert session.scalar(select(func.count()).select_from(Product)) == 0


def test_a_test_order_of_a_known_customer_counts_nowhere(db: Database) -> None:
    """A test order under a customer we know: no order, spend or product in their context,
    no RFM, no post-purchase step, and their consent untouched."""
    known(db, "cus_1", email="john@example.com", marketing_consent=False)
    now = utcnow()
    body = placed(payload_file("orders_test_notification.json"), days_ago=2, now=now)
    body["test"] = True
    stored = store(db, body)
    assert (stored.status, stored.customer_id) == ("test", "cus_1")
    with db.read() as session:
        found = build_context(session, customer_id="cus_1", as_of=now)
        due = due_customers(session, kind="post_purchase", as_of=now)
        cuts = monetary_cuts(session)
    assert (found.orders.count, found.orders.total_spend, found.orders.products) == (0, {}, [])
    assert (found.rfm.frequency, found.rfm.monetary, found.lifecycle) == (
        "none",
        None,
        "new_subscriber",
    )
    assert due == [] and cuts == {}
    assert found.consent.marketing_consent is False  # buyer_accepts_marketing of a test


def test_a_cancelled_order_withdraws_its_waiting_post_purchase_draft(db: Database) -> None:
    """The order that got a "thanks for ordering" draft is cancelled: the draft is withdrawn
    (audit row naming Shopify and why, `draft.withdrawn` to the review webhook receiver that
    holds it), and the order no longer counts; the customer's other drafts stay."""
    now = utcnow()
    body = placed(payload_file("orders_create_2024_subscribed.json"), days_ago=1.5, now=now)
    store(db, body)
    earlier = placed(payload_file("orders_create_2024_subscribed.json"), days_ago=20, now=now)
    earlier["id"] = 5512345678000
    store(db, earlier)
    kept = Draft(
        customer_id="shopify:7012345678901",
        kind="post_purchase",
        step="d14",
        anchor=order_anchor("shopify:5512345678000"),
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
    with db.write() as session:
        session.add(kept)
    report = run_campaign(
        db,
        drafter=TemplateDrafter(),
        kind="post_purchase",
        as_of=now,
        actor="t",
        webhook_url=RECEIVER,
    )
    assert report.created == 1
    received: list[httpx.Request] = []

    def receiver(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(204)

    http = httpx.Client(transport=httpx.MockTransport(receiver))
    deliver_due(db, client=http, secret="s")  # the receiver holds the draft now
    received.clear()

    stored = store(db, cancelled(body), topic="orders/cancelled")

    assert (stored.status, stored.duplicate, stored.drafts_withdrawn) == ("cancelled", True, 1)
    with db.read() as session:
        drafts = {d.anchor: d for d in session.scalars(select(Draft))}
        withdrawn = drafts[order_anchor("shopify:5512345678901")]
        event = session.scalars(
            select(DraftEvent)
            .where(DraftEvent.draft_id == withdrawn.id)
            .where(DraftEvent.action == "withdrawn")
        ).one()
        found = build_context(session, customer_id="shopify:7012345678901", as_of=now)
        due = due_customers(session, kind="post_purchase", as_of=now, include_drafted=True)
    assert withdrawn.status == "withdrawn"
    assert drafts[order_anchor("shopify:5512345678000")].status == "pending_review"
    assert (event.actor, event.changes) == ("shopify", {"reason": "order cancelled"})
    assert found.orders.count == 1  # only the earlier order
    assert [d.anchor for d in due] == [order_anchor("shopify:5512345678000")]
    deliver_due(db, client=http, secret="s")
    (request,) = received
    sent = json.loads(request.content)
    assert sent["event"] == "draft.withdrawn"
    assert sent["draft"] == {"id": withdrawn.id, "status": "withdrawn", "reason": "order cancelled"}


def test_an_older_update_arriving_late_does_not_undo_a_newer_one(db: Database) -> None:
    """Deliveries arrive out of order: the version Shopify changed last wins."""
    now = utcnow()
    body = placed(payload_file("orders_create_2024_subscribed.json"), days_ago=3, now=now)
    store(db, cancelled(body), topic="orders/cancelled")  # arrives first
    late = store(db, body, topic="orders/updated")  # an older version, placed
    assert late.status == "cancelled"
    assert row(db, Order, "shopify:5512345678901").source_updated_at == datetime.fromisoformat(
        cancelled(body)["updated_at"]
    )


def test_an_update_for_an_order_we_lack_stores_it(db: Database) -> None:
    """orders/updated before orders/create (or the create lost): the order is stored, and the
    create arriving afterwards (older) changes nothing."""
    now = utcnow()
    body = placed(payload_file("orders_create_2024_subscribed.json"), days_ago=3, now=now)
    refunded = body | {
        "financial_status": "refunded",
        "updated_at": (now - timedelta(days=1)).isoformat(),
    }
    first = store(db, refunded, topic="orders/updated")
    then = store(db, body, topic="orders/create")
    assert (first.duplicate, first.status) == (False, "refunded")
    assert (then.duplicate, then.status) == (True, "refunded")
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(OrderItem)) == 1


def test_a_partial_refund_keeps_the_order_a_purchase(db: Database) -> None:
    now = utcnow()
    body = placed(payload_file("orders_create_2024_subscribed.json"), days_ago=3, now=now)
    store(db, body)
    partly = body | {
        "financial_status": "partially_refunded",
        "updated_at": (now - timedelta(days=1)).isoformat(),
    }
    assert store(db, partly, topic="orders/updated").status == "placed"
    with db.read() as session:
        assert build_context(session, customer_id="shopify:7012345678901").orders.count == 1


# Item 5: Shopify's email marketing consent.


def test_a_new_shopify_subscriber_is_due_for_the_welcome_sequence(db: Database) -> None:
    """`email_marketing_consent.state: subscribed` gives consent, and `consent_updated_at`
    dates the subscription: a welcome campaign run right after drafts their welcome."""
    now = utcnow()
    body = placed(payload_file("orders_create_2024_subscribed.json"), days_ago=0.01, now=now)
    consented = now - timedelta(minutes=20)
    body["customer"]["email_marketing_consent"]["consent_updated_at"] = consented.isoformat()
    store(db, body)
    buyer = row(db, Customer, "shopify:7012345678901")
    assert buyer.marketing_consent is True
    assert buyer.subscribed_at == buyer.consent_at == consented
    report = run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=now, actor="t")
    assert (report.due, report.created) == (1, 1)
    with db.read() as session:
        draft = session.scalars(select(Draft)).one()
    assert (draft.customer_id, draft.kind, draft.step) == ("shopify:7012345678901", "welcome", "d0")


def test_a_known_customer_matched_by_email_is_subscribed(db: Database) -> None:
    known(db, "cus_5", email="MIRA@example.com", marketing_consent=False)
    assert store(db, payload_file("orders_create_2024_subscribed.json")).customer_id == "cus_5"
    mira = row(db, Customer, "cus_5")
    assert mira.marketing_consent is True
    assert mira.subscribed_at == datetime(2026, 11, 18, 9, 15, 1, tzinfo=UTC)


def test_a_checkout_subscriber_of_api_2025_is_subscribed_at_the_order(db: Database) -> None:
    """API 2025-01 on, the order's customer has no consent fields: the box ticked at checkout
    (`buyer_accepts_marketing`) on orders/create subscribes them as of the order."""
    store(db, payload_file("orders_create_empty_sku.json"))
    buyer = row(db, Customer, "shopify:8094839668810")
    assert buyer.marketing_consent is True
    assert buyer.subscribed_at == datetime(2026, 11, 16, 18, 9, 48, tzinfo=UTC)


def test_not_subscribed_changes_nothing_for_a_known_customer(db: Database) -> None:
    """`not_subscribed` (and pending, invalid, redacted) gives a new customer no consent and
    leaves a known one as they were: it is not an unsubscribe."""
    known(db, "shopify:7012345678901", email="mira@example.com", marketing_consent=True)
    body = payload_file("orders_create_2024_subscribed.json")
    body["customer"]["email_marketing_consent"]["state"] = "not_subscribed"
    store(db, body)
    assert row(db, Customer, "shopify:7012345678901").marketing_consent is True
    other = payload_file("orders_create_2024_subscribed.json")
    other["customer"] |= {"id": 7012345678999, "email": "new@example.com"}
    other["customer"]["email_marketing_consent"]["state"] = "pending"
    other["id"] = 5512345678999
    store(db, other)
    assert row(db, Customer, "shopify:7012345678999").marketing_consent is False


def test_a_later_unsubscribed_withdraws_consent_and_waiting_drafts(db: Database) -> None:
    """As every route does: consent off, the waiting welcome draft withdrawn."""
    now = utcnow()
    body = placed(payload_file("orders_create_2024_subscribed.json"), days_ago=0.5, now=now)
    body["customer"]["email_marketing_consent"]["consent_updated_at"] = body["created_at"]
    store(db, body)
    run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=now, actor="t")
    update = body | {"updated_at": now.isoformat()}
    update["customer"] = body["customer"] | {
        "email_marketing_consent": {
            "state": "unsubscribed",
            "opt_in_level": "single_opt_in",
            "consent_updated_at": (now - timedelta(minutes=5)).isoformat(),
        }
    }
    assert store(db, update, topic="orders/updated").drafts_withdrawn == 1
    buyer = row(db, Customer, "shopify:7012345678901")
    assert buyer.marketing_consent is False
    assert buyer.unsubscribed_at == now - timedelta(minutes=5)
    with db.read() as session:
        draft = session.scalars(select(Draft)).one()
        event = session.scalars(select(DraftEvent).where(DraftEvent.action == "withdrawn")).one()
    assert draft.status == "withdrawn"
    assert (event.actor, event.changes) == ("shopify", {"reason": "consent withdrawn"})


def test_an_unsubscribe_newer_than_the_shopify_consent_stands(db: Database) -> None:
    """Someone who unsubscribed with us after Shopify's `consent_updated_at` is never
    subscribed again by that (older) consent; a newer subscription does subscribe them."""
    body = payload_file("orders_create_2024_subscribed.json")
    store(db, body)
    with db.write() as session:
        unsubscribe(session, customer_id="shopify:7012345678901", actor="ops")
    store(db, body | {"id": 5512345678002})  # the same (older) consent, on another order
    assert row(db, Customer, "shopify:7012345678901").marketing_consent is False
    later = payload_file("orders_create_2024_subscribed.json")
    later["id"] = 5512345678003
    later["customer"]["email_marketing_consent"]["consent_updated_at"] = (
        utcnow() + timedelta(minutes=1)
    ).isoformat()
    store(db, later)
    assert row(db, Customer, "shopify:7012345678901").marketing_consent is True


def test_an_unsubscribed_new_customer_is_not_subscribed_by_an_older_consent(
    db: Database,
) -> None:
    """The unsubscribe of a new customer is kept with its time: an older "subscribed",
    delivered late, cannot subscribe them."""
    body = payload_file("orders_create_2024_subscribed.json")
    body["customer"]["email_marketing_consent"]["state"] = "unsubscribed"
    store(db, body)
    buyer = row(db, Customer, "shopify:7012345678901")
    assert buyer.marketing_consent is False
    assert buyer.unsubscribed_at == datetime(2026, 11, 18, 9, 15, 1, tzinfo=UTC)
    older = payload_file("orders_create_2024_subscribed.json")
    older["id"] = 5512345678004
    older["customer"]["email_marketing_consent"]["consent_updated_at"] = "2026-11-01T10:00:00+01:00"
    store(db, older)
    assert row(db, Customer, "shopify:7012345678901").marketing_consent is False


def test_a_withdrawn_draft_the_receiver_never_got_is_never_sent(db: Database) -> None:
    """A draft the receiver was never sent is not sent at all once withdrawn (the outbox row
    goes), as with an unsubscribe."""
    now = utcnow()
    body = placed(payload_file("orders_create_2024_subscribed.json"), days_ago=1.5, now=now)
    store(db, body)
    run_campaign(
        db,
        drafter=TemplateDrafter(),
        kind="post_purchase",
        as_of=now,
        actor="t",
        webhook_url=RECEIVER,
    )
    store(db, cancelled(body), topic="orders/cancelled")
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(WebhookDelivery)) == 0
