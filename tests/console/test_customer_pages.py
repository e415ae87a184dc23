"""The "Customers asking about…" page and the customer page through a TestClient, on both
backends: date filters, refusals, empty states, the context shown, unsubscribing, and
forgetting a customer only when an admin types their id exactly."""

import re
from datetime import datetime, timedelta
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from chat_ingest.schemas import TranscriptCreate
from chat_ingest.service import store_transcript
from engine.customers.context import build_context
from engine.db import Database
from engine.drafting.review import list_drafts
from engine.drafting.service import run_campaign
from engine.drafting.templates import TemplateDrafter
from engine.errors import NotFoundError
from engine.models import REVIEWABLE
from engine.runtime import Services
from tests.builders import AS_OF, chat, customer, fact, order
from tests.console_helpers import ADMIN, MARKETER, client_sign_in

pytestmark = pytest.mark.usefixtures("people")

SLASHED = "team/42"


def said(db: Database, customer_id: str, text: str, *, at: datetime) -> None:
    """One customer message in a conversation of its own, sent at `at`."""
    key = f"{customer_id}-{at:%Y%m%d}"
    with db.write() as session:
        store_transcript(
            session,
            transcript=TranscriptCreate.model_validate(
                {
                    "conversation_id": f"conv-{key}",
                    "customer_id": customer_id,
                    "messages": [
                        {"id": f"msg-{key}", "role": "customer", "text": text, "sent_at": at}
                    ],
                }
            ),
        )


def grinder_chats(services: Services) -> None:
    """Two customers with a noisy grinder (one in June, one in September), one about parcels."""
    db = services.db
    customer(db, "june", first_name="Maya")
    customer(db, SLASHED, first_name="Tom")
    customer(db, "parcel", first_name="Ivo")
    said(db, "june", "my burr grinder makes an awful rattling noise", at=AS_OF.replace(month=6))
    said(db, SLASHED, "the grinder started squeaking really loudly", at=AS_OF.replace(month=9))
    said(db, "parcel", "my parcel still hasn't arrived after two weeks", at=AS_OF.replace(month=9))
    services.pipeline().run_until_idle()


def path(customer_id: str) -> str:
    return f"/app/customers/{quote(customer_id, safe='')}"


def found(html: str) -> set[str]:
    """The customers a search page links to."""
    return set(re.findall(r'href="/app/customers/([^"]+)"', html))


def test_search_groups_customers_with_their_quotes_and_links(
    client: TestClient, services: Services
) -> None:
    grinder_chats(services)
    client_sign_in(client, MARKETER)
    page = client.get("/app/search", params={"q": "noisy grinder"})
    assert page.status_code == 200
    assert found(page.text) == {"june", quote(SLASHED, safe="")}  # "/" sent as %2F
    assert "awful rattling noise" in page.text and "squeaking" in page.text
    assert "parcel still" not in page.text
    assert 'href="/app/conversations/conv-june-20260620?highlight=msg-june-20260620"' in page.text
    assert "Maya" in page.text and "said 20 Jun 2026" in page.text
    assert 'value="noisy grinder"' in page.text  # the box keeps the question


def test_date_filters_narrow_the_search_and_an_impossible_range_is_an_error(
    client: TestClient, services: Services
) -> None:
    grinder_chats(services)
    client_sign_in(client, ADMIN)
    since = client.get("/app/search", params={"q": "noisy grinder", "since": "2026-08-01"})
    assert found(since.text) == {quote(SLASHED, safe="")}
    until = client.get("/app/search", params={"q": "noisy grinder", "until": "2026-07-01"})
    assert found(until.text) == {"june"}
    # "Said until" takes in the whole of that day.
    same_day = client.get(
        "/app/search", params={"q": "noisy grinder", "since": "2026-06-20", "until": "2026-06-20"}
    )
    assert found(same_day.text) == {"june"}
    backwards = client.get(
        "/app/search", params={"q": "noisy grinder", "since": "2026-09-01", "until": "2026-06-01"}
    )
    assert backwards.status_code == 200
    assert "“Said until” is before “Said since”" in backwards.text
    assert found(backwards.text) == set()
    garbled = client.get("/app/search", params={"q": "noisy grinder", "since": "June"})
    assert "“Said since” is not a date" in garbled.text
    assert found(garbled.text) == set()


