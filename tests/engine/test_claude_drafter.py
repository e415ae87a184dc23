"""The Claude drafter through the real SDK against a fake Anthropic API on a local port: the cached
prompt prefix, what the user turn carries (and leaves out), tool-use parsing, retries, batches and
failures that come back as DraftFailed."""

import json
from collections.abc import Iterator, Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from engine.customers.context import CustomerContext, Rfm
from engine.drafting.base import (
    Catalog,
    CatalogProduct,
    DraftContent,
    Drafter,
    DraftFailed,
    DraftRequest,
)
from engine.drafting.claude import (
    CUSTOM_ID,
    PROMPT_VERSION,
    ClaudeDrafter,
    build_claude_drafter,
    step_purpose,
)
from engine.drafting.voice import DEFAULT_GUIDE
from engine.models import DraftKind
from tests.builders import AS_OF
from tests.contexts import kept_fact, make_context, opt_out_of, product_bought, recent_intent
from tests.fake_anthropic import MODEL, FakeAnthropic, serve_fake_anthropic, tool_message

# The settings' default model, which this SDK release warns is nearing end of life.

CATALOG = Catalog(
    products=(
        CatalogProduct(sku="G-1", name="Burr Grinder", category="grinders"),
        CatalogProduct(sku="K-2", name="Gooseneck Kettle", category="kettles"),
        CatalogProduct(sku="B-3", name="House Espresso Beans", category="coffee"),
    )
)


def context(
    customer_id: str,
    first_name: str,
    *,
    facts: Sequence[tuple[int, str, str, str]] = (),
    opt_outs: tuple[str, ...] = (),
    blocked: dict[str, int] | None = None,
) -> CustomerContext:
    """A hand-made gated context: one order of a kettle, one intent, the given facts."""
    return make_context(
        as_of=AS_OF,
        customer_id=customer_id,
        first_name=first_name,
        subscribed_at=AS_OF - timedelta(days=40),
        products=[
            product_bought(
                sku="K-2",
                name="Gooseneck Kettle",
                category="kettles",
                at=AS_OF - timedelta(days=5),
            )
        ],
        total_spend={"USD": Decimal("89.00")},
        rfm=Rfm(recency="0-30", recency_days=5, frequency="first_time", monetary="mid"),
        lifecycle="new_customer",
        intents=[recent_intent(intent="brew_guide", count=2, at=AS_OF - timedelta(days=7))],
        facts=[
            kept_fact(
                fact_id=fact_id,
                category=category,
                value=value,
                quote=quote,
                said_at=AS_OF - timedelta(days=7),
            )
            for fact_id, category, value, quote in facts
        ],
        opt_outs=[
            opt_out_of(
                topic=topic, quote=f"no emails about {topic}", message_id="m-x", said_at=AS_OF
            )
            for topic in opt_outs
        ],
        blocked=blocked,
    )


ANA = context(
    "cus_001",
    "Ines",
    facts=[(11, "equipment", "V60", "I brew with a V60 every morning")],
    opt_outs=("grinders",),
    blocked={"sensitive_health": 3, "agent_stated": 2},
)
BEN = context("cus_002", "Ben", facts=[(21, "business", "café", "I run a small café")])


def request(
    ctx: CustomerContext,
    *,
    kind: DraftKind = "post_purchase",
    step: str = "d3",
    feedback: tuple[str, ...] = (),
    key: str | None = None,
) -> DraftRequest:
    return DraftRequest(
        key=key or f"{ctx.customer_id}/{kind}/{step}",
        kind=kind,
        step=step,
        context=ctx,
        voice=DEFAULT_GUIDE,
        catalog=CATALOG,
        feedback=feedback,
    )


@pytest.fixture
def fake() -> Iterator[FakeAnthropic]:
    with serve_fake_anthropic() as server:
        yield server


def drafter(fake: FakeAnthropic, **options: Any) -> ClaudeDrafter:
    built = build_claude_drafter(
        api_key="test", model="claude-sonnet-4-6", base_url=fake.base_url, **options
    )
    # Tests never wait between batch polls.
    built.sleep = lambda seconds: None
    return built


def user_text(body: dict[str, Any]) -> str:
    (message,) = body["messages"]
    assert message["role"] == "user"
    content = message["content"]
    return content if isinstance(content, str) else "".join(b["text"] for b in content)


