"""Scoring contexts against labels: leaks anywhere in any context, recall in kept facts only."""

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from cli.evals import run_fact_eval
from embeddings.encoder import Encoder
from engine.customers.context import (
    Consent,
    CustomerContext,
    KeptFact,
    OrderSummary,
    ProductBought,
    Rfm,
)
from engine.evals.facts import InvalidLabels, load_labels, score
from engine.facts.extract import FactExtractor
from engine.intents.model import IntentModel

NOW = datetime(2026, 11, 20, tzinfo=UTC)


def context(
    customer_id: str, *, facts: list[tuple[str, str, str]], product: str
) -> CustomerContext:
    return CustomerContext(
        customer_id=customer_id,
        first_name="Ana",
        as_of=NOW,
        consent=Consent(
            marketing_consent=True,
            opted_out_in_chat=False,
            subscribed_at=None,
            consent_at=None,
            unsubscribed_at=None,
        ),
        orders=OrderSummary(
            count=1,
            total_spend={},
            first_order_at=NOW,
            last_order_at=NOW,
            products=[
                ProductBought(sku="S", name=product, category="x", quantity=1, last_bought_at=NOW)
            ],
            categories=["x"],
        ),
        rfm=Rfm(recency="0-30", recency_days=0, frequency="first_time", monetary="low"),
        lifecycle="new_customer",
        intents=[],
        facts=[
            KeptFact(
                id=n,
                category=category,
                value=value,
                quote=quote,
                message_id="m",
                conversation_id="c",
                span=(0, len(quote)),
                said_at=NOW,
                extractor="test",
            )
            for n, (category, value, quote) in enumerate(facts)
        ],
        opt_outs=[],
        blocked={"sensitive": 2},
        withheld_by_opt_out=0,
    )


def labels_file(tmp_path: Path, labels: list[dict[str, Any]]) -> Path:
    path = tmp_path / "t.jsonl"
    rows = [
        {"conversation_id": f"c{n}", "customer_id": f"u{n}", "messages": [], "labels": label}
        for n, label in enumerate(labels)
    ]
    path.write_text("\n".join(json.dumps(row) for row in rows) + "\n")
    return path


def test_a_forbidden_string_in_any_field_of_any_context_is_a_leak(tmp_path: Path) -> None:
    """The product name of another customer counts, named by customer and field."""
    labelled = load_labels(
        labels_file(
            tmp_path,
            [
                {
                    "allowed": [
                        {"keyword": "bakery", "category": "business"},
                        {"keyword": "V60", "category": "uses"},
                    ],
                    "forbidden": [{"text": "Riverside", "reason": "agent_stated"}],
                },
                {"allowed": [], "forbidden": []},
            ],
        )
    )
    contexts = {
        "u0": context("u0", facts=[("business", "bakery", "I run a bakery")], product="Beans"),
        "u1": context("u1", facts=[], product="Riverside Club Mug"),
    }
    report = score(contexts, labelled)
    [leak] = report.leaks
    assert (leak.found_in_customer, leak.labelled_customer) == ("u1", "u0")
    assert leak.field == "orders.products[0].name"
    assert report.recall == 0.5 and report.missed == [
        {"customer": "u0", "keyword": "V60", "category": "uses"}
    ]
    assert report.forbidden_by_reason == {"agent_stated": {"labelled": 1, "leaked": 1}}
    assert report.blocked_by_reason == {"sensitive": 4}
    assert report.as_dict()["recall_by_category"]["business"]["recall"] == 1.0


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ({"forbidden": [{"text": "x", "reason": "gossip"}]}, "unknown reason 'gossip'"),
        ({"allowed": [{"keyword": "x", "category": "hobby"}]}, "unknown category 'hobby'"),
        ({"allowed": [{"category": "uses"}]}, "bad labels"),
    ],
)
def test_bad_labels_name_the_line(tmp_path: Path, label: dict[str, Any], message: str) -> None:
    """A labelled set with a label we cannot read is refused, naming the line."""
    path = labels_file(tmp_path, [{"allowed": [], "forbidden": []}, label])
    with pytest.raises(InvalidLabels, match="line 2") as raised:
        load_labels(path)
    assert message in str(raised.value)


LABELLED_SETS = Path(__file__).parents[1] / "data"


@pytest.mark.parametrize("name", ["facts_eval", "facts_holdout", "facts_final", "facts_blind"])
def test_no_labelled_set_leaks_a_forbidden_item(
    name: str, encoder: Encoder, intent_model: IntentModel, fact_extractor: FactExtractor
) -> None:
    """The promise, on every labelled set: no forbidden item in any customer's context."""
    folder = LABELLED_SETS / name
    report = run_fact_eval(
        customers=folder / "customers.jsonl",
        orders=folder / "orders.jsonl",
        transcripts=folder / "transcripts.jsonl",
        encoder=encoder,
        intents=intent_model,
        facts=fact_extractor,
    )
    assert sum(r["labelled"] for r in report.forbidden_by_reason.values()) > 50
    assert report.leaks == []