def test_a_sensitive_question_shows_the_refusal_and_nobody(
    client: TestClient, services: Services
) -> None:
    grinder_chats(services)
    client_sign_in(client, MARKETER)
    page = client.get("/app/search", params={"q": "customers who are pregnant"})
    assert page.status_code == 200
    assert "sensitive category (pregnancy)" in page.text
    assert "Nobody is shown for this question" in page.text
    assert found(page.text) == set()


def test_an_empty_question_offers_examples_and_no_match_says_what_to_try(
    client: TestClient, services: Services
) -> None:
    grinder_chats(services)
    client_sign_in(client, MARKETER)
    empty = client.get("/app/search")
    assert '<label for="q">Customers asking about</label>' in empty.text
    assert 'href="/app/search?q=grinder+noise"' in empty.text
    assert found(empty.text) == set()
    nothing = client.get("/app/search", params={"q": "wedding gift cards"})
    assert "Nobody asked about “wedding gift cards”" in nothing.text
    assert found(nothing.text) == set()


def shop_with_drafts(db: Database) -> None:
    """A new subscriber with a kept fact, a blocked statement, an order and welcome drafts."""
    customer(db, SLASHED, subscribed_days_ago=1, first_name="Maya")
    chat(db, SLASHED, days_ago=1)
    chat(db, SLASHED, days_ago=1, role="agent")
    fact(db, SLASHED, "business", "small bakery", "I run a small bakery")
    order(db, "o-1", SLASHED, days_ago=1)
    run_campaign(db, drafter=TemplateDrafter(), kind="welcome", as_of=AS_OF, actor="t")


def waiting(db: Database, customer_id: str) -> int:
    with db.read() as session:
        drafts = list_drafts(session, customer_id=customer_id, statuses=REVIEWABLE)
    return len(drafts)


def test_the_customer_page_shows_their_context_and_drafts(client: TestClient, db: Database) -> None:
    shop_with_drafts(db)
    with db.read() as session:
        draft_ids = [d.id for d in list_drafts(session, customer_id=SLASHED)]
    assert draft_ids
    client_sign_in(client, MARKETER)
    page = client.get(path(SLASHED))
    assert page.status_code == 200
    text = page.text
    assert "<h1>Maya" in text and "(team/42)" in text
    assert "small bakery" in text and "“I run a small bakery”" in text
    assert "House Beans" in text and "20.00 USD" in text
    assert "New customer (one order so far)" in text
    assert "May be emailed" in text
    for draft_id in draft_ids:
        assert f'href="/app/drafts/{draft_id}"' in text
    # A marketer may unsubscribe, but is not offered the erasure.
    assert "Unsubscribe</button>" in text
    assert "Forget this customer" not in text


def test_blocked_statements_are_counted_in_plain_words(
    client: TestClient, db: Database, services: Services
) -> None:
    customer(db, "c1", first_name="Ana")
    said(db, "c1", "I run a small bakery. I have diabetes so I drink decaf.", at=AS_OF)
    services.pipeline().run_until_idle()
    with db.read() as session:
        blocked = build_context(session, customer_id="c1").blocked
    assert blocked.get("sensitive")
    client_sign_in(client, ADMIN)
    page = client.get(path("c1"))
    assert f"{blocked['sensitive']} about a sensitive subject" in page.text
    assert "diabetes" not in page.text


def test_an_unknown_customer_is_a_404_page(client: TestClient) -> None:
    client_sign_in(client, MARKETER)
    page = client.get(path("nobody/here"))
    assert page.status_code == 404
    assert "There is no customer with this id" in page.text


