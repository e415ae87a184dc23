"""Claude's customer-voice rewrite of a search question, through the real SDK against a fake
Anthropic API: off by default, only the question is sent, the answer is cleaned, a failure
searches without it, and the API marks the phrasings it searched with."""

from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from engine.runtime import Services
from engine.search.rewrite import TOOL_NAME, QuestionRewriter, build_rewriter
from engine.settings import Settings
from tests.api.test_search_api import load
from tests.fake_anthropic import FakeAnthropic, serve_fake_anthropic, tool_message

PHRASINGS = ["how much is the Studio plan?", "what does the studio tier cost a month"]


def phrasings_answer(phrasings: list[Any]) -> dict[str, Any]:
    """A Messages answer with one customer_phrasings tool call."""
    return tool_message(
        {},
        content=[
            {
                "type": "tool_use",
                "id": "toolu_fake",
                "name": TOOL_NAME,
                "input": {"phrasings": phrasings},
            }
        ],
    )


def rewriter_on(fake: FakeAnthropic) -> QuestionRewriter:
    """A rewriter built from settings that turn it on, talking to the fake."""
    settings = Settings(search_rewrite=True, anthropic_api_key=SecretStr("sk-test"))
    rewriter = build_rewriter(settings, base_url=fake.base_url)
    assert rewriter is not None
    return rewriter


def test_it_is_off_unless_turned_on_with_a_key() -> None:
    assert build_rewriter(Settings()) is None
    assert build_rewriter(Settings(anthropic_api_key=SecretStr("sk-test"))) is None
    assert build_rewriter(Settings(search_rewrite=True)) is None


def test_only_the_question_is_sent_and_the_phrasings_come_back() -> None:
    with serve_fake_anthropic() as fake:
        fake.respond = lambda body: phrasings_answer(PHRASINGS)
        rewriter = rewriter_on(fake)
        assert rewriter.rewrite("customers asking about the Studio plan price") == PHRASINGS
        [body] = fake.message_bodies()
    assert body["messages"] == [
        {"role": "user", "content": "customers asking about the Studio plan price"}
    ]
    assert body["tool_choice"] == {"type": "tool", "name": TOOL_NAME}


def test_the_same_question_is_not_sent_twice() -> None:
    with serve_fake_anthropic() as fake:
        fake.respond = lambda body: phrasings_answer(PHRASINGS)
        rewriter = rewriter_on(fake)
        rewriter.rewrite("Studio plan price")
        assert rewriter.rewrite("  studio PLAN price ") == PHRASINGS
        assert len(fake.message_bodies()) == 1


def test_an_odd_answer_is_cleaned() -> None:
    with serve_fake_anthropic() as fake:
        fake.respond = lambda body: phrasings_answer(
            [" how   much? ", 42, "how much?", "x" * 500, "", "a", "b", "c"]
        )
        found = rewriter_on(fake).rewrite("pricing")
    assert found == ["how much?", "x" * 200, "a", "b"]


def test_a_failed_call_searches_without_it(caplog: pytest.LogCaptureFixture) -> None:
    with serve_fake_anthropic() as fake:
        fake.fail_next(500, error_type="api_error", times=2)  # the call and its one retry
        assert rewriter_on(fake).rewrite("pricing") == []
    assert "searching it as asked" in caplog.text


def test_the_api_marks_what_it_searched_with(
    client: TestClient, auth: dict[str, dict[str, str]], services: Services
) -> None:
    load(client, auth, services)
    with serve_fake_anthropic() as fake:
        fake.respond = lambda body: phrasings_answer(["my grinder is making a rattling noise"])
        services.rewriter = rewriter_on(fake)
        try:
            response = client.get(
                "/v1/search/customers", params={"q": "noisy mills"}, headers=auth["marketer"]
            )
        finally:
            services.rewriter = None
    body = response.json()
    assert body["rewritten_as"] == ["my grinder is making a rattling noise"]
    assert "u1" in {c["customer_id"] for c in body["customers"]}
