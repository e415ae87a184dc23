"""The Claude path end to end: a campaign through the real anthropic SDK against the local fake
Messages API, with the grounding check's retry, the Message Batches API, and what is stored."""

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from engine.db import Database
from engine.drafting.claude import PROMPT_VERSION, build_claude_drafter
from engine.drafting.review import get_draft
from engine.drafting.service import run_campaign
from engine.models import Draft
from tests.builders import AS_OF, fact, shop
from tests.fake_anthropic import MODEL, FakeAnthropic, serve_fake_anthropic, tool_message


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with serve_fake_anthropic() as server:
        yield server


def writer(body: dict[str, Any]) -> dict[str, Any]:
    """Answers like a model that uses the first fact it is given, and is "delighted" unless
    told what failed last time."""
    turn = json.dumps(body["messages"])
    # The facts are given with their ids inside the user turn's JSON.
    ids = [int(i) for i in re.findall(r'\\"id\\":\s*(\d+)', turn)]
    sentence = "For a small bakery, a 1kg bag keeps the counter going."
    retry = "failed these checks" in turn
    opener = "Thanks for signing up." if retry else "We're delighted you signed up."
    return tool_message(
        {
            "subject": "Welcome to the roastery",
            "preheader": "One tip to start",
            "body": f"Hi there,\n\n{opener} {sentence if ids else ''}\n\nThe team",
            "fact_ids": ids[:1],
            "evidence": [{"sentence": sentence, "fact_ids": ids[:1], "skus": [], "intents": []}]
            if ids
            else [],
            "products": [],
        },
        usage={
            "input_tokens": 300,
            "output_tokens": 150,
            "cache_read_input_tokens": 1800,
            "cache_creation_input_tokens": 0,
        },
    )


def test_a_campaign_drafts_with_claude_retries_a_failed_draft_with_feedback(
    db: Database, fake: FakeAnthropic
) -> None:
    fact_id = shop(db)
    fake.respond = writer
    drafter = build_claude_drafter(api_key="test", model=MODEL, base_url=fake.base_url)
    report = run_campaign(db, drafter=drafter, kind="welcome", as_of=AS_OF, actor="t")
    assert (report.created, report.needs_attention, report.failed) == (2, 0, [])
    bodies = fake.message_bodies()
    assert len(bodies) == 4  # two customers, each retried once ("delighted" is banned)
    retries = [b for b in bodies if "failed these checks" in json.dumps(b["messages"])]
    assert len(retries) == 2 and "delighted" in json.dumps(retries[0]["messages"])
    # The voice guide and catalog are the same cached prefix for every customer.
    assert len({json.dumps(b["system"]) for b in bodies}) == 1
    assert bodies[0]["system"][-1]["cache_control"] == {"type": "ephemeral"}
    with db.read() as session:
        drafts = {d.customer_id: d for d in session.scalars(select(Draft)).all()}
        maya = get_draft(session, draft_id=drafts["c1"].id)
    assert (maya.drafter, maya.template, maya.model) == ("claude", PROMPT_VERSION, MODEL)
    assert maya.attempts == 2 and maya.status == "pending_review"
    assert (maya.usage.input_tokens, maya.usage.cache_read_tokens) == (300, 1800)
    assert [f.id for e in maya.evidence for f in e.facts] == [fact_id]
    assert maya.evidence[0].facts[0].quote == "I run a small bakery"


def test_a_claude_draft_citing_another_customers_fact_needs_attention(
    db: Database, fake: FakeAnthropic
) -> None:
    shop(db)
    customer_fact = fact(db, "c1", "uses", "aeropress", "we brew with an AeroPress")

    def foreign(body: dict[str, Any]) -> dict[str, Any]:
        answer = writer(body)
        answer["content"][0]["input"]["fact_ids"] = [customer_fact + 1000]
        answer["content"][0]["input"]["body"] = "Hi,\n\nThanks for signing up.\n\nThe team"
        answer["content"][0]["input"]["evidence"] = []
        return answer

    fake.respond = foreign
    drafter = build_claude_drafter(api_key="test", model=MODEL, base_url=fake.base_url)
    report = run_campaign(db, drafter=drafter, kind="welcome", as_of=AS_OF, actor="t")
    assert report.needs_attention == 2
    with db.read() as session:
        problems = [p["code"] for d in session.scalars(select(Draft)).all() for p in d.problems]
    assert set(problems) == {"unknown_fact"}


def test_a_big_campaign_goes_through_the_message_batches_api(
    db: Database, fake: FakeAnthropic
) -> None:
    shop(db)
    fake.respond = writer
    drafter = build_claude_drafter(
        api_key="test", model=MODEL, base_url=fake.base_url, batch_threshold=1
    )
    drafter.sleep = lambda _: None
    report = run_campaign(db, drafter=drafter, kind="welcome", as_of=AS_OF, actor="t")
    assert (report.created, report.needs_attention) == (2, 0)
    created = [p for p in fake.paths("POST") if p == "/v1/messages/batches"]
    assert len(created) == 2  # the first round, then the round of retries
    assert not [p for p in fake.paths("POST") if p == "/v1/messages"]
