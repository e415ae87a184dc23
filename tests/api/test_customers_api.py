"""One customer over HTTP: erasure (admin only), unsubscribe, and updates with `consent`."""

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from engine.models import Draft, Erasure, Message
from engine.runtime import Services

Headers = dict[str, dict[str, str]]


def enrol(client: TestClient, auth: Headers, services: Services, customer_id: str) -> None:
    """A consenting new subscriber with a processed chat and a welcome draft."""
    customer = {
        "id": customer_id,
        "email": f"{customer_id}@example.com",
        "first_name": "Ines",
        "subscribed_at": "2026-11-19T10:00:00Z",
        "marketing_consent": True,
    }
    assert client.post("/v1/customers", json=customer, headers=auth["ingest"]).status_code == 201
    message = {
        "conversation_id": f"conv-{customer_id}",
        "customer": {"id": customer_id},
        "message": {
            "id": f"msg-{customer_id}",
            "role": "customer",
            "text": "I run a flower shop and the card reader will not pair.",
            "sent_at": "2026-11-19T11:00:00Z",
        },
    }
    assert client.post("/v1/messages", json=message, headers=auth["ingest"]).status_code == 202
    services.pipeline().run_until_idle()
    drafted = client.post(
        "/v1/drafts",
        json={"customer_id": customer_id, "kind": "welcome", "as_of": "2026-11-20T09:00:00Z"},
        headers=auth["marketer"],
    )
    assert drafted.status_code == 201, drafted.text


def test_delete_erases_the_customer_for_an_admin_key_only(
    client: TestClient, auth: Headers, services: Services
) -> None:
    enrol(client, auth, services, "e1")
    for scope in ("ingest", "marketer"):
        assert client.delete("/v1/customers/e1", headers=auth[scope]).status_code == 403
    assert client.delete("/v1/customers/e1").status_code == 401

    response = client.delete("/v1/customers/e1", headers=auth["admin"])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["erased"] is True
    assert body["removed"]["customers"] == 1 and body["removed"]["vectors"] >= 1
    assert body["removed"]["drafts"] == 1 and body["removed"]["messages"] == 1
    assert client.get("/v1/customers/e1/context", headers=auth["marketer"]).status_code == 404
    with services.db.read() as session:
        audit = session.scalars(select(Erasure)).one()
        assert session.scalar(select(func.count()).select_from(Message)) == 0
    assert audit.id == body["audit_id"] and audit.actor.startswith("key test-admin")
    assert "e1" not in repr((audit.actor, audit.removed))

    again = client.delete("/v1/customers/e1", headers=auth["admin"])
    assert again.status_code == 404 and again.json()["error"]["code"] == "not_found"


def test_unsubscribe_withdraws_waiting_drafts_and_blocks_new_ones(
    client: TestClient, auth: Headers, services: Services
) -> None:
    enrol(client, auth, services, "u1")
    assert client.post("/v1/customers/u1/unsubscribe", headers=auth["ingest"]).status_code == 403
    response = client.post("/v1/customers/u1/unsubscribe", headers=auth["marketer"])
    assert response.status_code == 200
    assert response.json() == {
        "customer_id": "u1",
        "marketing_consent": False,
        "drafts_withdrawn": 1,
    }
    queue = client.get("/v1/review", headers=auth["marketer"]).json()
    assert [d["customer_id"] for d in queue["drafts"]] == []
    withdrawn = client.get("/v1/review?status=withdrawn", headers=auth["marketer"]).json()
    assert [d["customer_id"] for d in withdrawn["drafts"]] == ["u1"]
    refused = client.post(
        "/v1/drafts", json={"customer_id": "u1", "kind": "welcome"}, headers=auth["marketer"]
    )
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "no_consent"
    repeat = client.post("/v1/customers/u1/unsubscribe", headers=auth["marketer"])
    assert repeat.json()["drafts_withdrawn"] == 0
    missing = client.post("/v1/customers/nobody/unsubscribe", headers=auth["marketer"])
    assert missing.status_code == 404


def test_patch_changes_fields_and_consent(
    client: TestClient, auth: Headers, services: Services
) -> None:
    enrol(client, auth, services, "p1")
    changed = client.patch(
        "/v1/customers/p1", json={"first_name": "Inès", "consent": False}, headers=auth["ingest"]
    )
    assert changed.status_code == 200
    assert changed.json() == {
        "customer_id": "p1",
        "marketing_consent": False,
        "drafts_withdrawn": 1,
    }
    context = client.get("/v1/customers/p1/context", headers=auth["marketer"]).json()
    assert context["first_name"] == "Inès" and context["consent"]["marketing_consent"] is False
    with services.db.read() as session:
        assert session.scalars(select(Draft.status)).all() == ["withdrawn"]

    back = client.patch("/v1/customers/p1", json={"consent": True}, headers=auth["ingest"])
    assert back.json()["marketing_consent"] is True
    bad = client.patch("/v1/customers/p1", json={"consent": "maybe"}, headers=auth["ingest"])
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "consent"
    missing = client.patch("/v1/customers/nobody", json={"consent": False}, headers=auth["ingest"])
    assert missing.status_code == 404