def prompt_json(body: dict[str, Any]) -> dict[str, Any]:
    """The customer JSON line of a user turn."""
    line = next(line for line in user_text(body).splitlines() if line.startswith("{"))
    parsed: dict[str, Any] = json.loads(line)
    return parsed


def test_the_stable_prefix_is_cached_and_identical_across_customers(fake: FakeAnthropic) -> None:
    outcomes = drafter(fake, batch_threshold=5).draft_many([request(ANA), request(BEN)])

    assert all(isinstance(o, DraftContent) for o in outcomes)
    # Calls run concurrently, so they arrive in any order: Ines's first.
    first, second = sorted(fake.message_bodies(), key=lambda b: "Ines" not in user_text(b))
    system = first["system"]
    assert [block.get("cache_control") for block in system] == [None] * (len(system) - 1) + [
        {"type": "ephemeral"}
    ]
    # Tools and system byte for byte the same, so the second customer reads the cache...
    assert json.dumps(first["system"]) == json.dumps(second["system"])
    assert json.dumps(first["tools"]) == json.dumps(second["tools"])
    # ...and the customer lives only in the user turn.
    assert user_text(first) != user_text(second)
    assert "Ines" in user_text(first) and "Ines" not in json.dumps(first["system"])
    # The catalog and the voice guide are in the cached part.
    cached = "".join(block["text"] for block in system)
    assert "House Espresso Beans" in cached and "G-1" in cached
    assert DEFAULT_GUIDE.rules[0] in cached and DEFAULT_GUIDE.samples[0] in cached
    assert "at most 28 words" in cached and '"valued customer"' in cached
    assert first["tool_choice"] == {"type": "tool", "name": "write_email"}
    assert [tool["name"] for tool in first["tools"]] == ["write_email"]
    assert first["model"] == "claude-sonnet-4-6" and first["max_tokens"] == 1024


def test_message_params_are_what_the_sdk_sends(fake: FakeAnthropic) -> None:
    claude = drafter(fake)
    claude.draft_many([request(ANA)])

    (body,) = fake.message_bodies()
    assert body == json.loads(json.dumps(claude.message_params(request(ANA))))


def test_tool_use_is_parsed_into_a_draft(fake: FakeAnthropic) -> None:
    fake.respond = lambda body: tool_message(
        {
            "subject": "Your kettle and your V60",
            "preheader": "A pour-over tip",
            "body": "Hi Ines,\n\nYour kettle pairs well with your V60.\n\nThe team",
            "fact_ids": [11],
            "evidence": [
                {
                    "sentence": "Your kettle pairs well with your V60.",
                    "fact_ids": [11],
                    "skus": ["K-2"],
                    "intents": ["brew_guide"],
                }
            ],
            "products": ["Gooseneck Kettle"],
        },
        usage={
            "input_tokens": 310,
            "output_tokens": 180,
            "cache_read_input_tokens": 1400,
            "cache_creation_input_tokens": 25,
        },
    )

    (draft,) = drafter(fake).draft_many([request(ANA)])

    assert isinstance(draft, DraftContent)
    assert draft.subject == "Your kettle and your V60"
    assert draft.preheader == "A pour-over tip"
    assert draft.body.startswith("Hi Ines,") and draft.body.endswith("The team")
    assert draft.fact_ids == [11]
    assert len(draft.evidence) == 1
    assert draft.evidence[0].sentence == "Your kettle pairs well with your V60."
    assert draft.evidence[0].skus == ["K-2"] and draft.evidence[0].intents == ["brew_guide"]
    assert draft.products == ["Gooseneck Kettle"]
    assert (draft.drafter, draft.template, draft.model) == ("claude", PROMPT_VERSION, MODEL)
    usage = draft.usage
    assert (usage.input_tokens, usage.output_tokens) == (310, 180)
    assert (usage.cache_read_tokens, usage.cache_write_tokens) == (1400, 25)


def test_missing_cache_counts_are_zero(fake: FakeAnthropic) -> None:
    fake.respond = lambda body: tool_message(
        {
            "subject": "s",
            "preheader": "p",
            "body": "b",
            "fact_ids": [],
            "evidence": [],
            "products": [],
        },
        usage={"input_tokens": 5, "output_tokens": 6},
    )

    (draft,) = drafter(fake).draft_many([request(BEN)])

    assert isinstance(draft, DraftContent)
    assert (draft.usage.cache_read_tokens, draft.usage.cache_write_tokens) == (0, 0)


