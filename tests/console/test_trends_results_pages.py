"""The trends and results pages over TestClient, on both backends: weekly intents as of a day,
adding a tracker (scored over the messages already stored) and its field errors, the CSRF
check, and the flow report with its groups, comparisons and "need more data"."""

import json
import re
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

from chat_ingest.schemas import TranscriptCreate
from chat_ingest.service import store_transcript
from engine.db import Database
from engine.intents.service import list_trackers
from engine.runtime import Services
from tests.console_helpers import MARKETER, client_sign_in
from tests.engine.test_intent_weeks import said
from tests.measure_rows import add_event, day, enter, small_campaign

pytestmark = pytest.mark.usefixtures("people")

AS_OF = "2026-11-20"


def spec(html: str, spec_id: str) -> dict[str, object]:
    """The Vega-Lite spec a page carries in its JSON data block."""
    found = re.search(rf'<script type="application/json" id="{spec_id}">(.*?)</script>', html, re.S)
    assert found, f"no chart {spec_id} in the page"
    loaded: dict[str, object] = json.loads(found.group(1))
    return loaded


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_the_trends_page_shows_the_intents_of_the_weeks_asked_for(
    client: TestClient, db: Database
) -> None:
    said(db, "ana", at("2026-11-16T10:00"), "pricing_interest")
    said(db, "bo", at("2026-11-17T10:00"), "pricing_interest", "discount_seeking")
    said(db, "bo", at("2026-09-01T10:00"), "support_issue")
    said(db, "cy", at("2026-11-17T11:00"), "support_issue", role="agent")  # not counted
    client_sign_in(client, MARKETER)
    page = client.get("/app/trends", params={"as_of": AS_OF})
    assert page.status_code == 200
    html = page.text
    assert html.count("<h1") == 1
    assert "29 August 2026 to 20 November 2026" in " ".join(html.split())
    customers = spec(html, "customers-spec")
    values = customers["data"]["values"]  # type: ignore[index]
    latest = {v["intent"]: v for v in values if v["week_start"] == "2026-11-14"}
    assert latest["Pricing interest"]["customers"] == 2
    assert latest["Discount seeking"]["customers"] == 1
    assert latest["Support issue"]["messages"] == 0  # the agent's turn
    assert "<caption>Customers / messages per intent and week" in html
    row = re.search(r'<th scope="row">Pricing interest</th>(.*?)</tr>', html, re.S)
    assert row and "2 / 2" in row.group(1)
    # The weeks before: nothing yet, and a page that says how intents appear.
    earlier = client.get("/app/trends", params={"as_of": "2026-06-01"}).text
    assert "No customer message in these weeks has an intent yet" in earlier
    assert 'data-vega-spec="customers-spec"' not in earlier
    wrong = client.get("/app/trends", params={"as_of": "next tuesday"}).text
    assert "Give the date as YYYY-MM-DD" in wrong


