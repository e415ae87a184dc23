"""Shopify's order webhooks over HTTP: guest and POS orders and tips are stored, not refused
(item 1); `orders/updated` and `orders/cancelled` on the same route take a cancelled order out of
everything and withdraw its post-purchase draft (item 4); a Shopify subscriber gets a welcome
(item 5). Bodies from tests/chat_ingest/payloads (its README names each shape's source); the
topic rides in `X-Shopify-Topic`, as Shopify sends it."""

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from engine.db import Database
from engine.models import utcnow
from engine.settings import Settings
from tests.webhook_payloads import payload_file

Headers = dict[str, dict[str, str]]
ROUTE = "/v1/webhooks/shopify/orders"


def post(
    client: TestClient, auth: Headers, body: dict[str, Any], topic: str | None = "orders/create"
) -> Any:
    """POST a body as Shopify does: JSON, with the topic header."""
    headers = dict(auth["ingest"])
    if topic is not None:
        headers["X-Shopify-Topic"] = topic
    return client.post(ROUTE, json=body, headers=headers)


def recent(body: dict[str, Any], *, days_ago: float) -> dict[str, Any]:
    """The body as a paid order placed (and last changed) `days_ago` ago."""
    at = (utcnow() - timedelta(days=days_ago)).isoformat()
    return body | {"created_at": at, "updated_at": at, "financial_status": "paid"}


def test_a_pos_sale_without_a_customer_is_stored_not_refused(
    client: TestClient, auth: Headers
) -> None:
    """Was 422 for ever (Shopify retried the same body): now 201, then 200 on the retry."""
    body = payload_file("orders_create_pos_without_customer.json")
    first = post(client, auth, body)
    again = post(client, auth, body)
    assert first.status_code == 201, first.text
    assert first.json() == {
        "order_id": "shopify:5987001122334",
        "customer_id": None,
        "duplicate": False,
        "status": "placed",
        "drafts_withdrawn": 0,
    }
    assert again.status_code == 200 and again.json()["duplicate"] is True


def test_a_guest_draft_order_with_a_custom_item_is_stored(
    client: TestClient, auth: Headers
) -> None:
    response = post(client, auth, payload_file("orders_create_draft_guest.json"))
    assert response.status_code == 201, response.text
    assert response.json()["customer_id"] == "dana.reyes@example.com"
    context = client.get(
        "/v1/customers/dana.reyes@example.com/context", headers=auth["marketer"]
    ).json()
    assert [p["name"] for p in context["orders"]["products"]] == ["Burr Grinder Pro"]
    assert context["orders"]["total_spend"] == {"USD": "64.00"}


def test_the_test_notification_is_acknowledged_as_a_test_order(
    client: TestClient, auth: Headers
) -> None:
    """The body "Send test notification" posts for all three topics."""
    for topic in ("orders/create", "orders/updated", "orders/cancelled"):
        response = post(client, auth, payload_file("orders_test_notification.json"), topic)
        assert response.status_code in (200, 201), response.text
        assert response.json()["status"] == "test"


@pytest.mark.parametrize("topic", ["orders/delete", "orders/edited", "customers/create"])
def test_a_topic_that_carries_no_order_is_answered_200_and_not_stored(
    client: TestClient, auth: Headers, db: Database, topic: str
) -> None:
    response = post(client, auth, {"id": 5987001122334}, topic)
    assert response.status_code == 200, response.text
    assert "does not carry an order" in response.json()["ignored"]
    assert client.get("/v1/status", headers=auth["ingest"]).json()["orders"] == 0


def test_a_body_without_a_topic_is_an_orders_create(client: TestClient, auth: Headers) -> None:
    response = post(client, auth, payload_file("orders_create_2024_subscribed.json"), topic=None)
    assert response.status_code == 201 and response.json()["status"] == "placed"


def test_a_cancelled_order_loses_its_post_purchase_draft_and_counts_nowhere(
    client: TestClient, auth: Headers
) -> None:
    """orders/create, a post-purchase campaign, then orders/cancelled on the same route: the
    waiting draft is withdrawn (its history says by whom and why), the order leaves the
    customer's context, and no post-purchase step is due any more."""
    body = recent(payload_file("orders_create_2024_subscribed.json"), days_ago=1.5)
    assert post(client, auth, body).status_code == 201
    run = client.post("/v1/campaigns/post_purchase/run", json={}, headers=auth["marketer"])
    assert run.json()["created"] == 1, run.text
    (draft_id,) = run.json()["draft_ids"]

    when = (datetime.fromisoformat(body["updated_at"]) + timedelta(hours=1)).isoformat()
    cancel = body | {"cancelled_at": when, "cancel_reason": "customer", "updated_at": when}
    response = post(client, auth, cancel, "orders/cancelled")

    assert response.status_code == 200, response.text
    assert (response.json()["status"], response.json()["drafts_withdrawn"]) == ("cancelled", 1)
    draft = client.get(f"/v1/review/{draft_id}", headers=auth["marketer"]).json()
    assert draft["status"] == "withdrawn"
    assert draft["history"][-1]["action"] == "withdrawn"
    assert draft["history"][-1]["actor"] == "shopify"
    assert draft["history"][-1]["changes"] == {"reason": "order cancelled"}
    context = client.get(
        "/v1/customers/shopify:7012345678901/context", headers=auth["marketer"]
    ).json()
    assert context["orders"]["count"] == 0 and context["orders"]["products"] == []
    again = client.post("/v1/campaigns/post_purchase/run", json={}, headers=auth["marketer"])
    assert again.json()["due"] == 0