def test_an_overloaded_answer_is_retried_by_the_sdk(fake: FakeAnthropic) -> None:
    fake.fail_next(529)

    outcomes = drafter(fake).draft_many([request(ANA)])

    assert len(outcomes) == 1 and isinstance(outcomes[0], DraftContent)
    assert fake.paths() == ["/v1/messages", "/v1/messages"]
    assert fake.requests[1].headers.get("x-stainless-retry-count") == "1"


def test_an_error_after_the_retries_is_a_draft_failed(fake: FakeAnthropic) -> None:
    fake.fail_next(529, times=3)

    (outcome,) = drafter(fake, max_retries=2).draft_many([request(ANA)])

    assert isinstance(outcome, DraftFailed)
    assert outcome.key == "cus_001/post_purchase/d3" and "529" in outcome.error
    assert len(fake.message_bodies()) == 3


def test_a_bad_request_is_not_retried_and_fails_the_draft(fake: FakeAnthropic) -> None:
    fake.fail_next(400, error_type="invalid_request_error")

    (outcome,) = drafter(fake).draft_many([request(ANA)])

    assert isinstance(outcome, DraftFailed)
    assert outcome.key == "cus_001/post_purchase/d3" and "400" in outcome.error
    assert len(fake.message_bodies()) == 1


def test_an_unreachable_api_is_a_draft_failed() -> None:
    with serve_fake_anthropic() as gone:
        url = gone.base_url
    claude = build_claude_drafter(api_key="test", model="m", base_url=url, max_retries=0)

    (outcome,) = claude.draft_many([request(ANA)])

    assert isinstance(outcome, DraftFailed) and "Claude API error" in outcome.error


def test_a_batch_goes_through_the_batches_api_in_request_order(fake: FakeAnthropic) -> None:
    contexts = [context(f"cus_{i:03d}", f"Name{i}") for i in range(5)]
    requests = [request(c) for c in contexts]
    fake.respond = lambda params: tool_message(
        {
            "subject": f"for {prompt_json(params)['first_name']}",
            "preheader": "p",
            "body": "b",
            "fact_ids": [],
            "evidence": [],
            "products": [],
        }
    )
    fake.batch_outcomes = {"r2": "errored", "r4": "expired"}
    fake.polls_before_end = 2

    outcomes = drafter(fake, batch_threshold=3).draft_many(requests)

    assert fake.message_bodies() == []
    creates = [r for r in fake.requests if r.method == "POST"]
    assert [r.path for r in creates] == ["/v1/messages/batches"]
    items = creates[0].body["requests"]
    assert [item["custom_id"] for item in items] == ["r0", "r1", "r2", "r3", "r4"]
    assert all(CUSTOM_ID.match(item["custom_id"]) for item in items)
    assert items[0]["params"] == json.loads(json.dumps(drafter(fake).message_params(requests[0])))
    gets = fake.paths("GET")
    assert gets.count("/v1/messages/batches/msgbatch_0001") >= 2
    assert gets[-1] == "/v1/messages/batches/msgbatch_0001/results"
    assert [type(o).__name__ for o in outcomes] == [
        "DraftContent",
        "DraftContent",
        "DraftFailed",
        "DraftContent",
        "DraftFailed",
    ]
    assert [o.subject for o in outcomes if isinstance(o, DraftContent)] == [
        "for Name0",
        "for Name1",
        "for Name3",
    ]
    errored, expired = (o for o in outcomes if isinstance(o, DraftFailed))
    assert errored.key == requests[2].key and "invalid_request_error" in errored.error
    assert expired.key == requests[4].key and "expired" in expired.error


def test_a_big_campaign_goes_as_several_batches_in_order(fake: FakeAnthropic) -> None:
    requests = [request(context(f"cus_{i:03d}", f"Name{i}")) for i in range(5)]
    fake.respond = lambda params: tool_message(
        {
            "subject": prompt_json(params)["first_name"],
            "preheader": "p",
            "body": "b",
            "fact_ids": [],
            "evidence": [],
            "products": [],
        }
    )
    claude = drafter(fake, batch_threshold=3)
    claude.max_batch_requests = 2

    outcomes = claude.draft_many(requests)

    assert [len(batch["requests"]) for batch in fake.batches.values()] == [2, 2, 1]
    assert [o.subject for o in outcomes if isinstance(o, DraftContent)] == [
        f"Name{i}" for i in range(5)
    ]


