"""Search, intents and trackers over HTTP, on real embeddings."""

from typing import Any

from fastapi.testclient import TestClient

from engine.runtime import Services

Headers = dict[str, dict[str, str]]
CHATS = {
    "u1": ["hi", "my burr grinder makes an awful rattling noise when it runs"],
    "u2": ["hello!", "the grinder started squeaking loudly yesterday, is that normal?"],
    "u3": ["how much is the Studio plan per month?", "thanks"],
    "u4": ["my parcel still hasn't arrived, it's been two weeks"],
    "u5": ["thanks so much, bye!"],
}


def load(client: TestClient, auth: Headers, services: Services) -> None:
    for customer, texts in CHATS.items():
        body: dict[str, Any] = {
            "conversation_id": f"conv-{customer}",
            "customer_id": customer,
            "messages": [
                {
                    "id": f"{customer}-{i}",
                    "role": "customer",
                    "text": text,
                    "sent_at": f"2026-11-{10 + i}T10:00:00Z",
                }
                for i, text in enumerate(texts)
            ]
            + [
                {
                    "id": f"{customer}-agent",
                    "role": "agent",
                    "text": "Sounds like your grinder needs cleaning, how much noise is it making?",
                    "sent_at": "2026-11-20T10:00:00Z",
                }
            ],
        }
        assert client.post("/v1/transcripts", json=body, headers=auth["ingest"]).status_code == 202
    services.pipeline().run_until_idle()


def test_search_finds_customers_with_their_own_words(
    client: TestClient, auth: Headers, services: Services
) -> None:
    load(client, auth, services)
    response = client.get(
        "/v1/search/customers", params={"q": "noisy coffee grinder"}, headers=auth["marketer"]
    )
    assert response.status_code == 200
    customers = response.json()["customers"]
    assert {c["customer_id"] for c in customers} == {"u1", "u2"}
    for customer in customers:
        quote = customer["evidence"][0]
        assert quote["message_id"].startswith(customer["customer_id"])
        assert "grinder" in quote["text"] and "cleaning" not in quote["text"]  # never the agent


def test_search_about_nothing_anyone_said_returns_nobody(
    client: TestClient, auth: Headers, services: Services
) -> None:
    load(client, auth, services)
    response = client.get(
        "/v1/search/customers", params={"q": "wedding gift cards"}, headers=auth["marketer"]
    )
    assert response.json()["customers"] == []


def test_search_time_filter_and_scope(
    client: TestClient, auth: Headers, services: Services
) -> None:
    load(client, auth, services)
    later = client.get(
        "/v1/search/customers",
        params={"q": "noisy coffee grinder", "since": "2026-11-12T00:00:00Z"},
        headers=auth["marketer"],
    )
    assert later.json()["customers"] == []  # both grinder messages were sent on the 11th
    forbidden = client.get("/v1/search/customers", params={"q": "x"}, headers=auth["ingest"])
    assert forbidden.status_code == 403


def test_intents_list_and_customers(client: TestClient, auth: Headers, services: Services) -> None:
    load(client, auth, services)
    intents = {i["name"]: i for i in client.get("/v1/intents", headers=auth["marketer"]).json()}
    assert len(intents) == 13 and all(i["kind"] == "builtin" for i in intents.values())
    assert intents["pricing_interest"]["customers"] >= 1
    who = client.get("/v1/intents/pricing_interest/customers", headers=auth["marketer"]).json()
    assert [c["customer_id"] for c in who] == ["u3"]
    missing = client.get("/v1/intents/nonsense/customers", headers=auth["marketer"])
    assert missing.status_code == 404


def test_tracker_scores_stored_messages_at_once(
    client: TestClient, auth: Headers, services: Services
) -> None:
    load(client, auth, services)
    tracker = {
        "name": "grinder_noise",
        "description": "complains that a grinder makes noise",
        "examples": ["my grinder is making a weird noise", "the grinder rattles loudly"],
    }
    created = client.post("/v1/trackers", json=tracker, headers=auth["marketer"])
    assert created.status_code == 201 and created.json()["matched_messages"] == 2
    who = client.get("/v1/intents/grinder_noise/customers", headers=auth["marketer"]).json()
    assert {c["customer_id"] for c in who} == {"u1", "u2"}
    again = client.post("/v1/trackers", json=tracker, headers=auth["marketer"])
    assert again.status_code == 409
    clash = client.post(
        "/v1/trackers", json={**tracker, "name": "praise"}, headers=auth["marketer"]
    )
    assert clash.status_code == 409
    bad = client.post(
        "/v1/trackers", json={**tracker, "name": "Bad Name"}, headers=auth["marketer"]
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "name"
