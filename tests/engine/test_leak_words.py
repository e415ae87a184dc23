"""Word leaks: a distinctive word of a forbidden string in the labelled customer's own context,
unless the word is the customer's own (an allowed keyword, their record, what they bought)."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cli.evals import run_fact_eval
from embeddings.encoder import Encoder
from engine.customers.context import CustomerContext, KeptFact, ProductBought, RecentIntent
from engine.evals.facts import Labelled, WordLeak, distinctive_words, score
from engine.facts.extract import FactExtractor
from engine.intents.model import IntentModel
from tests.contexts import kept_fact, make_context, opt_out_of, product_bought, recent_intent

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def fact(quote: str, *, value: str = "x", n: int = 0) -> KeptFact:
    return kept_fact(fact_id=n, category="interest", value=value, quote=quote, said_at=NOW)


def ctx(
    customer_id: str = "u1",
    *,
    facts: tuple[KeptFact, ...] = (),
    products: tuple[ProductBought, ...] = (),
    intents: tuple[RecentIntent, ...] = (),
    first_name: str | None = "Ana",
) -> CustomerContext:
    return make_context(
        as_of=NOW,
        customer_id=customer_id,
        first_name=first_name,
        facts=facts,
        products=products,
        intents=intents,
    )


def labels(
    forbidden: str,
    *,
    reason: str = "third_party",
    customer: str = "u1",
    allowed: tuple[str, ...] = (),
) -> Labelled:
    return Labelled(
        conversation_id=f"c-{customer}",
        customer_id=customer,
        allowed=tuple((keyword, "interest") for keyword in allowed),
        forbidden=((forbidden, reason),),
    )


def word_leaks(contexts: list[CustomerContext], *labelled: Labelled) -> list[WordLeak]:
    report = score({c.customer_id: c for c in contexts}, list(labelled))
    return report.word_leaks


def test_a_distinctive_word_of_a_forbidden_string_is_one_word_leak() -> None:
    """The string is not there whole (no phrase leak), its distinctive word is: named by word,
    string, reason, customer and field, and reported apart from phrase leaks."""
    contexts = {"u1": ctx(facts=(fact("we make espresso every morning"),))}
    report = score(contexts, [labels("my wife's espresso machine")])
    assert report.leaks == []
    assert report.word_leaks == [
        WordLeak(
            word="espresso",
            found="espresso",
            text="my wife's espresso machine",
            reason="third_party",
            customer="u1",
            field="facts[0].quote",
        )
    ]
    data = report.as_dict()
    assert (data["leaks"], data["leaked"], data["word_leaks"]) == (0, [], 1)
    assert data["word_leaked"] == [
        {
            "word": "espresso",
            "found": "espresso",
            "text": "my wife's espresso machine",
            "reason": "third_party",
            "customer": "u1",
            "field": "facts[0].quote",
        }
    ]
    assert data["forbidden_by_reason"] == {"third_party": {"labelled": 1, "leaked": 0}}


def test_a_word_in_the_customers_allowed_keywords_is_no_leak() -> None:
    """The customer kept a fact about espresso, labelled allowed: the word is theirs."""
    contexts = [ctx(facts=(fact("I love espresso", value="espresso"),))]
    assert word_leaks(contexts, labels("my wife's espresso machine", allowed=("espresso",))) == []


def test_allowed_keywords_of_any_transcript_of_the_customer_count() -> None:
    """A customer with two transcripts: the keyword allowed in one covers the other's label."""
    contexts = [ctx(facts=(fact("I love espresso", value="espresso"),))]
    other = Labelled("c-2", "u1", allowed=(("espresso", "interest"),), forbidden=())
    assert word_leaks(contexts, labels("my wife's espresso machine"), other) == []


def test_another_customers_allowed_keyword_does_not_excuse_the_word() -> None:
    contexts = [ctx(facts=(fact("I love espresso"),)), ctx("u2")]
    other = Labelled("c-2", "u2", allowed=(("espresso", "interest"),), forbidden=())
    [leak] = word_leaks(contexts, labels("my wife's espresso machine"), other)
    assert leak.word == "espresso"


@pytest.mark.parametrize(
    "bought",
    [
        product_bought(sku="E1", name="Espresso Tamper", category="tools", at=NOW),
        product_bought(sku="E2", name="Tamper", category="espresso", at=NOW),
    ],
)
def test_a_word_of_a_product_the_customer_bought_is_no_leak(bought: ProductBought) -> None:
    """Their order's product name or category holds the word: it is the customer's own."""
    contexts = [ctx(facts=(fact("pulling espresso shots"),), products=(bought,))]
    assert word_leaks(contexts, labels("my wife's espresso machine")) == []


def test_a_word_of_the_customers_name_is_no_leak() -> None:
    """A forbidden email naming the customer ("grace.ops@...") next to their first name."""
    contexts = [ctx(first_name="Grace", facts=(fact("grace here, I run the cafe"),))]
    assert word_leaks(contexts, labels("grace.ops@example.org", reason="pii")) == []


def test_short_words_and_stop_words_are_not_distinctive() -> None:
    """ "wife" has four letters, "about" and "their" are stop words; nothing else is there."""
    contexts = [ctx(facts=(fact("a question about their wife and kids"),))]
    assert word_leaks(contexts, labels("about my wife", reason="third_party")) == []
    assert word_leaks(contexts, labels("their kids")) == []
    assert distinctive_words("Since my wife's sister couldn't come") == [("sister", "sister")]


