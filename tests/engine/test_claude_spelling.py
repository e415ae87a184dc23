"""A Claude draft with a misspelt word, through the real anthropic SDK against the local fake
Messages API: the grounding check names the word, and the draft is written once more with it."""

import json
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from engine.db import Database
from engine.drafting.claude import build_claude_drafter
from engine.drafting.service import run_campaign
from engine.models import Draft
from tests.builders import AS_OF, shop
from tests.fake_anthropic import MODEL, FakeAnthropic, serve_fake_anthropic, tool_message


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with serve_fake_anthropic() as server:
        yield server


def speller(*, learns: bool) -> Any:
    """A writer that misspells "receive" (and, if it learns, not after the feedback)."""

    def answer(body: dict[str, Any]) -> dict[str, Any]:
        retry = "failed these checks" in json.dumps(body["messages"])
        word = "receive" if retry and learns else "recieve"
        sentence = f"You'll {word} a tasting card with every bag."
        return tool_message(
            {
                "subject": "Welcome to the roastery",
                "preheader": "One tip to start",
                "body": f"Hi there,\n\nThanks for signing up. {sentence}\n\nThe team",
                "fact_ids": [],
                "evidence": [],
                "products": [],
            }
        )

    return answer


def test_a_misspelt_claude_draft_is_written_again_with_the_word_named(
    db: Database, fake: FakeAnthropic
) -> None:
    shop(db)
    fake.respond = speller(learns=True)
    drafter = build_claude_drafter(api_key="test", model=MODEL, base_url=fake.base_url)
    report = run_campaign(db, drafter=drafter, kind="welcome", as_of=AS_OF, actor="t")
    assert (report.created, report.needs_attention, report.failed) == (2, 0, [])
    retries = [
        json.dumps(b["messages"])
        for b in fake.message_bodies()
        if "failed these checks" in json.dumps(b["messages"])
    ]
    assert len(retries) == 2 and all("recieve" in turn for turn in retries)
    with db.read() as session:
        drafts = session.scalars(select(Draft)).all()
    assert {(d.attempts, d.status) for d in drafts} == {(2, "pending_review")}
    assert all("receive a tasting card" in d.body for d in drafts)


def test_a_claude_draft_misspelt_twice_needs_attention(db: Database, fake: FakeAnthropic) -> None:
    shop(db)
    fake.respond = speller(learns=False)
    drafter = build_claude_drafter(api_key="test", model=MODEL, base_url=fake.base_url)
    report = run_campaign(db, drafter=drafter, kind="welcome", as_of=AS_OF, actor="t")
    assert (report.created, report.needs_attention) == (2, 2)
    with db.read() as session:
        problems = [
            (p["code"], p["excerpt"]) for d in session.scalars(select(Draft)) for p in d.problems
        ]
    assert set(problems) == {("spelling", "recieve")}
