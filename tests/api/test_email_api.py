"""Email's HTTP faces: one-click unsubscribe and the signed click redirect (no key), and the
provider event webhook (our generic format here; each provider's own in test_providers)."""

import json
from dataclasses import replace
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import select

from engine.email.keys import link_key
from engine.email.render import Outgoing, Sender, render
from engine.email.tokens import click_token, unsubscribe_token
from engine.models import Customer, Draft, EmailEvent, EmailSend
from engine.runtime import Services
from tests.builders import AS_OF, approved_drafts, customer

Headers = dict[str, dict[str, str]]


def sent_draft(services: Services, customer_id: str) -> int:
    """An approved draft with its send row, as the sender leaves it."""
    (draft_id,) = approved_drafts(services.db, customer_id)
    with services.db.write() as session:
        session.add(
            EmailSend(
                draft_id=draft_id,
                customer_id=customer_id,
                message_id=f"draft-{draft_id}.abc@shop.example",
                transport="smtp",
                state="sent",
                sent_at=AS_OF,
            )
        )
    return draft_id


def test_one_click_unsubscribe_needs_no_key_and_a_get_changes_nothing(
    client: TestClient, services: Services
) -> None:
    customer(services.db, "c1")
    token = unsubscribe_token(link_key(services.db), customer_id="c1", draft_id=7)
    page = client.get(f"/u/{token}")
    assert page.status_code == 200 and "<button" in page.text
    with services.db.read() as session:
        assert session.get_one(Customer, "c1").marketing_consent is True
    done = client.post(f"/u/{token}", data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200
    with services.db.read() as session:
        assert session.get_one(Customer, "c1").marketing_consent is False
    assert client.post(f"/u/{token[:-2]}xx").status_code == 404
    assert client.get("/u/not-a-token").status_code == 404


def test_the_redirect_goes_only_where_it_was_signed_to_and_records_the_click(
    client: TestClient, services: Services
) -> None:
    draft_id = sent_draft(services, "c1")
    key = link_key(services.db)
    token = click_token(key, draft_id=draft_id, url="https://ridgeline.example/shop")
    answer = client.get(f"/r/{token}", follow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["location"] == "https://ridgeline.example/shop"
    forged = click_token(b"another key", draft_id=draft_id, url="https://evil.example")
    assert client.get(f"/r/{forged}", follow_redirects=False).status_code == 404
    assert client.get("/r/https%3A%2F%2Fevil.example", follow_redirects=False).status_code == 404
    with services.db.read() as session:
        clicks = session.scalars(select(EmailEvent)).all()
    assert [(c.event, c.draft_id, c.customer_id) for c in clicks] == [("clicked", draft_id, "c1")]


def test_provider_events_are_stored_once_and_unknown_drafts_are_counted(
    client: TestClient, services: Services, auth: Headers
) -> None:
    draft_id = sent_draft(services, "c1")
    at = datetime(2026, 11, 21, 9, 0, tzinfo=UTC).isoformat()
    events = [
        {"id": "e1", "event": "delivered", "at": at, "draft_id": draft_id},
        {
            "id": "e2",
            "event": "clicked",
            "at": at,
            "message_id": f"draft-{draft_id}.abc@shop.example",
            "url": "https://ridgeline.example/shop",
        },
        {"id": "e3", "event": "delivered", "at": at, "draft_id": 999_999},
    ]
    body = json.dumps(events)
    first = client.post("/v1/webhooks/email/generic", content=body, headers=auth["ingest"])
    assert first.status_code == 200
    assert first.json() == {"stored": 2, "duplicates": 0, "unknown": 1}
    again = client.post("/v1/webhooks/email/generic", content=body, headers=auth["ingest"])
    assert again.json() == {"stored": 0, "duplicates": 2, "unknown": 1}
    assert client.post("/v1/webhooks/email/generic", content=body).status_code == 401
    bad = client.post(
        "/v1/webhooks/email/generic",
        content=json.dumps([{"id": "e4", "event": "exploded", "at": at}]),
        headers=auth["ingest"],
    )
    assert bad.status_code == 422 and "event" in bad.json()["error"]["field"]
    assert (
        client.post("/v1/webhooks/email/nobody", content=body, headers=auth["ingest"]).status_code
        == 422
    )


def test_a_hard_bounce_suppresses_and_a_complaint_unsubscribes(
    client: TestClient, services: Services, auth: Headers
) -> None:
    bounced = sent_draft(services, "c1")
    complained = sent_draft(services, "c2")
    at = datetime(2026, 11, 21, 9, 0, tzinfo=UTC).isoformat()
    events = [
        {"id": "b1", "event": "bounced", "bounce": "hard", "at": at, "draft_id": bounced},
        {"id": "s1", "event": "complained", "at": at, "draft_id": complained},
    ]
    answer = client.post(
        "/v1/webhooks/email/generic", content=json.dumps(events), headers=auth["ingest"]
    )
    assert answer.json()["stored"] == 2
    with services.db.read() as session:
        c1, c2 = session.get_one(Customer, "c1"), session.get_one(Customer, "c2")
        statuses = set(session.scalars(select(Draft.status)))
    assert c1.suppression_reason == "hard_bounce" and c1.suppressed_at is not None
    assert c2.marketing_consent is False and c2.suppressed_at is None
    assert statuses == {"approved"}


def test_the_open_pixel_is_off_by_default_and_records_an_open_when_on(
    client: TestClient, services: Services
) -> None:
    draft_id = sent_draft(services, "c1")
    key = link_key(services.db)
    outgoing = Outgoing(
        draft_id=draft_id,
        customer_id="c1",
        to="c1@example.com",
        first_name="Ana",
        subject="Hello",
        preheader="Hi",
        body="Hi there",
        message_id="m1@shop.example",
    )
    sender = Sender(
        from_address="Shop <hi@shop.example>",
        reply_to=None,
        business_address="1 Main St",
        public_url="https://shop.example",
        shop_url=None,
        track_clicks=True,
        link_key=key,
    )
    plain = render(outgoing, sender).get_body(("html",))
    assert plain is not None and "<img" not in plain.get_content()
    tracked = render(outgoing, replace(sender, track_opens=True)).get_body(("html",))
    assert tracked is not None
    pixel = tracked.get_content().split('<img src="', 1)[1].split('"', 1)[0]
    assert pixel.startswith("https://shop.example/o/") and pixel.endswith(".gif")
    answer = client.get(pixel.removeprefix("https://shop.example"))
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/gif"
    assert client.get("/o/forged.gif").status_code == 404
    with services.db.read() as session:
        opens = session.scalars(select(EmailEvent.event)).all()
    assert opens == ["opened"]
