"""Chatwoot and Shopify webhooks through HTTP: identity, idempotency, signatures."""

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import select

from api.app import create_app
from engine.db import Database
from engine.models import Conversation, Customer, CustomerMerge, Fact, Message, Order
from engine.runtime import Services
from engine.settings import Settings
from tests.webhook_payloads import payload_file

Headers = dict[str, dict[str, str]]


def chatwoot_event(
    message_id: int = 118,
    *,
    message_type: str = "incoming",
    private: bool = False,
    identifier: str | None = None,
    email: str | None = "jane@acme.test",
) -> dict[str, Any]:
    return {
        "event": "message_created",
        "id": message_id,
        "content": "we brew with an AeroPress at the studio",
        "created_at": "2021-07-23T18:02:48.000Z",
        "message_type": message_type,
        "content_type": "text",
        "private": private,
        "content_attributes": {},
        "source_id": None,
        "sender": {"id": 14, "name": "Jane Doe", "avatar": "", "type": "contact"},
        "inbox": {"id": 1, "name": "Acme Support"},
        "conversation": {
            "id": 10,
            "inbox_id": 1,
            "channel": "Channel::WebWidget",
            "status": "open",
            "meta": {
                "sender": {
                    "id": 14,
                    "name": "Jane Doe",
                    "email": email,
                    "identifier": identifier,
                    "phone_number": None,
                    "type": "contact",
                },
                "assignee": {"id": 1, "name": "John", "type": "user"},
            },
        },
        "account": {"id": 1, "name": "Acme Inc"},
    }


def shopify_order(
    order_id: int = 820982911946154508, email: str = "bo@example.com"
) -> dict[str, Any]:
    return {
        "id": order_id,
        "email": email,
        "created_at": "2026-10-05T12:00:00-04:00",
        "currency": "USD",
        "total_price": "111.00",
        "customer": {
            "id": 115310627314723954,
            "email": email,
            "first_name": "Bo",
            "email_marketing_consent": {"state": "subscribed"},
        },
        "line_items": [
            {
                "id": 1,
                "variant_id": 11,
                "product_id": 111,
                "title": "Burr Grinder Pro",
                "sku": "GRIND-PRO",
                "quantity": 1,
                "price": "99.00",
                "vendor": "K&C",
            },
            {
                "id": 2,
                "variant_id": 22,
                "product_id": 222,
                "title": "Paper Filters 100pk",
                "sku": "",
                "quantity": 2,
                "price": "6.00",
                "vendor": "K&C",
            },
        ],
    }


def test_chatwoot_message_with_key_in_query(
    client: TestClient, keys: dict[str, str], db: Database
) -> None:
    url = f"/v1/webhooks/chatwoot?key={keys['ingest']}"
    first = client.post(url, json=chatwoot_event())
    again = client.post(url, json=chatwoot_event())
    assert first.status_code == 202 and again.json()["duplicate"] is True
    assert first.json()["customer_id"] == "jane@acme.test"
    assert first.json()["conversation_id"] == "chatwoot:1:10"
    with db.read() as session:
        message = session.scalars(select(Message)).one()
    assert (message.role, message.message_id) == ("customer", "chatwoot:1:118")


def test_chatwoot_roles_and_private_notes(client: TestClient, auth: Headers, db: Database) -> None:
    url = "/v1/webhooks/chatwoot"
    client.post(url, json=chatwoot_event(1, message_type="outgoing"), headers=auth["ingest"])
    client.post(url, json=chatwoot_event(2, message_type="template"), headers=auth["ingest"])
    note = client.post(
        url, json=chatwoot_event(3, message_type="outgoing", private=True), headers=auth["ingest"]
    )
    assert note.status_code == 200 and "private" in note.json()["ignored"]
    with db.read() as session:
        roles = dict(session.execute(select(Message.message_id, Message.role)).all())
    assert roles == {"chatwoot:1:1": "agent", "chatwoot:1:2": "bot"}