def test_unsubscribe_withdraws_consent_and_waiting_drafts(client: TestClient, db: Database) -> None:
    shop_with_drafts(db)
    before = waiting(db, SLASHED)
    assert before
    token = client_sign_in(client, MARKETER)
    response = client.post(
        f"{path(SLASHED)}/unsubscribe", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"{path(SLASHED)}?withdrawn={before}"
    page = client.get(response.headers["location"])
    word = "draft" if before == 1 else "drafts"
    assert f"{before} {word} waiting for review" in page.text
    assert "Not emailed" in page.text and "Unsubscribe</button>" not in page.text
    assert waiting(db, SLASHED) == 0
    with db.read() as session:
        consent = build_context(session, customer_id=SLASHED).consent
    assert not consent.marketing_consent and consent.unsubscribed_at is not None


def test_a_post_without_its_csrf_token_is_refused_and_changes_nothing(
    client: TestClient, db: Database
) -> None:
    shop_with_drafts(db)
    before = waiting(db, SLASHED)
    client_sign_in(client, ADMIN)
    unsubscribe = client.post(f"{path(SLASHED)}/unsubscribe", data={}, follow_redirects=False)
    assert unsubscribe.status_code == 403
    forget = client.post(
        f"{path(SLASHED)}/forget", data={"confirm_id": SLASHED}, follow_redirects=False
    )
    assert forget.status_code == 403
    assert waiting(db, SLASHED) == before
    with db.read() as session:
        assert build_context(session, customer_id=SLASHED).consent.marketing_consent


def test_forgetting_needs_the_id_typed_exactly(client: TestClient, db: Database) -> None:
    shop_with_drafts(db)
    token = client_sign_in(client, ADMIN)
    page = client.get(path(SLASHED))
    assert 'for="confirm_id"' in page.text and "Forget this customer</button>" in page.text
    for typed in ("team/4", "TEAM/42", " team/42", ""):
        response = client.post(
            f"{path(SLASHED)}/forget",
            data={"csrf_token": token, "confirm_id": typed},
            follow_redirects=False,
        )
        assert response.status_code == 422
        assert "nothing was erased" in response.text
    with db.read() as session:
        assert build_context(session, customer_id=SLASHED).orders.count == 1


def test_a_marketer_cannot_forget_a_customer(client: TestClient, db: Database) -> None:
    shop_with_drafts(db)
    token = client_sign_in(client, MARKETER)
    response = client.post(
        f"{path(SLASHED)}/forget",
        data={"csrf_token": token, "confirm_id": SLASHED},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "Only an admin" in response.text
    with db.read() as session:
        assert build_context(session, customer_id=SLASHED).orders.count == 1


def test_an_admin_forgets_a_customer_and_sees_what_was_removed(
    client: TestClient, db: Database
) -> None:
    shop_with_drafts(db)
    token = client_sign_in(client, ADMIN)
    response = client.post(
        f"{path(SLASHED)}/forget",
        data={"csrf_token": token, "confirm_id": SLASHED},
        follow_redirects=False,
    )
    assert response.status_code == 303
    location = response.headers["location"]
    assert re.fullmatch(r"/app/search\?erased=\d+", location)  # the id is in no URL
    confirmation = client.get(location)
    assert "The customer was forgotten" in confirmation.text
    assert "1 customer record" in confirmation.text and "1 order" in confirmation.text
    assert "1 fact" in confirmation.text
    assert f"by {ADMIN.email} (console)" in confirmation.text
    assert SLASHED not in confirmation.text
    with db.read() as session, pytest.raises(NotFoundError):
        build_context(session, customer_id=SLASHED)
    assert client.get(path(SLASHED)).status_code == 404


def test_pages_need_a_signed_in_person(client: TestClient, db: Database) -> None:
    customer(db, "c1")
    for url in ("/app/search?q=grinder", path("c1")):
        response = client.get(url, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/app/login")


def test_a_date_far_outside_the_store_range_is_an_error_not_a_crash(
    client: TestClient, services: Services
) -> None:
    grinder_chats(services)
    client_sign_in(client, MARKETER)
    page = client.get("/app/search", params={"q": "noisy grinder", "until": "0001-01-01"})
    assert page.status_code == 200
    assert "between the years 1900 and 2999" in page.text
    late = AS_OF + timedelta(days=1)
    page = client.get("/app/search", params={"q": "noisy grinder", "since": f"{late:%Y-%m-%d}"})
    assert found(page.text) == set()
