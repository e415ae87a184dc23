"""A reviewer's day over HTTP: set the voice, run a campaign, read the queue with its evidence,
edit (audited, re-checked), approve, reject; one draft on demand; and the review webhook."""

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from api.app import create_app
from cli.demo import SAMPLE_DIR
from engine.outbox import signature_matches
from engine.runtime import Services
from engine.settings import Settings
from tests.builders import AS_OF

Headers = dict[str, dict[str, str]]
SAMPLE_VOICE = json.loads((SAMPLE_DIR / "voice.json").read_text(encoding="utf-8"))


def add_customers(client: TestClient, auth: Headers) -> None:
    """Two new subscribers who said something about themselves, and one without consent."""
    for customer_id, name, consent, text in (
        ("r1", "Maya", True, "I run a small bakery and we brew with an AeroPress"),
        ("r2", "Tom", True, "just looking around for now"),
        ("r3", "Ana", False, "I own a cafe"),
    ):
        customer = {
            "id": customer_id,
            "email": f"{customer_id}@example.com",
            "first_name": name,
            "subscribed_at": (AS_OF - timedelta(days=1)).isoformat(),
            "marketing_consent": consent,
        }
        assert client.post("/v1/customers", json=customer, headers=auth["ingest"]).status_code < 300
        transcript = {
            "conversation_id": f"conv-{customer_id}",
            "customer_id": customer_id,
            "messages": [
                {
                    "id": f"m-{customer_id}",
                    "role": "customer",
                    "text": text,
                    "sent_at": (AS_OF - timedelta(hours=20)).isoformat(),
                }
            ],
        }
        assert (
            client.post("/v1/transcripts", json=transcript, headers=auth["ingest"]).status_code
            == 202
        )