def test_chatwoot_contact_identity(client: TestClient, auth: Headers, db: Database) -> None:
    client.post(
        "/v1/customers", json={"id": "cus_9", "email": "Jane@Acme.test"}, headers=auth["ingest"]
    )
    by_email = client.post("/v1/webhooks/chatwoot", json=chatwoot_event(1), headers=auth["ingest"])
    assert by_email.json()["customer_id"] == "cus_9"
    event = chatwoot_event(2, identifier="cus_9")
    event["conversation"]["id"] = 10
    by_identifier = client.post("/v1/webhooks/chatwoot", json=event, headers=auth["ingest"])
    assert by_identifier.json()["customer_id"] == "cus_9"
    anonymous = chatwoot_event(3, email=None)
    anonymous["conversation"]["id"] = 11
    assert (
        client.post("/v1/webhooks/chatwoot", json=anonymous, headers=auth["ingest"]).json()[
            "customer_id"
        ]
        == "chatwoot-contact:14"
    )


def test_chatwoot_unknown_message_type_is_422(client: TestClient, auth: Headers) -> None:
    response = client.post(
        "/v1/webhooks/chatwoot",
        json=chatwoot_event(message_type="sideways"),
        headers=auth["ingest"],
    )
    assert response.status_code == 422 and response.json()["error"]["field"] == "message_type"


# Chatwoot webhook bodies built from Chatwoot's documented shapes: the README there says which.
CHATWOOT = "/v1/webhooks/chatwoot"


def chatwoot_payload(name: str, **changes: Any) -> dict[str, Any]:
    """A Chatwoot body from tests/chat_ingest/payloads, with top-level changes."""
    return payload_file(name) | changes


def visitor_says(text: str) -> dict[str, Any]:
    """The documented `message_created` sample: a widget visitor with no email yet (contact 14)
    in conversation 10, saying `text`."""
    return chatwoot_payload("chatwoot_message_created.json", content=text)


def after_email_collect(message_id: int, text: str) -> dict[str, Any]:
    """A later message of conversation 10, once the visitor answered the email-collect bot:
    the documented `message_updated` sample's conversation (Chatwoot merged contact 14 into
    contact 12, jane@acme.inc), as a new message of the visitor."""
    return chatwoot_payload(
        "chatwoot_message_updated.json",
        event="message_created",
        id=message_id,
        content=text,
        created_at="2021-07-23T18:04:10.000Z",
    )


def identified(message_id: int, conversation: int, identifier: str, email: str) -> dict[str, Any]:
    """The documented `message_created` sample from a contact the shop's site identified
    (the widget's setUser: `identifier` and `email` on the contact)."""
    payload = chatwoot_payload("chatwoot_message_created.json", id=message_id)
    payload["conversation"]["id"] = conversation
    payload["conversation"]["meta"]["sender"].update(identifier=identifier, email=email)
    return payload


def test_a_chatwoot_conversation_keeps_its_customer_when_the_visitor_gives_an_email(
    client: TestClient, auth: Headers, db: Database
) -> None:
    """The email-collect bot mid-conversation: later messages were refused with 409 for ever."""
    first = client.post(CHATWOOT, json=visitor_says("hi"), headers=auth["ingest"])
    assert first.status_code == 202
    assert first.json()["customer_id"] == "chatwoot-contact:14"
    later = after_email_collect(121, "it's for the studio, we're opening in March")
    second = client.post(CHATWOOT, json=later, headers=auth["ingest"])
    again = client.post(CHATWOOT, json=later, headers=auth["ingest"])
    assert second.status_code == 202, second.text
    assert second.json()["customer_id"] == "chatwoot-contact:14"
    assert again.status_code == 202 and again.json()["duplicate"] is True
    with db.read() as session:
        customer = session.get(Customer, "chatwoot-contact:14")
        assert customer is not None and customer.email == "jane@acme.inc"
        owners = set(session.scalars(select(Message.customer_id)))
        assert owners == {"chatwoot-contact:14"}
        assert session.scalars(select(CustomerMerge)).all() == []


