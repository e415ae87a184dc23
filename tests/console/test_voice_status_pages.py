"""The voice guide and status pages through a TestClient, on both backends: the guide with each
sample's verdict, saving a bad guide (the field named, nothing saved) and a good one (a new
version, recorded as the person), CSRF, and the status page's counts."""

import json
import re
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from engine.db import Database
from engine.drafting.voice import VoiceContrast, VoiceGuide, current_voice, set_voice
from engine.models import Message
from engine.models import VoiceGuide as VoiceGuideRow
from engine.outbox import enqueue
from tests.builders import approved_drafts, chat, shop
from tests.console_helpers import MARKETER, client_sign_in

pytestmark = pytest.mark.usefixtures("people")

SAMPLES = [
    "Hi Jo,\n\nYour beans left the roastery this morning. They'll taste best after a few days.\n\n"
    "Priya",
    "Hi Sam,\n\nThanks for signing up. We read every reply, so tell us what you brew with.\n\n"
    "Priya",
    # Breaks two checks: a banned phrase, and an uncontracted "we are".
    "Hi Ana,\n\nWe are delighted you came back. The new harvest is in.\n\nPriya",
]
RULES = [
    "Write like one roaster writing to one customer.",
    "Keep sentences short.",
    "Use contractions.",
    "No marketing cliches.",
    "One exclamation mark at most.",
]


def guide_form(csrf: str, **changes: str) -> dict[str, str]:
    """The part-by-part form for a valid guide (three samples, five rules, one contrast)."""
    data = {
        "csrf_token": csrf,
        "business": "Kettle & Crumb",
        "sign_off": "Priya",
        "generic_0": "We are thrilled to have you!",
        "ours_0": "Thanks for signing up.",
        "banned_phrases": "delighted\nthrilled\n\nreach out",
        "max_sentence_words": "28",
        "contractions": "use",
        "max_exclamation_marks": "1",
        "max_subject_chars": "70",
    }
    data |= {f"sample_{n}": text for n, text in enumerate(SAMPLES)}
    data |= {f"rule_{n}": text for n, text in enumerate(RULES)}
    return data | changes


def versions(db: Database) -> list[tuple[int, str | None]]:
    """Every stored guide version with who set it."""
    with db.read() as session:
        rows = session.execute(
            select(VoiceGuideRow.id, VoiceGuideRow.created_by).order_by(VoiceGuideRow.id)
        ).all()
    return [(row.id, row.created_by) for row in rows]


def test_the_page_shows_the_guide_and_each_samples_verdict(
    client: TestClient, db: Database
) -> None:
    guide = VoiceGuide(
        business="Kettle & Crumb",
        samples=SAMPLES,
        rules=RULES,
        contrast=[VoiceContrast(generic="We are thrilled!", ours="Glad you're here.")],
        sign_off="Priya",
    )
    with db.write() as session:
        version = set_voice(session, guide=guide, actor="test").version
    client_sign_in(client, MARKETER)
    page = client.get("/app/voice")
    assert page.status_code == 200
    html = page.text
    assert "<h1>Voice guide</h1>" in html
    assert f"Version {version}" in html
    assert "Kettle &amp; Crumb" in html
    for rule in RULES:
        assert rule in html
    assert "Glad you&#39;re here." in html
    # Two samples pass; the third breaks the banned phrase and the contractions checks.
    assert html.count("Passes the voice checks") == 2
    assert html.count("Breaks the voice checks") == 1
    assert "Uses the banned phrase &#39;delighted&#39;" in html
    assert "write &#34;we&#39;re&#34;, not &#39;We are&#39;" in html.replace("Write", "write")
    assert 'name="csrf_token"' in html
    assert '<label for="guide-json">Voice guide (JSON)</label>' in html


def test_without_a_guide_the_built_in_one_is_shown(client: TestClient) -> None:
    client_sign_in(client, MARKETER)
    html = client.get("/app/voice").text
    assert "The built-in guide (you have not set one yet)" in html
    assert html.count("Passes the voice checks") == 3


def test_a_bad_guide_names_the_field_and_saves_nothing(client: TestClient, db: Database) -> None:
    csrf = client_sign_in(client, MARKETER)
    before = versions(db)
    # Two samples only (the third slot left blank), and a word count that is not a number.
    response = client.post(
        "/app/voice",
        data=guide_form(csrf, sample_2="  ", max_sentence_words="lots", rule_4=""),
    )
    assert response.status_code == 400
    html = response.text
    assert "Nothing was saved" in html
    assert "Sample emails needs at least 3." in html
    assert "Rules needs at least 5." in html
    assert "Longest sentence (words) must be a whole number." in html
    assert 'id="max_sentence_words"' in html and 'aria-invalid="true"' in html
    # What was typed is shown back, not lost.
    assert 'value="lots"' in html
    assert versions(db) == before


def test_a_bad_item_is_named_by_its_box(client: TestClient, db: Database) -> None:
    csrf = client_sign_in(client, MARKETER)
    response = client.post("/app/voice", data=guide_form(csrf, rule_3="ok", ours_0=""))
    assert response.status_code == 400
    assert "Rule 4 needs at least 3 characters." in response.text
    assert "Contrast 1 (ours) is empty or too short." in response.text
    assert versions(db) == []