def test_a_refund_reported_by_orders_updated_takes_the_order_out(
    client: TestClient, auth: Headers
) -> None:
    body = recent(payload_file("orders_create_2024_subscribed.json"), days_ago=2)
    post(client, auth, body)
    later = (datetime.fromisoformat(body["updated_at"]) + timedelta(hours=3)).isoformat()
    refund = body | {"financial_status": "refunded", "updated_at": later}
    assert post(client, auth, refund, "orders/updated").json()["status"] == "refunded"
    # An older version delivered late changes nothing back.
    assert post(client, auth, body, "orders/updated").json()["status"] == "refunded"


def test_a_new_shopify_subscriber_gets_a_welcome_draft(client: TestClient, auth: Headers) -> None:
    """Shopify's subscribed consent sets consent and the subscription date: a welcome
    campaign run right after the webhook drafts their welcome."""
    body = recent(payload_file("orders_create_2024_subscribed.json"), days_ago=0.01)
    body["customer"]["email_marketing_consent"]["consent_updated_at"] = body["created_at"]
    assert post(client, auth, body).status_code == 201
    run = client.post("/v1/campaigns/welcome/run", json={}, headers=auth["marketer"])
    assert (run.json()["due"], run.json()["created"]) == (1, 1), run.text
    (draft_id,) = run.json()["draft_ids"]
    draft = client.get(f"/v1/review/{draft_id}", headers=auth["marketer"]).json()
    assert (draft["customer_id"], draft["kind"], draft["step"]) == (
        "shopify:7012345678901",
        "welcome",
        "d0",
    )


@pytest.fixture
def signed_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(
        create_app(settings.model_copy(update={"shopify_webhook_secret": SecretStr("s3cret")}))
    ) as c:
        yield c


def test_every_topic_is_signed(signed_client: TestClient, auth: Headers) -> None:
    """The signature is checked before the topic: an unsigned ignored topic is still 401."""
    body = json.dumps(payload_file("orders_create_pos_without_customer.json")).encode()
    headers = {**auth["ingest"], "content-type": "application/json"}
    for topic in ("orders/cancelled", "orders/delete"):
        unsigned = signed_client.post(
            ROUTE, content=body, headers={**headers, "X-Shopify-Topic": topic}
        )
        assert unsigned.status_code == 401
    good = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    signed = signed_client.post(
        ROUTE,
        content=body,
        headers={**headers, "X-Shopify-Topic": "orders/updated", "X-Shopify-Hmac-Sha256": good},
    )
    assert signed.status_code == 201, signed.text


# POST /v1/orders: the same `status` for other sources, and orders with no buyer.


def order(**fields: Any) -> dict[str, Any]:
    return {
        "order_id": "o-1",
        "customer_id": "cus_1",
        "placed_at": (utcnow() - timedelta(days=2)).isoformat(),
        "currency": "USD",
        "total": "20.00",
        "items": [{"sku": "BEANS", "name": "House Beans", "quantity": 1, "unit_price": "20.00"}],
    } | fields


def test_an_order_posted_as_cancelled_counts_nowhere(client: TestClient, auth: Headers) -> None:
    response = client.post("/v1/orders", json=order(status="cancelled"), headers=auth["ingest"])
    assert response.status_code == 201 and response.json()["status"] == "cancelled"
    context = client.get("/v1/customers/cus_1/context", headers=auth["marketer"]).json()
    assert context["orders"]["count"] == 0 and context["rfm"]["frequency"] == "none"


def test_an_order_status_is_placed_by_default_and_checked(
    client: TestClient, auth: Headers
) -> None:
    placed = client.post("/v1/orders", json=order(), headers=auth["ingest"])
    assert placed.json()["status"] == "placed"
    bad = client.post(
        "/v1/orders", json=order(order_id="o-2", status="shipped"), headers=auth["ingest"]
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "status"


def test_an_order_with_no_buyer_is_stored_but_a_missing_buyer_is_refused(
    client: TestClient, auth: Headers
) -> None:
    """`customer_id: null` says "no buyer we know"; leaving the key out is still a mistake."""
    stored = client.post("/v1/orders", json=order(customer_id=None), headers=auth["ingest"])
    assert stored.status_code == 201 and stored.json()["customer_id"] is None
    missing = order(order_id="o-2")
    del missing["customer_id"]
    refused = client.post("/v1/orders", json=missing, headers=auth["ingest"])
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "customer_id"
