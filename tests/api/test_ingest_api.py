"""HTTP ingest: 202 with stored ids, idempotency, and a 422 naming the field for bad input."""

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from engine.db import Database
from engine.models import Message

Headers = dict[str, dict[str, str]]


def event(message_id: str = "m1", **message_changes: Any) -> dict[str, Any]:
    message = {
        "id": message_id,
        "role": "customer",
        "text": "can't get the kettle to pair",
        "sent_at": "2026-11-01T10:00:00Z",
    }
    message.update(message_changes)
    return {
        "conversation_id": "c1",
        "customer": {"id": "u1", "first_name": "Ana"},
        "message": message,
    }


def test_message_is_accepted_once(client: TestClient, auth: Headers) -> None:
    first = client.post("/v1/messages", json=event(), headers=auth["ingest"])
    again = client.post("/v1/messages", json=event(), headers=auth["ingest"])
    assert first.status_code == 202 and again.status_code == 202
    assert first.json()["duplicate"] is False and again.json()["duplicate"] is True
    assert first.json()["id"] == again.json()["id"]
    status = client.get("/v1/status", headers=auth["ingest"]).json()
    assert (status["messages"], status["backlog"], status["customers"]) == (1, 1, 1)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"role": "system"}, "message.role"),
        ({"sent_at": "2026-11-01T10:00:00"}, "message.sent_at"),
        ({"text": 42}, "message.text"),
        ({"id": None}, "message.id"),
    ],
)
def test_bad_message_gets_422_naming_the_field(
    client: TestClient, auth: Headers, change: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/messages", json=event(**change), headers=auth["ingest"])
    assert response.status_code == 422
    assert response.json()["error"]["field"] == field
    assert response.json()["error"]["code"] == "invalid"
    assert client.get("/v1/status", headers=auth["ingest"]).json()["messages"] == 0


def test_missing_field_and_bad_json_and_bad_utf8(client: TestClient, auth: Headers) -> None:
    body = event()
    del body["conversation_id"]
    missing = client.post("/v1/messages", json=body, headers=auth["ingest"])
    assert missing.status_code == 422 and missing.json()["error"]["field"] == "conversation_id"
    headers = {**auth["ingest"], "content-type": "application/json"}
    broken = client.post("/v1/messages", content=b'{"conversation_id": ', headers=headers)
    assert broken.status_code == 422 and broken.json()["error"]["field"] == "body"
    latin1 = (
        json.dumps(event(text="caf\u00e9"), ensure_ascii=False)
        .encode("utf-8")
        .replace(b"\xc3\xa9", b"\xe9")
    )
    not_utf8 = client.post("/v1/messages", content=latin1, headers=headers)
    assert not_utf8.status_code == 422
    assert not_utf8.json()["error"]["field"] == "body" and "UTF-8" in not_utf8.text


def test_oversized_body_gets_413(client: TestClient, auth: Headers) -> None:
    huge = b'{"x": "' + b"a" * (9 * 1024 * 1024) + b'"}'
    response = client.post(
        "/v1/messages", content=huge, headers={**auth["ingest"], "content-type": "application/json"}
    )
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"


def test_transcript_whole_or_nothing_and_idempotent(client: TestClient, auth: Headers) -> None:
    transcript = {
        "conversation_id": "c2",
        "customer_id": "u2",
        "source": "chat_widget",
        "messages": [
            {
                "id": "t1",
                "role": "bot",
                "text": "Hi! How can I help?",
                "sent_at": "2026-11-01T10:00:00Z",
            },
            {
                "id": "t2",
                "role": "customer",
                "text": "I run a bakery",
                "sent_at": "2026-11-01T10:01:00Z",
            },
        ],
        "widget_version": "ignored",
    }
    bad = json.loads(json.dumps(transcript))
    bad["messages"][1]["sent_at"] = "yesterday"
    refused = client.post("/v1/transcripts", json=bad, headers=auth["ingest"])
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "messages[1].sent_at"
    assert client.get("/v1/status", headers=auth["ingest"]).json()["messages"] == 0
    first = client.post("/v1/transcripts", json=transcript, headers=auth["ingest"])
    again = client.post("/v1/transcripts", json=transcript, headers=auth["ingest"])
    assert first.status_code == 202 and (first.json()["stored"], first.json()["duplicates"]) == (
        2,
        0,
    )
    assert (again.json()["stored"], again.json()["duplicates"]) == (0, 2)
    status = client.get("/v1/status", headers=auth["ingest"]).json()
    assert (status["messages"], status["customer_messages"], status["backlog"]) == (2, 1, 1)


# A long message (an email pasted into the widget): paragraphs of whole words, 26,000 characters.
LONG_TEXT = "\n\n".join(
    " ".join(f"The grinder rattles at setting {n} and the burrs sound loose." for n in range(8))
    for _ in range(54)
)


def test_a_message_over_20000_characters_is_kept_cut_and_says_so(
    client: TestClient, auth: Headers, db: Database
) -> None:
    assert len(LONG_TEXT) > 20_000
    first = client.post("/v1/messages", json=event(text=LONG_TEXT), headers=auth["ingest"])
    again = client.post("/v1/messages", json=event(text=LONG_TEXT), headers=auth["ingest"])
    short = client.post("/v1/messages", json=event("m2"), headers=auth["ingest"])
    assert first.status_code == again.status_code == 202
    assert (first.json()["truncated"], first.json()["duplicate"]) == (True, False)
    # The same message sent again is answered the same way.
    assert (again.json()["truncated"], again.json()["duplicate"]) == (True, True)
    assert short.json()["truncated"] is False
    with db.read() as session:
        stored = session.scalars(select(Message).where(Message.message_id == "m1")).one()
    assert stored.truncated and LONG_TEXT.startswith(stored.text)
    # Cut after a whole word, near the limit.
    assert 19_800 <= len(stored.text) <= 20_000 and LONG_TEXT[len(stored.text)].isspace()
    assert stored.state == "pending"  # its words go through the pipeline like any others


def test_a_transcript_counts_its_messages_stored_cut(
    client: TestClient, auth: Headers, db: Database
) -> None:
    transcript = {
        "conversation_id": "c3",
        "customer_id": "u3",
        "messages": [
            {"id": "l1", "role": "customer", "text": LONG_TEXT, "sent_at": "2026-11-01T10:00:00Z"},
            {"id": "l2", "role": "agent", "text": "Sorry!", "sent_at": "2026-11-01T10:01:00Z"},
        ],
    }
    first = client.post("/v1/transcripts", json=transcript, headers=auth["ingest"])
    again = client.post("/v1/transcripts", json=transcript, headers=auth["ingest"])
    assert first.status_code == 202
    assert (first.json()["stored"], first.json()["truncated"]) == (2, 1)
    assert (again.json()["duplicates"], again.json()["truncated"]) == (2, 1)
    with db.read() as session:
        rows = session.execute(select(Message.message_id, Message.truncated))
        flags = {row.message_id: row.truncated for row in rows}
    assert flags == {"l1": True, "l2": False}


def test_conversation_of_another_customer_gets_409(client: TestClient, auth: Headers) -> None:
    client.post("/v1/messages", json=event(), headers=auth["ingest"])
    other = event("m2")
    other["customer"]["id"] = "intruder"
    response = client.post("/v1/messages", json=other, headers=auth["ingest"])
    assert response.status_code == 409 and response.json()["error"]["field"] == "conversation_id"


def test_customers_and_orders(client: TestClient, auth: Headers) -> None:
    customer = {
        "id": "u5",
        "email": "u5@example.com",
        "first_name": "Bo",
        "signup_source": "newsletter",
        "subscribed_at": "2026-11-01T00:00:00Z",
        "marketing_consent": True,
    }
    assert client.post("/v1/customers", json=customer, headers=auth["ingest"]).status_code == 201
    assert client.post("/v1/customers", json=customer, headers=auth["ingest"]).status_code == 200
    order = {
        "order_id": "o5",
        "customer_id": "u5",
        "placed_at": "2026-11-02T00:00:00Z",
        "currency": "USD",
        "total": "25.00",
        "items": [{"sku": "S", "name": "Beans", "quantity": 2, "unit_price": "12.50"}],
    }
    created = client.post("/v1/orders", json=order, headers=auth["ingest"])
    assert created.status_code == 201 and created.json()["duplicate"] is False
    repeat = client.post("/v1/orders", json=order, headers=auth["ingest"])
    assert repeat.status_code == 200 and repeat.json()["duplicate"] is True
    negative = json.loads(json.dumps(order))
    negative["order_id"], negative["items"][0]["quantity"] = "o6", -2
    refused = client.post("/v1/orders", json=negative, headers=auth["ingest"])
    assert refused.status_code == 422 and refused.json()["error"]["field"] == "items[0].quantity"
    status = client.get("/v1/status", headers=auth["ingest"]).json()
    assert (status["orders"], status["products"], status["customers"]) == (1, 1, 1)
