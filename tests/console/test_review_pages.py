"""The review queue, the draft page and the chat page served to a signed-in person
(TestClient, SQLite and PostgreSQL): filters, keyset pages, approving several at once, the CSRF
token, the check that saves nothing, and the audit trail naming the person."""

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from engine.db import Database
from engine.drafting.review import edit, get_draft, list_drafts, reject
from engine.drafting.service import blocked_texts, load_catalog, run_campaign
from engine.drafting.templates import TemplateDrafter
from engine.drafting.voice import current_voice
from engine.models import DraftEvent
from tests.builders import AS_OF, converse, customer, order
from tests.console_helpers import MARKETER, client_sign_in

PLANTED = "Write to me at ana@example.com any time."
HTMX = {"HX-Request": "true"}


def welcome_drafts(db: Database, count: int, prefix: str = "w") -> list[int]:
    """`count` new subscribers with a welcome draft each; the new draft ids, oldest first."""
    for n in range(count):
        customer(db, f"{prefix}{n:03d}", subscribed_days_ago=1, first_name=f"Ana{n}")
    run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t")
    with db.read() as session:
        drafts = list_drafts(session, kind="welcome", limit=10_000)
    return [d.id for d in drafts if d.customer_id.startswith(prefix)]


def row_ids(html: str) -> list[int]:
    """The draft ids of the queue's rows, top to bottom."""
    return [int(n) for n in re.findall(r'<tr id="draft-(\d+)"', html)]


def plant_problem(db: Database, draft_id: int) -> None:
    """Give a draft an open problem (an email address in its body), as a reviewer's edit."""
    with db.write() as session:
        draft = get_draft(session, draft_id=draft_id)
        voice = current_voice(session)
        edit(
            session,
            draft_id=draft_id,
            actor="someone else",
            changes={"body": draft.body + "\n\n" + PLANTED},
            catalog=load_catalog(session),
            checks=voice.checks,
            business=voice.business,
            voice=voice,
            blocked_texts=blocked_texts(session, customer_ids=[draft.customer_id]).get(
                draft.customer_id, []
            ),
        )


def events(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count(DraftEvent.id))) or 0)


def test_the_queue_filters_by_kind_and_status(
    client: TestClient, db: Database, people: None
) -> None:
    ids = welcome_drafts(db, 3)
    customer(db, "buyer", subscribed_days_ago=400, first_name="Bo")
    order(db, "o1", "buyer", days_ago=1)
    run_campaign(db, drafter=TemplateDrafter(), kind="post_purchase", as_of=AS_OF, actor="t")
    with db.write() as session:
        reject(session, draft_id=ids[0], actor="r", reason="no")
    client_sign_in(client, MARKETER)

    waiting = client.get("/app")
    assert waiting.status_code == 200
    shown = row_ids(waiting.text)
    assert ids[0] not in shown and len(shown) == 3 and shown == sorted(shown, reverse=True)
    assert "3</strong> drafts match" in waiting.text
    assert 'href="/app/customers/w001"' in waiting.text and "Ana1" in waiting.text

    bought = client.get("/app", params={"kind": "post_purchase", "status": "all"})
    assert len(row_ids(bought.text)) == 1 and "After a purchase" in bought.text
    assert "1</strong> draft matches" in bought.text
    rejected = client.get("/app", params={"kind": "welcome", "status": "rejected"})
    assert row_ids(rejected.text) == [ids[0]]
    everything = client.get("/app", params={"status": "all"})
    assert len(row_ids(everything.text)) == 4
    # A filter the page does not know falls back to the default, not to an error.
    odd = client.get("/app", params={"kind": "<script>", "status": "nonsense"})
    assert odd.status_code == 200 and len(row_ids(odd.text)) == 3


def test_the_queue_pages_by_draft_id_fifty_at_a_time(
    client: TestClient, db: Database, people: None
) -> None:
    ids = welcome_drafts(db, 62)
    client_sign_in(client, MARKETER)
    first = client.get("/app")
    assert row_ids(first.text) == ids[::-1][:50]
    assert "62</strong> drafts match" in first.text
    assert ">Newer<" not in first.text
    older = re.search(r'href="(/app\?[^"]*before=(\d+)[^"]*)">Older<', first.text)
    assert older and int(older.group(2)) == ids[12]
    second = client.get(older.group(1).replace("&amp;", "&"))
    assert row_ids(second.text) == ids[::-1][50:]
    assert ">Older<" not in second.text
    newer = re.search(r'href="(/app\?[^"]*after=\d+[^"]*)">Newer<', second.text)
    assert newer
    back = client.get(newer.group(1).replace("&amp;", "&"))
    assert row_ids(back.text) == row_ids(first.text)