def test_a_chatwoot_visitor_who_gives_a_known_customers_email_becomes_that_customer(
    client: TestClient, auth: Headers, services: Services
) -> None:
    """The visitor's chat, facts and vectors join the profile of the customer with that email,
    who survives (the business's own id); one audit row records the merge."""
    client.post(
        "/v1/customers",
        json={"id": "cus_9", "email": "Jane@Acme.inc", "marketing_consent": True},
        headers=auth["ingest"],
    )
    said = "we brew with an AeroPress at the studio"
    assert client.post(CHATWOOT, json=visitor_says(said), headers=auth["ingest"]).status_code
    services.pipeline().run_until_idle()
    provisional = services.store.count(customer_id="chatwoot-contact:14")
    assert provisional > 0

    later = after_email_collect(121, "can you ship to the studio?")
    response = client.post(CHATWOOT, json=later, headers=auth["ingest"])
    assert response.status_code == 202, response.text
    assert response.json()["customer_id"] == "cus_9"
    with services.db.read() as session:
        assert session.get(Customer, "chatwoot-contact:14") is None
        conversation = session.get(Conversation, "chatwoot:1:10")
        assert conversation is not None and conversation.customer_id == "cus_9"
        assert set(session.scalars(select(Message.customer_id))) == {"cus_9"}
        assert set(session.scalars(select(Fact.customer_id))) == {"cus_9"}
        merge = session.scalars(select(CustomerMerge)).one()
        assert (merge.customer_id, merge.merged_id) == ("cus_9", "chatwoot-contact:14")
        assert merge.moved["messages"] == 1 and merge.moved["vectors"] == provisional
        assert merge.actor.startswith("chatwoot webhook, key test-ingest")
    assert services.store.count(customer_id="chatwoot-contact:14") == 0
    assert services.store.count(customer_id="cus_9") == provisional
    context = client.get("/v1/customers/cus_9/context", headers=auth["marketer"]).json()
    assert any("AeroPress" in fact["quote"] for fact in context["facts"])
    missing = client.get("/v1/customers/chatwoot-contact:14/context", headers=auth["marketer"])
    assert missing.status_code == 404


def test_a_chatwoot_identifier_with_a_shopify_customers_email_is_that_customer(
    client: TestClient, auth: Headers, db: Database
) -> None:
    """No second profile under the identifier: the customer who has the email is the one."""
    client.post("/v1/webhooks/shopify/orders", json=shopify_order(), headers=auth["ingest"])
    event = identified(130, 20, "user-77", "bo@example.com")
    response = client.post(CHATWOOT, json=event, headers=auth["ingest"])
    assert response.status_code == 202
    assert response.json()["customer_id"] == "shopify:115310627314723954"
    with db.read() as session:
        assert set(session.scalars(select(Customer.id))) == {"shopify:115310627314723954"}


def test_a_chatwoot_identifier_of_one_customer_with_the_email_of_another_merges_them(
    client: TestClient, auth: Headers, db: Database
) -> None:
    """The identifier's customer (the id the business gave Chatwoot) survives; a later Shopify
    order of the merged Shopify customer finds it too."""
    client.post("/v1/customers", json={"id": "cus_9"}, headers=auth["ingest"])
    client.post("/v1/webhooks/shopify/orders", json=shopify_order(), headers=auth["ingest"])
    event = identified(131, 21, "cus_9", "bo@example.com")
    response = client.post(CHATWOOT, json=event, headers=auth["ingest"])
    assert response.status_code == 202 and response.json()["customer_id"] == "cus_9"
    next_order = shopify_order(order_id=820982911946154999, email="bo@example.com")
    later = client.post("/v1/webhooks/shopify/orders", json=next_order, headers=auth["ingest"])
    assert later.json()["customer_id"] == "cus_9"
    with db.read() as session:
        assert set(session.scalars(select(Customer.id))) == {"cus_9"}
        assert set(session.scalars(select(Order.customer_id))) == {"cus_9"}
        customer = session.get(Customer, "cus_9")
        assert customer is not None and customer.email == "bo@example.com"
        merge = session.scalars(select(CustomerMerge)).one()
        assert merge.merged_id == "shopify:115310627314723954"


def test_chatwoot_contact_updated_teaches_the_profile_its_email(
    client: TestClient, auth: Headers, db: Database
) -> None:
    """The visitor gave an email no other contact had: Chatwoot updates contact 14 itself."""
    client.post(CHATWOOT, json=visitor_says("hi"), headers=auth["ingest"])
    update = chatwoot_payload("chatwoot_contact_updated.json")
    response = client.post(CHATWOOT, json=update, headers=auth["ingest"])
    assert response.status_code == 200
    assert response.json() == {"customer_id": "chatwoot-contact:14", "merged": []}
    stranger = chatwoot_payload("chatwoot_contact_updated.json", id=99, email="x@acme.inc")
    unknown = client.post(CHATWOOT, json=stranger, headers=auth["ingest"])
    assert unknown.status_code == 200
    assert unknown.json() == {"customer_id": None, "merged": []}
    with db.read() as session:
        assert set(session.scalars(select(Customer.id))) == {"chatwoot-contact:14"}
        customer = session.get(Customer, "chatwoot-contact:14")
        assert customer is not None and customer.email == "jane@acme.inc"


