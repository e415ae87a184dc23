"""The grounding check catches each planted violation, and passes a clean draft."""

from datetime import UTC, datetime

import pytest

from engine.customers.context import CustomerContext, OptOut, Rfm
from engine.drafting.base import Catalog, CatalogProduct, DraftContent, Evidence
from engine.drafting.grounding import Problem, check_draft
from engine.drafting.voice import DEFAULT_GUIDE
from tests.contexts import kept_fact, make_context, opt_out_of, product_bought

WHEN = datetime(2026, 11, 1, tzinfo=UTC)
CATALOG = Catalog(
    (
        CatalogProduct(sku="GRIND", name="Burr Grinder Pro", category="gear"),
        CatalogProduct(sku="BEANS", name="House Espresso Blend 1kg", category="coffee"),
        CatalogProduct(sku="V60", name="Hario V60 Dripper", category="gear"),
    )
)
BLOCKED = ["I run a bakery but my husband was just diagnosed and money is really tight right now"]


def context() -> CustomerContext:
    return make_context(
        as_of=WHEN,
        customer_id="c1",
        first_name="Maya",
        subscribed_at=WHEN,
        consented_on_subscribing=False,
        products=[
            product_bought(
                sku="BEANS",
                name="House Espresso Blend 1kg",
                category="coffee",
                quantity=2,
                at=WHEN,
            )
        ],
        rfm=Rfm(recency="0-30", recency_days=19, frequency="first_time", monetary="mid"),
        lifecycle="new_customer",
        facts=[
            kept_fact(
                fact_id=7,
                category="business",
                value="bakery",
                quote="I run a bakery",
                message_id="m1",
                conversation_id="conv1",
                span=(0, 14),
                said_at=WHEN,
                extractor="test",
            )
        ],
        opt_outs=[
            opt_out_of(
                topic="grinders",
                quote="dont email me about grinders",
                message_id="m2",
                said_at=WHEN,
            )
        ],
        blocked={"sensitive": 1},
    )


def clean(**changes: object) -> DraftContent:
    values: dict[str, object] = {
        "subject": "Beans for the bakery, Maya",
        "preheader": "How to keep your espresso blend fresh",
        "body": (
            "Hi Maya,\n\nThanks for your order of the House Espresso Blend 1kg. "
            "For a bakery, we'd keep an opened bag in a sealed tin.\n\nThe team"
        ),
        "fact_ids": [7],
        "evidence": [
            Evidence(
                sentence="For a bakery, we'd keep an opened bag in a sealed tin.", fact_ids=[7]
            ),
            Evidence(
                sentence="Thanks for your order of the House Espresso Blend 1kg.", skus=["BEANS"]
            ),
        ],
        "products": ["House Espresso Blend 1kg"],
        "drafter": "test",
        "template": "test.v1",
    }
    return DraftContent.model_validate(values | changes)


def check(content: DraftContent) -> list[Problem]:
    return check_draft(
        content=content,
        context=context(),
        catalog=CATALOG,
        checks=DEFAULT_GUIDE.checks,
        blocked_texts=BLOCKED,
        email="maya.okafor@example.com",
    )


def codes(content: DraftContent) -> set[str]:
    return {p.code for p in check(content)}


def with_sentence(sentence: str, **changes: object) -> DraftContent:
    base = clean()
    return clean(body=base.body.replace("\n\nThe team", f" {sentence}\n\nThe team"), **changes)


def test_a_clean_draft_passes() -> None:
    assert check(clean()) == []


def test_a_fact_of_another_customer_is_caught() -> None:
    assert codes(clean(fact_ids=[7, 99])) == {"unknown_fact"}
    planted = clean(
        evidence=[
            Evidence(
                sentence="For a bakery, we'd keep an opened bag in a sealed tin.", fact_ids=[42]
            )
        ]
    )
    assert codes(planted) == {"unknown_fact"}


@pytest.mark.parametrize(
    "sentence",
    [
        "Write to maya.okafor@example.com any time.",
        "Call us on 415 555 0134.",
        "We'll send it to 12 Elm Street.",
        "Your card 4111 1111 1111 1111 is on file.",
        "You said [phone] was best.",
    ],
)
def test_pii_is_caught(sentence: str) -> None:
    assert "pii" in codes(with_sentence(sentence))


def test_the_customers_email_is_caught_even_when_redaction_would_miss_it() -> None:
    problems = check_draft(
        content=with_sentence("We know you as MAYA at bakery dot com."),
        context=context(),
        catalog=CATALOG,
        checks=DEFAULT_GUIDE.checks,
        email="maya at bakery dot com",
    )
    assert {p.code for p in problems} == {"pii"}


@pytest.mark.parametrize(
    "sentence",
    [
        "We hope the pregnancy is going well.",
        "Sorry to hear about the divorce.",
        "Good luck with the diabetes.",
    ],
)
def test_sensitive_topics_are_caught(sentence: str) -> None:
    assert "sensitive" in codes(with_sentence(sentence))