def test_a_tracker_is_added_and_scored_over_stored_messages(
    client: TestClient, db: Database, services: Services
) -> None:
    with db.write() as session:
        store_transcript(
            session,
            transcript=TranscriptCreate.model_validate(
                {
                    "conversation_id": "loud",
                    "customer_id": "ana",
                    "messages": [
                        {
                            "id": "loud-1",
                            "role": "customer",
                            "text": "My grinder has become really loud in the mornings.",
                            "sent_at": "2026-11-16T09:00:00Z",
                        }
                    ],
                }
            ),
        )
    services.pipeline().run_until_idle()
    csrf = client_sign_in(client, MARKETER)
    response = client.post(
        "/app/trends/trackers",
        data={
            "csrf_token": csrf,
            "as_of": AS_OF,
            "name": "Grinder noise",
            "examples": "my grinder got really loud\n\n the burrs squeak  \n",
            "description": "Grinders that got loud",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    assert response.headers["location"].startswith("/app/trends?as_of=2026-11-20&added=")
    page = client.get(response.headers["location"]).text
    text = " ".join(page.split())
    assert "Tracker “grinder_noise” added. It matches 1 message customers already sent" in text
    assert "<h3>grinder_noise</h3>" in page and "“the burrs squeak”" in page
    assert "1 customer, 1 message so far" in text
    with db.read() as session:
        (tracker,) = list_trackers(session)
    assert (tracker.name, tracker.examples) == (
        "grinder_noise",
        ["my grinder got really loud", "the burrs squeak"],
    )
    assert (tracker.messages, tracker.customers) == (1, 1)


@pytest.mark.parametrize(
    ("fields", "field_id", "message"),
    [
        ({"name": "9 lives"}, "tracker-name", "Use 2 to 64 lowercase letters"),
        ({"name": "pricing_interest"}, "tracker-name", "There is already an intent"),
        ({"name": ""}, "tracker-name", "Give the tracker a name."),
        ({"examples": " \n \n"}, "tracker-examples", "Give at least one example phrase"),
        ({"examples": "x" * 501}, "tracker-examples", "Keep each phrase under 500"),
        ({"description": "d" * 1001}, "tracker-description", "Keep it under 1000"),
    ],
)
def test_a_bad_tracker_is_refused_with_the_error_next_to_its_field(
    client: TestClient, db: Database, fields: dict[str, str], field_id: str, message: str
) -> None:
    csrf = client_sign_in(client, MARKETER)
    data = {"name": "gift_ideas", "examples": "a present for my dad", "description": "Gifts"}
    response = client.post(
        "/app/trends/trackers",
        data={"csrf_token": csrf, "as_of": AS_OF, **data, **fields},
        follow_redirects=False,
    )
    assert response.status_code == 422
    html = response.text
    error = re.search(rf'<span class="field-error" id="{field_id}-error">([^<]*)</span>', html)
    assert error and message in error.group(1)
    control = re.search(rf'id="{field_id}"[^>]*>', html)
    assert control and 'aria-invalid="true"' in control.group(0)
    # What was typed stays in the form; nothing is stored.
    typed = {**data, **fields}
    assert f'name="description" value="{typed["description"]}"' in html
    assert f'name="name" value="{typed["name"]}"' in html
    with db.read() as session:
        assert list_trackers(session) == []


def test_a_tracker_posted_without_its_csrf_token_is_refused(
    client: TestClient, db: Database
) -> None:
    client_sign_in(client, MARKETER)
    response = client.post(
        "/app/trends/trackers",
        data={"name": "gift_ideas", "examples": "a present for my dad", "as_of": AS_OF},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "Reload the page and try again" in response.text
    forged = client.post(
        "/app/trends/trackers",
        data={"csrf_token": "forged", "name": "gift_ideas", "examples": "a present"},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    with db.read() as session:
        assert list_trackers(session) == []


def test_the_pages_ask_for_a_sign_in(client: TestClient) -> None:
    for path in ("/app/trends", "/app/results"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/app/login?next={path}"


def test_results_show_the_flows_their_groups_and_need_more_data(
    client: TestClient, db: Database
) -> None:
    small_campaign(db)
    enter(db, "w1", "personal", send=None, step="d7")  # drafted, not sent
    client_sign_in(client, MARKETER)
    html = client.get("/app/results").text
    assert html.count("<h1") == 1
    waiting = html.split('id="waiting-heading"')[1].split("</section>")[0]
    assert "<li>Welcome, day 7: 1 customer</li>" in waiting
    assert "<h3>Welcome, day 7</h3>" not in html
    # Steps in the order of their days.
    assert html.index("<h3>Welcome, day 0</h3>") < html.index("<h3>Welcome, day 3</h3>")
    assert "<h3>Welcome, day 0</h3>" in html and "<h3>Welcome, day 3</h3>" in html
    assert 'class="badge">Simulated<' not in html
    day0 = html.split("<h3>Welcome, day 0</h3>")[1].split("</table>")[0]
    rows = dict(re.findall(r'<th scope="row">([^<]+)</th>(.*?)</tr>', day0, re.S))
    assert set(rows) == {"Personal email", "Generic email", "No email (held out)"}
    assert "1 (33.3%)" in rows["Personal email"]  # 1 of the 3 the email was sent to bought
    assert ">40.00<" in rows["No email (held out)"] and "\u2013" in rows["No email (held out)"]
    lifts = html.split('id="lifts-heading"')[1].split("</table>")[0]
    assert lifts.count('<span class="badge">need more data</span>') == 4
    assert "Need more data for 4 of 4 comparisons here" in html
    conversion = spec(html, "conversion-spec")
    points = {v["comparison"]: v for v in conversion["data"]["values"]}  # type: ignore[index]
    versus_generic = points["Welcome, day 0 vs generic email"]
    assert versus_generic["difference"] == pytest.approx(round((1 / 3 - 1 / 2) * 100, 4))
    assert versus_generic["low"] < versus_generic["difference"] < versus_generic["high"]
    assert "revenue-spec" in html
    assert "the last email the customer clicked in the 5 days before ordering" in html


def test_results_filter_by_period_and_mark_simulated_numbers(
    client: TestClient, db: Database
) -> None:
    small_campaign(db)
    client_sign_in(client, MARKETER)
    # The day-0 entries are on 10 November; the day-3 one a hundred days before 20 November.
    html = client.get("/app/results", params={"since": "2026-11-10", "until": "2026-11-10"}).text
    assert "<h3>Welcome, day 0</h3>" in html and "Welcome, day 3" not in html
    before = client.get("/app/results", params={"until": "2026-11-09"}).text
    assert "<h3>Welcome, day 3</h3>" in before and "Welcome, day 0" not in before
    none = client.get("/app/results", params={"since": "2026-11-11"}).text
    assert "Nothing in this period" in none
    backwards = client.get("/app/results", params={"since": "2026-11-10", "until": "2026-11-01"})
    assert backwards.status_code == 422
    assert 'id="until-error">To: Pick a day on or after' in backwards.text
    sim = enter(db, "sim", "personal")
    assert sim is not None
    add_event(db, sim, "sim", "delivered", day(0.1), simulated=True)
    marked = client.get("/app/results").text
    assert 'class="badge">Simulated<' in marked and "simulated month" in marked


def test_results_before_anything_was_sent_say_how_results_appear(
    client: TestClient, db: Database
) -> None:
    client_sign_in(client, MARKETER)
    html = client.get("/app/results").text
    assert "No results yet" in html and "approve drafts in the" in html
    assert "data-vega-spec" not in html