def test_approving_several_reports_the_ones_it_could_not(
    client: TestClient, db: Database, people: None
) -> None:
    good, flawed, done, also_good = welcome_drafts(db, 4)
    plant_problem(db, flawed)
    with db.write() as session:
        reject(session, draft_id=done, actor="r", reason="no")
    token = client_sign_in(client, MARKETER)
    response = client.post(
        "/app/drafts/approve",
        data={
            "csrf_token": token,
            "draft": [str(good), str(flawed), str(done), str(also_good)],
            "status": "waiting",
            "kind": "all",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"].startswith("/app?kind=all&status=waiting")
    page = client.get(response.headers["location"])
    assert "Approved 2 drafts." in page.text
    assert f"#{flawed} has problems to fix first" in page.text
    assert f"#{done} is no longer waiting for review" in page.text
    with db.read() as session:
        assert get_draft(session, draft_id=good).reviewed_by == MARKETER.email
        assert get_draft(session, draft_id=also_good).status == "approved"
        assert get_draft(session, draft_id=flawed).status == "needs_attention"
        assert get_draft(session, draft_id=done).status == "rejected"
    nothing = client.post("/app/drafts/approve", data={"csrf_token": token}, follow_redirects=True)
    assert "Select at least one draft first." in nothing.text


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(
    client: TestClient, db: Database, people: None
) -> None:
    (draft_id,) = welcome_drafts(db, 1)
    token = client_sign_in(client, MARKETER)
    before = events(db)
    posts: list[tuple[str, dict[str, Any]]] = [
        (f"/app/drafts/{draft_id}/approve", {}),
        (f"/app/drafts/{draft_id}/reject", {"reason": "no"}),
        (f"/app/drafts/{draft_id}/edit", {"subject": "x", "preheader": "", "body": "y"}),
        ("/app/drafts/approve", {"draft": str(draft_id)}),
    ]
    for url, data in posts:
        for token_sent in ({}, {"csrf_token": "forged"}):
            response = client.post(url, data=data | token_sent, follow_redirects=False)
            assert response.status_code == 403, url
            assert "out of date" in response.text
    with db.read() as session:
        assert get_draft(session, draft_id=draft_id).status == "pending_review"
    assert events(db) == before
    # The header htmx sends is as good as the field.
    row = client.post(f"/app/drafts/{draft_id}/approve", headers={"X-CSRF-Token": token} | HTMX)
    assert row.status_code == 200 and f'id="draft-{draft_id}"' in row.text
    assert f"Draft #{draft_id} approved." in row.text


def test_edits_and_decisions_are_recorded_under_the_persons_name(
    client: TestClient, db: Database, people: None
) -> None:
    (draft_id,) = welcome_drafts(db, 1)
    token = client_sign_in(client, MARKETER)
    page = client.get(f"/app/drafts/{draft_id}")
    assert page.status_code == 200
    with db.read() as session:
        draft = get_draft(session, draft_id=draft_id)
    # Browsers send CRLF line ends from a text area; an untouched body is not a change.
    fields = {
        "csrf_token": token,
        "subject": "A warmer hello",
        "preheader": draft.preheader,
        "body": draft.body.replace("\n", "\r\n"),
    }
    saved = client.post(f"/app/drafts/{draft_id}/edit", data=fields, follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"].endswith("?done=saved")
    approved = client.post(
        f"/app/drafts/{draft_id}/approve", data={"csrf_token": token}, follow_redirects=True
    )
    assert "You approved this draft." in approved.text
    with db.read() as session:
        after = get_draft(session, draft_id=draft_id)
    assert [(e.action, e.actor) for e in after.history][1:] == [
        ("edited", MARKETER.email),
        ("approved", MARKETER.email),
    ]
    assert set(after.history[1].changes) == {"subject"} and after.body == draft.body
    assert after.reviewed_by == MARKETER.email
    history = approved.text.split('id="history-heading"')[1]
    assert MARKETER.email in history and "Changed: Subject" in history


def test_check_shows_the_problems_an_edit_would_have_without_saving_it(
    client: TestClient, db: Database, people: None
) -> None:
    (draft_id,) = welcome_drafts(db, 1)
    token = client_sign_in(client, MARKETER)
    with db.read() as session:
        draft = get_draft(session, draft_id=draft_id)
    before = events(db)
    fields = {
        "csrf_token": token,
        "subject": draft.subject,
        "preheader": draft.preheader,
        "body": draft.body + "\n\n" + PLANTED,
    }
    fragment = client.post(f"/app/drafts/{draft_id}/check", data=fields, headers=HTMX)
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "holds personal data (email)" in fragment.text
    # Without htmx, the whole page comes back with the edit form open on the typed text.
    whole = client.post(f"/app/drafts/{draft_id}/check", data=fields)
    assert "holds personal data (email)" in whole.text and "ana@example.com" in whole.text
    assert 'id="edit-panel" class="edit" aria-labelledby="edit-heading">' in whole.text
    clean = client.post(
        f"/app/drafts/{draft_id}/check", data=fields | {"body": draft.body}, headers=HTMX
    )
    assert "No problems found" in clean.text
    with db.read() as session:
        assert get_draft(session, draft_id=draft_id).body == draft.body
    assert events(db) == before
    empty = client.post(f"/app/drafts/{draft_id}/check", data=fields | {"subject": ""})
    assert empty.status_code == 422 and "Subject: empty" in empty.text


def test_rejecting_needs_a_reason(client: TestClient, db: Database, people: None) -> None:
    (draft_id,) = welcome_drafts(db, 1)
    token = client_sign_in(client, MARKETER)
    url = f"/app/drafts/{draft_id}/reject"
    blank = client.post(url, data={"csrf_token": token, "reason": "  "})
    assert blank.status_code == 422 and "Say why you reject" in blank.text
    done = client.post(url, data={"csrf_token": token, "reason": "Too pushy"})
    assert "You rejected this draft." in done.text and "Reason: Too pushy" in done.text
    again = client.post(url, data={"csrf_token": token, "reason": "again"})
    assert again.status_code == 409 and "no longer waiting" in again.text


def test_a_draft_with_problems_cannot_be_approved_from_its_page_or_the_queue(
    client: TestClient, db: Database, people: None
) -> None:
    (draft_id,) = welcome_drafts(db, 1)
    plant_problem(db, draft_id)
    token = client_sign_in(client, MARKETER)
    page = client.get(f"/app/drafts/{draft_id}")
    assert re.search(r'<button type="submit" class="primary" disabled[^>]*>Approve<', page.text)
    assert "holds personal data (email)" in page.text
    refused = client.post(f"/app/drafts/{draft_id}/approve", data={"csrf_token": token})
    assert refused.status_code == 409 and "still has problems" in refused.text
    row = client.post(f"/app/drafts/{draft_id}/approve", headers={"X-CSRF-Token": token} | HTMX)
    assert row.status_code == 200 and "Not approved" in row.text
    with db.read() as session:
        assert get_draft(session, draft_id=draft_id).status == "needs_attention"


def test_the_chat_page_shows_every_turn_and_marks_the_quoted_one(
    client: TestClient, db: Database, people: None
) -> None:
    customer(db, "c/1", first_name="Maya")
    converse(
        db,
        "c/1",
        "chat/7",
        [
            ("bot", "Hi! How can we help?"),
            ("customer", "I run a small bakery."),
            ("agent", "Lovely. Mail me at help@shop.test."),
        ],
    )
    client_sign_in(client, MARKETER)
    page = client.get("/app/conversations/chat%2F7", params={"highlight": "chat/7-1"})
    assert page.status_code == 200
    roles = re.findall(r"<strong>(Customer|Agent|Bot)</strong>", page.text)
    assert roles == ["Bot", "Customer", "Agent"]
    highlighted = re.search(r'<li class="([^"]*)" id="highlighted"', page.text)
    assert highlighted and "customer" in highlighted.group(1)
    assert page.text.count('class="turn staff') == 2
    assert "help@shop.test" not in page.text
    assert 'href="/app/customers/c%2F1"' in page.text
    missing = client.get("/app/conversations/nope")
    assert missing.status_code == 404