def test_a_long_chatwoot_email_is_kept_cut_and_marked(
    client: TestClient, auth: Headers, db: Database
) -> None:
    """An email-channel message of 30,000 characters was refused whole (422)."""
    paragraph = "The burrs rattle on every setting finer than 12, and the hopper lid sticks."
    body = "\n\n".join([paragraph] * 400)
    assert len(body) > 30_000
    event = chatwoot_payload("chatwoot_email_message_created.json", content=body)
    response = client.post(CHATWOOT, json=event, headers=auth["ingest"])
    assert response.status_code == 202, response.text
    assert response.json()["truncated"] is True
    assert response.json()["customer_id"] == "maya@studio.example"
    with db.read() as session:
        stored = session.scalars(select(Message)).one()
    assert stored.truncated and body.startswith(stored.text)
    assert 19_800 <= len(stored.text) <= 20_000


def test_webhooks_need_a_key(client: TestClient) -> None:
    assert client.post("/v1/webhooks/chatwoot", json=chatwoot_event()).status_code == 401
    assert client.post("/v1/webhooks/shopify/orders", json=shopify_order()).status_code == 401


def test_shopify_order_unsigned_when_no_secret(
    client: TestClient, auth: Headers, db: Database
) -> None:
    first = client.post("/v1/webhooks/shopify/orders", json=shopify_order(), headers=auth["ingest"])
    again = client.post("/v1/webhooks/shopify/orders", json=shopify_order(), headers=auth["ingest"])
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["customer_id"] == "shopify:115310627314723954"
    with db.read() as session:
        order = session.scalars(select(Order)).one()
        assert [i.sku for i in order.items] == ["GRIND-PRO", "shopify-variant:22"]
        customer = session.get(Customer, "shopify:115310627314723954")
        assert customer is not None and customer.marketing_consent is True


def test_shopify_order_joins_known_customer_by_email(client: TestClient, auth: Headers) -> None:
    client.post(
        "/v1/customers", json={"id": "cus_1", "email": "bo@example.com"}, headers=auth["ingest"]
    )
    response = client.post(
        "/v1/webhooks/shopify/orders", json=shopify_order(), headers=auth["ingest"]
    )
    assert response.json()["customer_id"] == "cus_1"


@pytest.fixture
def signed_client(settings: Settings, db: Database) -> Iterator[TestClient]:
    with TestClient(
        create_app(settings.model_copy(update={"shopify_webhook_secret": SecretStr("s3cret")}))
    ) as c:
        yield c


def test_shopify_signature_is_verified_when_secret_set(
    signed_client: TestClient, auth: Headers
) -> None:
    body = json.dumps(shopify_order()).encode()
    good = base64.b64encode(hmac.new(b"s3cret", body, hashlib.sha256).digest()).decode()
    headers = {**auth["ingest"], "content-type": "application/json"}
    unsigned = signed_client.post("/v1/webhooks/shopify/orders", content=body, headers=headers)
    assert unsigned.status_code == 401 and unsigned.json()["error"]["code"] == "bad_signature"
    forged = signed_client.post(
        "/v1/webhooks/shopify/orders",
        content=body,
        headers={**headers, "X-Shopify-Hmac-Sha256": base64.b64encode(b"x" * 32).decode()},
    )
    assert forged.status_code == 401
    signed = signed_client.post(
        "/v1/webhooks/shopify/orders",
        content=body,
        headers={**headers, "X-Shopify-Hmac-Sha256": good},
    )
    assert signed.status_code == 201


@pytest.mark.parametrize(
    "body",
    [b"[" * 100_000, b'{"id": ' + b"9" * 5000 + b"}", b"\xff\xfe{}", b"{not json"],
    ids=["nested-too-deeply", "huge-integer", "not-utf8", "not-json"],
)
@pytest.mark.parametrize("route", ["chatwoot", "shopify/orders"])
def test_a_webhook_body_that_is_not_json_is_422_on_body(
    client: TestClient, auth: Headers, route: str, body: bytes
) -> None:
    response = client.post(
        f"/v1/webhooks/{route}",
        content=body,
        headers=auth["ingest"] | {"content-type": "application/octet-stream"},
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"]["field"] == "body"