def run_welcome(client: TestClient, auth: Headers) -> dict[str, Any]:
    response = client.post(
        "/v1/campaigns/welcome/run", json={"as_of": AS_OF.isoformat()}, headers=auth["marketer"]
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()
    return data


@pytest.fixture
def queued(client: TestClient, auth: Headers, services: Services) -> dict[str, dict[str, Any]]:
    """The sample voice set, the customers in, processed, and the welcome campaign run."""
    assert client.put("/v1/voice", json=SAMPLE_VOICE, headers=auth["marketer"]).status_code == 200
    add_customers(client, auth)
    services.pipeline().run_until_idle()
    report = run_welcome(client, auth)
    assert (report["due"], report["created"], report["failed"]) == (2, 2, [])
    drafts = client.get("/v1/review", headers=auth["marketer"]).json()["drafts"]
    return {d["customer_id"]: d for d in drafts}


def test_the_voice_guide_is_stored_in_versions_and_validated(
    client: TestClient, auth: Headers
) -> None:
    default = client.get("/v1/voice", headers=auth["marketer"]).json()
    assert default["version"] is None and len(default["rules"]) >= 5
    first = client.put("/v1/voice", json=SAMPLE_VOICE, headers=auth["marketer"]).json()
    second = client.put("/v1/voice", json=SAMPLE_VOICE, headers=auth["marketer"]).json()
    assert (first["version"], second["version"]) == (first["version"], first["version"] + 1)
    assert client.get("/v1/voice", headers=auth["marketer"]).json()["version"] == second["version"]
    too_few = SAMPLE_VOICE | {"rules": ["Be brief.", "Be kind."]}
    response = client.put("/v1/voice", json=too_few, headers=auth["marketer"])
    assert response.status_code == 422
    assert response.json()["error"]["field"] == "rules"
    assert client.put("/v1/voice", json=SAMPLE_VOICE, headers=auth["ingest"]).status_code == 403


def test_a_campaign_fills_the_queue_once_with_evidence(
    client: TestClient, auth: Headers, queued: dict[str, dict[str, Any]]
) -> None:
    assert set(queued) == {"r1", "r2"}  # r3 has no consent
    maya = queued["r1"]
    assert maya["status"] == "pending_review" and maya["kind"] == "welcome"
    assert maya["problems"] == [] and maya["delivery"] is None
    quotes = [f["quote"] for e in maya["evidence"] for f in e["facts"]]
    assert quotes, "a customer who said things gets a personalized sentence with its quote"
    assert all(
        e["sentence"] in maya["body"] or e["sentence"] in maya["subject"] for e in maya["evidence"]
    )
    assert maya["body"] != queued["r2"]["body"]
    again = run_welcome(client, auth)
    assert (again["due"], again["created"]) == (0, 0)
    assert len(client.get("/v1/review?status=all", headers=auth["marketer"]).json()["drafts"]) == 2


def test_editing_keeps_the_original_audits_the_change_and_rechecks(
    client: TestClient, auth: Headers, queued: dict[str, dict[str, Any]]
) -> None:
    draft = queued["r2"]
    url = f"/v1/review/{draft['id']}"
    bad = draft["body"].replace("\n\n", "\n\nWe're delighted you're here.\n\n", 1)
    response = client.patch(url, json={"body": bad}, headers=auth["marketer"])
    assert response.status_code == 200
    edited = response.json()
    assert edited["status"] == "needs_attention" and edited["edited"]
    assert {p["code"] for p in edited["problems"]} == {"voice"}
    assert edited["original"]["body"] == draft["body"]
    (change,) = [e for e in edited["history"] if e["action"] == "edited"]
    assert change["actor"] == "test-marketer"
    assert change["changes"]["body"] == {"from": draft["body"], "to": bad}
    refused = client.post(f"{url}/approve", headers=auth["marketer"])
    assert refused.status_code == 409 and refused.json()["error"]["field"] == "problems"

    fixed = client.patch(
        url, json={"body": draft["body"] + "\nPS: we roast on Tuesdays."}, headers=auth["marketer"]
    )
    assert fixed.json()["status"] == "pending_review" and fixed.json()["problems"] == []
    approved = client.post(f"{url}/approve", headers=auth["marketer"]).json()
    assert approved["status"] == "approved" and approved["reviewed_by"] == "test-marketer"
    assert [e["action"] for e in approved["history"]] == ["created", "edited", "edited", "approved"]
    assert client.post(f"{url}/approve", headers=auth["marketer"]).status_code == 409
    assert (
        client.patch(url, json={"subject": "Late change"}, headers=auth["marketer"]).status_code
        == 409
    )


def test_rejecting_needs_a_reason_and_is_final(
    client: TestClient, auth: Headers, queued: dict[str, dict[str, Any]]
) -> None:
    url = f"/v1/review/{queued['r1']['id']}"
    assert client.post(f"{url}/reject", json={}, headers=auth["marketer"]).status_code == 422
    rejected = client.post(f"{url}/reject", json={"reason": "too chatty"}, headers=auth["marketer"])
    assert rejected.status_code == 200
    assert (
        rejected.json()["status"] == "rejected" and rejected.json()["reject_reason"] == "too chatty"
    )
    assert rejected.json()["history"][-1]["changes"] == {"reason": "too chatty"}
    waiting = client.get("/v1/review", headers=auth["marketer"]).json()["drafts"]
    assert [d["customer_id"] for d in waiting] == ["r2"]
    only_rejected = client.get("/v1/review?status=rejected", headers=auth["marketer"]).json()
    assert [d["customer_id"] for d in only_rejected["drafts"]] == ["r1"]
    assert client.post(f"{url}/approve", headers=auth["marketer"]).status_code == 409


def test_review_routes_need_the_marketer_scope_and_known_drafts(
    client: TestClient, auth: Headers
) -> None:
    assert client.get("/v1/review", headers=auth["ingest"]).status_code == 403
    assert client.get("/v1/review").status_code == 401
    missing = client.post("/v1/review/999/approve", headers=auth["marketer"])
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    empty = client.patch("/v1/review/999", json={}, headers=auth["marketer"])
    assert empty.status_code == 422


def test_one_draft_on_demand(client: TestClient, auth: Headers, services: Services) -> None:
    add_customers(client, auth)
    services.pipeline().run_until_idle()
    body = {"customer_id": "r1", "kind": "welcome", "as_of": AS_OF.isoformat()}
    first = client.post("/v1/drafts", json=body, headers=auth["marketer"])
    assert first.status_code == 201, first.text
    assert first.json()["step"] == "d0" and first.json()["context"]["customer_id"] == "r1"
    again = client.post("/v1/drafts", json=body, headers=auth["marketer"])
    assert again.status_code == 200 and again.json()["id"] == first.json()["id"]
    no_consent = client.post(
        "/v1/drafts", json=body | {"customer_id": "r3"}, headers=auth["marketer"]
    )
    assert no_consent.status_code == 409 and no_consent.json()["error"]["code"] == "no_consent"
    unknown = client.post("/v1/drafts", json=body | {"customer_id": "zz"}, headers=auth["marketer"])
    assert unknown.status_code == 404
    naive = client.post(
        "/v1/drafts", json=body | {"as_of": "2026-11-20T12:00:00"}, headers=auth["marketer"]
    )
    assert naive.status_code == 422 and naive.json()["error"]["field"] == "as_of"
    naive_context = client.get(
        "/v1/customers/r1/context?as_of=2026-11-20T12:00:00", headers=auth["marketer"]
    )
    assert naive_context.status_code == 422
    bad_kind = client.post("/v1/drafts", json=body | {"kind": "birthday"}, headers=auth["marketer"])
    assert bad_kind.status_code == 422 and bad_kind.json()["error"]["field"] == "kind"
    nothing_to_follow = client.post(
        "/v1/drafts", json=body | {"kind": "post_purchase"}, headers=auth["marketer"]
    )
    assert nothing_to_follow.status_code == 409


class Receiver(BaseHTTPRequestHandler):
    """A reviewer's system: records each POST."""

    received: ClassVar[list[tuple[dict[str, str], bytes]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append((dict(self.headers), body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def receiver() -> Iterator[str]:
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/review"
    server.shutdown()


def test_each_new_draft_is_pushed_signed_to_the_review_webhook(
    settings: Settings, services: Services, auth: Headers, receiver: str
) -> None:
    pushing = settings.model_copy(
        update={"review_webhook_url": receiver, "review_webhook_secret": SecretStr("s3cret")}
    )
    with TestClient(create_app(pushing, services=services, run_worker=False)) as client:
        add_customers(client, auth)
        services.pipeline().run_until_idle()
        report = run_welcome(client, auth)
        deadline = time.monotonic() + 20
        while len(Receiver.received) < report["created"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(Receiver.received) == report["created"] == 2
        for headers, body in Receiver.received:
            assert signature_matches(body, "s3cret", headers["X-Signature-SHA256"])
            payload = json.loads(body)
            assert payload["event"] == "draft.created"
            assert headers["Idempotency-Key"] == payload["idempotency_key"]
            assert payload["draft"]["status"] == "pending_review"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            drafts = client.get("/v1/review", headers=auth["marketer"]).json()["drafts"]
            if all(d["delivery"] and d["delivery"]["state"] == "delivered" for d in drafts):
                break
            time.sleep(0.05)
        assert [d["delivery"]["state"] for d in drafts] == ["delivered", "delivered"]

        # Erasing a customer tells the receiver which of the drafts it holds are theirs.
        (erased_draft,) = [d["id"] for d in drafts if d["customer_id"] == "r1"]
        erased = client.delete("/v1/customers/r1", headers=auth["admin"])
        assert erased.status_code == 200 and erased.json()["notified_drafts"] == [erased_draft]
        deadline = time.monotonic() + 20
        while len(Receiver.received) < 3 and time.monotonic() < deadline:
            time.sleep(0.05)
        headers, body = Receiver.received[2]
        assert signature_matches(body, "s3cret", headers["X-Signature-SHA256"])
        payload = json.loads(body)
        assert (payload["event"], payload["draft_ids"]) == ("drafts.erased", [erased_draft])
        assert b"r1" not in body and b"Maya" not in body and b"bakery" not in body