def test_a_good_guide_is_a_new_version_recorded_as_the_person(
    client: TestClient, db: Database
) -> None:
    csrf = client_sign_in(client, MARKETER)
    response = client.post("/app/voice", data=guide_form(csrf), follow_redirects=False)
    assert response.status_code == 303
    [(version, actor)] = versions(db)
    assert actor == MARKETER.email
    assert response.headers["location"] == f"/app/voice?saved={version}#guide"
    page = client.get(response.headers["location"]).text
    assert f"Saved. Version {version} is in use" in page
    assert "1 of its sample emails break the voice checks" in page
    with db.read() as session:
        stored = current_voice(session)
    assert stored.version == version
    assert stored.business == "Kettle & Crumb"
    assert stored.samples == [s.strip() for s in SAMPLES]
    assert stored.checks.banned_phrases == ["delighted", "thrilled", "reach out"]
    # Saving again is another version.
    client.post("/app/voice", data=guide_form(csrf, business="Kettle & Crumb Co."))
    assert [v for v, _ in versions(db)] == [version, version + 1]


def test_the_json_form_saves_or_names_the_field(client: TestClient, db: Database) -> None:
    csrf = client_sign_in(client, MARKETER)
    guide: dict[str, Any] = {
        "business": "Kettle",
        "samples": SAMPLES,
        "rules": RULES,
        "contrast": [{"generic": "a b c", "ours": "d e f"}],
        "checks": {"max_sentence_words": 3},
    }
    bad = client.post("/app/voice/json", data={"csrf_token": csrf, "guide": json.dumps(guide)})
    assert bad.status_code == 400
    assert "checks.max_sentence_words" in bad.text
    assert versions(db) == []
    broken = client.post("/app/voice/json", data={"csrf_token": csrf, "guide": "{not json"})
    assert broken.status_code == 400 and "not valid JSON" in broken.text
    guide["checks"] = {"max_sentence_words": 30}
    good = client.post(
        "/app/voice/json",
        data={"csrf_token": csrf, "guide": json.dumps(guide)},
        follow_redirects=False,
    )
    assert good.status_code == 303
    [(_, actor)] = versions(db)
    assert actor == MARKETER.email
    with db.read() as session:
        assert current_voice(session).checks.max_sentence_words == 30


@pytest.mark.parametrize("path", ["/app/voice", "/app/voice/json"])
def test_a_post_without_its_csrf_token_is_refused(
    client: TestClient, db: Database, path: str
) -> None:
    csrf = client_sign_in(client, MARKETER)
    data = guide_form(csrf)
    del data["csrf_token"]
    response = client.post(path, data=data | {"guide": "{}"})
    assert response.status_code == 403
    forged = client.post(path, data=data | {"csrf_token": "forged", "guide": "{}"})
    assert forged.status_code == 403
    assert versions(db) == []


def test_the_pages_need_a_signed_in_person(client: TestClient) -> None:
    for path in ("/app/voice", "/app/status"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == f"/app/login?next={path}"


def counts_of(html: str) -> dict[str, str]:
    """The number in each status table row, by the row's id."""
    return dict(
        re.findall(r'<tr id="([\w-]+)"><th scope="row">[^<]*</th><td class="n">([\d,]+)</td>', html)
    )


def test_the_status_page_counts_what_was_added(client: TestClient, db: Database) -> None:
    client_sign_in(client, MARKETER)
    empty = counts_of(client.get("/app/status").text)
    assert empty["count-customers"] == "0"
    assert empty["messages-pending"] == "0"
    assert empty["webhook-waiting"] == "0"
    assert empty["sends-unqueued"] == "0"

    shop(db)  # three customers, one chat message (pending: no pipeline runs here), one fact
    chat(db, "c2", days_ago=2, role="agent")  # an agent turn: stored, never queued
    drafts = approved_drafts(db, "c4")  # a fourth customer, with a welcome draft approved
    with db.write() as session:
        enqueue(
            session,
            draft_id=drafts[0],
            event="draft.created",
            payload={"draft_id": drafts[0]},
            url="https://review.example/hook",
        )
    response = client.get("/app/status")
    assert response.status_code == 200
    counts = counts_of(response.text)
    assert counts["count-customers"] == "4"
    assert counts["count-messages"] == "2"
    assert counts["count-customer-messages"] == "1"
    assert counts["count-facts"] == "1"
    assert counts["messages-pending"] == "1"
    assert counts["messages-processed"] == "0"
    assert counts["webhook-waiting"] == "1"
    assert counts["webhook-failed"] == "0"
    assert counts["sends-unqueued"] == "1"
    assert counts["sends-sent"] == "0"
    assert counts["drafts-approved"] == "1"
    assert int(counts["drafts-pending_review"]) >= 1  # the new subscribers c1 and c2
    assert "1 customer message waiting to be read" in response.text
    with db.read() as session:
        assert session.scalar(select(Message.state).where(Message.role == "agent")) == "skipped"


def test_the_status_page_reads_the_setting_for_sending(client: TestClient) -> None:
    client_sign_in(client, MARKETER)
    html = client.get("/app/status").text
    assert "Sending is off" in html
    assert "No review webhook is set" in html
