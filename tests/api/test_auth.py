"""Every /v1 route needs a key: 401 without a valid one, 403 without the scope."""

from fastapi.testclient import TestClient

from engine.apikeys import revoke_key
from engine.db import Database

Headers = dict[str, dict[str, str]]
MESSAGE = {
    "conversation_id": "c1",
    "customer": {"id": "u1"},
    "message": {"id": "m1", "role": "customer", "text": "hi", "sent_at": "2026-11-01T10:00:00Z"},
}


def test_missing_key_gets_401_with_challenge(client: TestClient) -> None:
    response = client.post("/v1/messages", json=MESSAGE)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json()["error"]["code"] == "unauthorized"
    assert client.get("/v1/status").status_code == 401


def test_wrong_key_gets_401(client: TestClient, keys: dict[str, str]) -> None:
    for presented in (keys["ingest"][:-2] + "zz", "pk_nothere_secret", "garbage"):
        response = client.post(
            "/v1/messages", json=MESSAGE, headers={"Authorization": f"Bearer {presented}"}
        )
        assert response.status_code == 401, presented


def test_key_without_scope_gets_403(client: TestClient, auth: Headers) -> None:
    response = client.post("/v1/messages", json=MESSAGE, headers=auth["marketer"])
    assert response.status_code == 403 and response.json()["error"]["code"] == "forbidden"
    assert client.post("/v1/messages", json=MESSAGE, headers=auth["admin"]).status_code == 202


def test_revoked_key_gets_401(client: TestClient, db: Database, keys: dict[str, str]) -> None:
    with db.write() as session:
        revoke_key(session, prefix=keys["ingest"].split("_")[1])
    client.app.state.keys.forget()  # type: ignore[attr-defined]
    headers = {"Authorization": f"Bearer {keys['ingest']}"}
    assert client.post("/v1/messages", json=MESSAGE, headers=headers).status_code == 401


def test_health_needs_no_key(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