def test_words_from_a_blocked_message_are_caught_but_a_kept_quote_is_not() -> None:
    assert "blocked_material" in codes(with_sentence("We know money is really tight right now."))
    # "I run a bakery" is in the same blocked message, but it is a kept fact's quote.
    assert "blocked_material" not in codes(with_sentence("You told us I run a bakery."))


def test_an_opted_out_topic_is_caught() -> None:
    assert codes(with_sentence("Our new grinders are in.")) == {"opt_out"}


def test_a_product_not_sold_and_not_bought_is_caught() -> None:
    assert codes(clean(products=["House Espresso Blend 1kg", "Quantum Kettle 9000"])) == {
        "unknown_product"
    }
    planted = with_sentence(
        "Try the kettle.", evidence=[Evidence(sentence="Try the kettle.", skus=["KETTLE-X"])]
    )
    assert codes(planted) == {"unknown_product"}
    # A catalog product the customer never bought is fine.
    assert codes(clean(products=["Hario V60 Dripper"])) == set()


def test_evidence_for_a_sentence_not_in_the_draft_is_caught() -> None:
    planted = clean(evidence=[Evidence(sentence="A sentence that is nowhere.", fact_ids=[7])])
    assert codes(planted) == {"evidence"}


@pytest.mark.parametrize(
    "sentence",
    [
        "We are delighted to have you.",
        "In today's fast-paced world, coffee matters!!",
        "Do not hesitate to write back.",
        "This sentence goes on and on with many words because we want to test the linter that "
        "counts the words in every single sentence of the whole draft body, one by one.",
    ],
)
def test_voice_lint_is_caught(sentence: str) -> None:
    problems = check(with_sentence(sentence))
    assert {p.code for p in problems} == {"voice"}
    assert all(p.excerpt for p in problems)


def test_a_product_name_shared_with_a_blocked_message_is_not_blocked_material() -> None:
    problems = check_draft(
        content=with_sentence("Is the House Espresso Blend 1kg still too bitter?"),
        context=context(),
        catalog=CATALOG,
        checks=DEFAULT_GUIDE.checks,
        blocked_texts=["the House Espresso Blend 1kg still too bitter since my chemo started"],
    )
    assert problems == []


def test_the_business_name_never_counts_as_an_opted_out_topic() -> None:
    opted_out = context().model_copy(
        update={
            "opt_outs": [
                OptOut(topic="coffee", quote="no coffee emails", message_id="m", said_at=WHEN)
            ]
        }
    )
    content = with_sentence("Thanks from all of us at Kettle & Crumb Coffee Co.")
    common = {
        "content": content,
        "context": opted_out,
        "catalog": CATALOG,
        "checks": DEFAULT_GUIDE.checks,
    }
    assert {p.code for p in check_draft(**common)} == {"opt_out"}  # type: ignore[arg-type]
    assert check_draft(**common, business="Kettle & Crumb Coffee Co.") == []  # type: ignore[arg-type]


def test_a_misspelt_word_is_caught_with_the_word() -> None:
    problems = check(with_sentence("Thanks for being such a loyal custommer."))
    assert [(p.code, p.excerpt) for p in problems] == [("spelling", "custommer")]


def test_names_products_the_voice_and_kept_fact_words_are_not_misspellings() -> None:
    """The customer's first name, the voice guide's own words, product names and the words of
    kept facts nothing left in doubt may be said; a fact's doubtful word may not."""
    voice = DEFAULT_GUIDE.model_copy(
        update={"business": "Kettle & Crumb Coffee Co.", "sign_off": "Priya at the roastery"}
    )
    ctx = context().model_copy(
        update={
            "first_name": "Siobhan",
            "facts": [
                *context().facts,
                kept_fact(
                    fact_id=8,
                    category="uses",
                    value="gaggia",
                    quote="just got a Gaggia",
                    said_at=WHEN,
                ),
                kept_fact(
                    fact_id=9,
                    category="role",
                    value="total begginer",
                    quote="im a total begginer",
                    said_at=WHEN,
                    unknown_words=["begginer"],
                ),
            ],
        }
    )
    content = clean(
        body="Hi Siobhan,\n\nHow's the Gaggia? The Hario V60 Dripper makes a good second brewer."
        "\n\nPriya at the roastery",
        evidence=[],
        fact_ids=[],
        products=["Hario V60 Dripper"],
    )
    common = {"context": ctx, "catalog": CATALOG, "checks": DEFAULT_GUIDE.checks}
    assert check_draft(content=content, voice=voice, **common) == []  # type: ignore[arg-type]
    # Without the voice guide, its sign-off's name is a word like any other.
    assert [p.excerpt for p in check_draft(content=content, **common)] == ["priya"]  # type: ignore[arg-type]
    beginner = clean(
        body="Hi Siobhan,\n\nAs a total begginer, start with the Hario V60 Dripper.\n\nThe team",
        evidence=[],
        fact_ids=[],
        products=["Hario V60 Dripper"],
    )
    assert [(p.code, p.excerpt) for p in check_draft(content=beginner, **common)] == [  # type: ignore[arg-type]
        ("spelling", "begginer")
    ]