@pytest.mark.parametrize(
    ("forbidden", "said", "word", "found"),
    [
        ("my sister's horses", "I keep a horse", "horses", "horse"),
        ("a carpenter friend", "the carpenter's tools", "carpenter", "carpenter's"),
        ("partner declan's van", "for declan", "declan's", "declan"),
        ("Eastgate Farmers Market", "a couple of markets", "market", "markets"),
        ("CHEMO sessions", "since the Chemo", "chemo", "chemo"),
        ("my boss\u2019s office", "an office chair", "office", "office"),
    ],
)
def test_plural_possessive_and_case_variants_are_the_same_word(
    forbidden: str, said: str, word: str, found: str
) -> None:
    [leak] = word_leaks([ctx(facts=(fact(said),))], labels(forbidden))
    assert (leak.word, leak.found) == (word, found)


def test_whole_words_only() -> None:
    """ "chemo" is not in "chemotherapy", nor "horse" in "horseradish"."""
    contexts = [ctx(facts=(fact("chemotherapy and horseradish"),))]
    assert word_leaks(contexts, labels("since the chemo")) == []
    assert word_leaks(contexts, labels("my horses")) == []


def test_only_the_labelled_customers_own_context_is_looked_into() -> None:
    """Another customer's context holding the word is no word leak (the phrase check still
    looks into every context)."""
    contexts = [ctx("u1"), ctx("u2", facts=(fact("we make espresso"),))]
    assert word_leaks(contexts, labels("my wife's espresso machine")) == []


def test_every_kept_text_is_looked_into_but_not_ids_or_intent_labels() -> None:
    """A kept fact's value and an opt-out's quote count; the intent taxonomy's labels do not."""
    by_value = ctx(facts=(fact("something", value="espresso"),))
    assert [leak.field for leak in word_leaks([by_value], labels("his espresso"))] == [
        "facts[0].value"
    ]
    opted = make_context(
        as_of=NOW,
        customer_id="u1",
        opt_outs=[
            opt_out_of(topic="emails", quote="no espresso emails", message_id="m1", said_at=NOW)
        ],
    )
    assert [leak.field for leak in word_leaks([opted], labels("his espresso"))] == [
        "opt_outs[0].quote"
    ]
    asked = ctx(intents=(recent_intent(intent="product_question", at=NOW),))
    assert word_leaks([asked], labels("her question", reason="question")) == []


def test_a_phrase_leak_is_not_counted_again_as_word_leaks() -> None:
    contexts = {"u1": ctx(facts=(fact("my wife's espresso machine broke"),))}
    report = score(contexts, [labels("my wife's espresso machine")])
    assert len(report.leaks) == 1
    assert report.word_leaks == []


def test_one_word_leak_per_word_named_by_the_first_field() -> None:
    contexts = [ctx(facts=(fact("espresso", n=0), fact("machine and espresso", n=1)))]
    leaks = word_leaks(contexts, labels("my wife's espresso machine"))
    assert [(leak.word, leak.field) for leak in leaks] == [
        ("espresso", "facts[0].quote"),
        ("machine", "facts[1].quote"),
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return path


def test_the_evaluation_reports_word_leaks_apart(
    tmp_path: Path, encoder: Encoder, intent_model: IntentModel, fact_extractor: FactExtractor
) -> None:
    """Through the real evaluation: a bot names the customer's market (bot_stated); the
    customer says they sell at "a couple of markets", which is kept. No phrase leak; a word
    leak for the customer who did not buy a market product, none for the one who did."""
    messages = [
        ("bot", "Hi! I see you're our customer from the Eastgate Farmers Market."),
        ("customer", "hi, i sell cheese at a couple of markets, want a receipt printer"),
        ("agent", "The Thermal Receipt Printer has a battery pack option."),
        ("customer", "perfect"),
    ]
    transcripts = [
        {
            "conversation_id": f"c-{customer}",
            "customer_id": customer,
            "source": "chat_widget",
            "messages": [
                {
                    "id": f"c-{customer}-m{n}",
                    "role": role,
                    "text": text,
                    "sent_at": f"2026-05-12T08:4{n}:00+00:00",
                }
                for n, (role, text) in enumerate(messages)
            ],
            "labels": {
                "allowed": [{"keyword": "cheese", "category": "business"}],
                "forbidden": [{"text": "Eastgate Farmers Market", "reason": "bot_stated"}],
            },
        }
        for customer in ("u1", "u2")
    ]
    customers = [
        {
            "id": customer,
            "email": f"{customer}@example.com",
            "first_name": "Bruno",
            "subscribed_at": "2025-06-11T11:30:00+00:00",
            "marketing_consent": True,
        }
        for customer in ("u1", "u2")
    ]
    orders = [
        {
            "order_id": "o1",
            "customer_id": "u2",
            "placed_at": "2025-06-15T10:04:00+00:00",
            "currency": "USD",
            "total": 30.0,
            "items": [
                {
                    "sku": "MK-1",
                    "name": "Market Stall Banner",
                    "category": "signage",
                    "quantity": 1,
                    "unit_price": 30.0,
                }
            ],
        }
    ]
    report = run_fact_eval(
        customers=write_jsonl(tmp_path / "customers.jsonl", customers),
        orders=write_jsonl(tmp_path / "orders.jsonl", orders),
        transcripts=write_jsonl(tmp_path / "transcripts.jsonl", transcripts),
        encoder=encoder,
        intents=intent_model,
        facts=fact_extractor,
    )
    assert report.leaks == []
    [leak] = report.word_leaks
    assert (leak.word, leak.found, leak.customer, leak.reason) == (
        "market",
        "markets",
        "u1",
        "bot_stated",
    )
    assert leak.field.startswith("facts[")
    data = report.as_dict()
    assert (data["leaks"], data["word_leaks"]) == (0, 1)
