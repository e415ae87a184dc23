"""A customer's gated context over HTTP."""

from fastapi.testclient import TestClient

from engine.runtime import Services

Headers = dict[str, dict[str, str]]


def test_context_over_http_has_the_gated_facts_and_nothing_blocked(
    client: TestClient, auth: Headers, services: Services
) -> None:
    """The route returns the context; blocked words never appear; scopes and 404 hold."""
    customer = {"id": "h1", "email": "h1@example.com", "first_name": "Ines"}
    assert client.post("/v1/customers", json=customer, headers=auth["ingest"]).status_code < 300
    body = {
        "conversation_id": "hc1",
        "customer_id": "h1",
        "messages": [
            {
                "id": "hc1-1",
                "role": "customer",
                "text": "we brew with an AeroPress but my husband wants a Gaggia",
                "sent_at": "2026-11-10T10:00:00Z",
            },
            {
                "id": "hc1-2",
                "role": "agent",
                "text": "Sounds like you're a pro photographer!",
                "sent_at": "2026-11-10T10:01:00Z",
            },
        ],
    }
    assert client.post("/v1/transcripts", json=body, headers=auth["ingest"]).status_code == 202
    services.pipeline().run_until_idle()

    response = client.get("/v1/customers/h1/context", headers=auth["marketer"])
    assert response.status_code == 200
    data = response.json()
    assert data["first_name"] == "Ines"
    assert [(f["category"], f["quote"]) for f in data["facts"]] == [
        ("uses", "we brew with an AeroPress")
    ]
    assert data["blocked"] == {"inferred_by_agent": 1, "third_party": 1}
    assert "husband" not in response.text and "photographer" not in response.text

    past = client.get(
        "/v1/customers/h1/context",
        params={"as_of": "2026-11-01T00:00:00Z"},
        headers=auth["marketer"],
    )
    assert past.json()["facts"] == []
    assert client.get("/v1/customers/h1/context", headers=auth["ingest"]).status_code == 403
    missing = client.get("/v1/customers/nobody/context", headers=auth["marketer"])
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