def test_a_batch_that_never_ends_fails_every_request_and_is_cancelled(
    fake: FakeAnthropic,
) -> None:
    fake.polls_before_end = 1_000
    slept: list[float] = []
    claude = drafter(fake, batch_threshold=1)
    claude.poll_seconds, claude.max_wait_seconds = 10.0, 30.0
    claude.sleep = slept.append

    outcomes = claude.draft_many([request(ANA), request(BEN)])

    assert slept == [10.0, 10.0, 10.0]
    failed = [o for o in outcomes if isinstance(o, DraftFailed)]
    assert [o.key for o in failed] == [request(ANA).key, request(BEN).key]
    assert all("did not end" in o.error for o in failed)
    assert fake.batches["msgbatch_0001"]["cancelled"]


def test_a_failed_batch_create_fails_every_request(fake: FakeAnthropic) -> None:
    fake.fail_next(400, error_type="invalid_request_error")

    outcomes = drafter(fake, batch_threshold=1).draft_many([request(ANA), request(BEN)])

    assert [type(o) for o in outcomes] == [DraftFailed, DraftFailed]


def test_an_answer_without_the_tool_call_is_a_draft_failed(fake: FakeAnthropic) -> None:
    fake.respond = lambda body: tool_message(
        {}, content=[{"type": "text", "text": "Here is your email: Hi Ana..."}]
    )

    (outcome,) = drafter(fake).draft_many([request(ANA)])

    assert isinstance(outcome, DraftFailed)
    assert "write_email" in outcome.error and outcome.key == request(ANA).key


def test_an_invalid_tool_input_is_a_draft_failed(fake: FakeAnthropic) -> None:
    fake.respond = lambda body: tool_message({"subject": "only a subject", "fact_ids": ["x"]})

    (outcome,) = drafter(fake).draft_many([request(ANA)])

    assert isinstance(outcome, DraftFailed)
    assert "body" in outcome.error and "fact_ids" in outcome.error


def test_feedback_is_asked_for_in_the_user_turn(fake: FakeAnthropic) -> None:
    feedback = ("uses the banned phrase 'reach out'", "names a product not in the catalog: X")
    drafter(fake).draft_many([request(ANA, feedback=feedback), request(BEN)])

    # Calls run concurrently, so they arrive in any order.
    with_feedback, without = sorted(
        fake.message_bodies(), key=lambda b: "previous draft" not in user_text(b)
    )
    text = user_text(with_feedback)
    assert "Your previous draft failed these checks; fix them:" in text
    after = text.split("fix them:")[1]
    assert all(f"- {item}" in after for item in feedback)
    assert "previous draft" not in user_text(without)


def test_the_user_turn_carries_facts_with_ids_and_opt_outs_but_no_blocked_counts(
    fake: FakeAnthropic,
) -> None:
    drafter(fake).draft_many([request(ANA, kind="welcome", step="d0")])

    (body,) = fake.message_bodies()
    text = user_text(body)
    data = prompt_json(body)
    assert data["facts"] == [
        {
            "id": 11,
            "category": "equipment",
            "value": "V60",
            "quote": "I brew with a V60 every morning",
            "said_at": "2026-11-13",
        }
    ]
    assert data["never_mention"] == ["grinders"]
    assert data["first_name"] == "Ines" and data["lifecycle"] == "new_customer"
    assert data["rfm"]["frequency"] == "first_time"
    assert data["orders"]["products"][0]["name"] == "Gooseneck Kettle"
    assert data["recent_intents"] == [{"intent": "brew_guide", "count": 2, "last": "2026-11-13"}]
    everything = json.dumps(body)
    for absent in ("blocked", "sensitive_health", "agent_stated", "withheld", "cus_001"):
        assert absent not in everything
    assert "welcome sequence, step d0" in text
    assert "What it is for: the first email after they subscribed" in text
    assert "never_mention" in json.dumps(body["system"])


def test_an_empty_call_sends_nothing(fake: FakeAnthropic) -> None:
    assert drafter(fake).draft_many([]) == []
    assert fake.requests == []


def test_every_sequence_step_has_a_purpose_and_it_is_a_drafter(fake: FakeAnthropic) -> None:
    assert step_purpose("welcome", "d7").startswith("a week after they subscribed")
    assert step_purpose("post_purchase", "d30").startswith("a month after their order")
    assert step_purpose("win_back", "d90").startswith("a win-back email")
    claude: Drafter = drafter(fake)
    assert claude.name == "claude"
