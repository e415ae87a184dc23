"""The training corpora (training/) and the blind sets (tests/data/*_blind) are well formed, every
label is grounded in the words it labels, and training text is kept apart from every eval set.

Nothing here runs the engine on the blind sets: they are measured once, at the end."""

import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from engine.facts.gate import REASONS as GATE_REASONS
from engine.facts.rules import CATEGORIES as RULE_CATEGORIES

ROOT = Path(__file__).resolve().parents[1]
TRAINING = ROOT / "training"
DATA = ROOT / "tests" / "data"
# The labels the engine knows: the fact categories and the gate's blocked reasons.
CATEGORIES = set(RULE_CATEGORIES)
REASONS = set(GATE_REASONS)
ROLES = {"customer", "agent", "bot"}


def lines(path: Path) -> list[dict[str, Any]]:
    """Every JSON object of a JSON Lines file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def squashed(text: str) -> str:
    """Text compared loosely: lower case, runs of spaces as one."""
    return re.sub(r"\s+", " ", text.lower()).strip()


def fact_sentences() -> list[dict[str, Any]]:
    """The fact training corpus, every part."""
    return [row for path in sorted((TRAINING / "facts").glob("*.jsonl")) for row in lines(path)]


def search_pairs() -> list[dict[str, Any]]:
    """The search training pairs."""
    return lines(TRAINING / "search" / "pairs.jsonl")


def eval_messages(*, exclude: str | None = None) -> set[str]:
    """Every message text of every labelled set (but `exclude`), compared loosely."""
    found: set[str] = set()
    for folder in sorted(p for p in DATA.iterdir() if p.is_dir() and p.name != exclude):
        transcripts = folder / "transcripts.jsonl"
        for chat in lines(transcripts) if transcripts.exists() else []:
            found.update(squashed(m["text"]) for m in chat["messages"])
    return found


def test_the_fact_corpus_is_large_varied_and_grounded() -> None:
    rows = fact_sentences()
    assert len(rows) >= 2000
    assert len({row["business"] for row in rows}) >= 30
    assert len({row["id"] for row in rows}) == len(rows), "ids repeat"
    kept: Counter[str] = Counter()
    blocked: Counter[str] = Counter()
    for row in rows:
        text = row["text"].lower()
        assert row["role"] in ROLES, row["id"]
        if row["role"] != "customer":
            assert row["kept"] == [], f"{row['id']}: staff and bots are never kept"
        for fact in row["kept"]:
            assert fact["category"] in CATEGORIES, row["id"]
            assert fact["quote"].lower() in text, f"{row['id']}: quote not in the text"
            kept[fact["category"]] += 1
        for item in row["blocked"]:
            assert item["reason"] in REASONS, row["id"]
            assert item["text"].lower() in text, f"{row['id']}: blocked text not in the text"
            blocked[item["reason"]] += 1
    assert set(kept) == CATEGORIES, "every category has examples"
    assert set(blocked) == REASONS, "every blocked reason has examples"


def test_the_search_pairs_span_many_businesses_and_both_lengths() -> None:
    pairs = search_pairs()
    assert len({p["business"] for p in pairs}) >= 30
    assert len({p["id"] for p in pairs}) == len(pairs), "ids repeat"
    assert {p["short"] for p in pairs} == {True, False}
    for pair in pairs:
        assert pair["question"].strip(), pair["id"]
        assert len(pair["positives"]) >= 3 and len(pair["hard_negatives"]) >= 3, pair["id"]
        assert not set(pair["positives"]) & set(pair["hard_negatives"]), pair["id"]


def test_training_text_is_kept_apart_from_every_eval_set() -> None:
    evaluated = eval_messages()
    training = {squashed(row["text"]) for row in fact_sentences()}
    for pair in search_pairs():
        training.update(squashed(t) for t in (*pair["positives"], *pair["hard_negatives"]))
    # Short acknowledgements ("thanks!") may occur anywhere; a sentence of substance may not.
    shared = {t for t in training & evaluated if len(t.split()) > 4}
    assert not shared, sorted(shared)[:5]


@pytest.mark.parametrize("name", ["facts_blind", "search_blind"])
def test_a_blind_set_shares_no_chat_with_the_other_sets(name: str) -> None:
    blind = {
        squashed(m["text"])
        for chat in lines(DATA / name / "transcripts.jsonl")
        for m in chat["messages"]
    }
    shared = {t for t in blind & eval_messages(exclude=name) if len(t.split()) > 4}
    assert not shared, sorted(shared)[:5]


def test_the_blind_fact_set_is_labelled_from_the_customers_own_words() -> None:
    folder = DATA / "facts_blind"
    customers = {c["id"] for c in lines(folder / "customers.jsonl")}
    chats = lines(folder / "transcripts.jsonl")
    assert len(chats) >= 40
    allowed = forbidden = 0
    for chat in chats:
        assert chat["customer_id"] in customers, chat["conversation_id"]
        own = " ".join(m["text"] for m in chat["messages"] if m["role"] == "customer").lower()
        everything = " ".join(m["text"] for m in chat["messages"]).lower()
        for item in chat["labels"]["allowed"]:
            assert item["category"] in CATEGORIES, chat["conversation_id"]
            assert item["keyword"].lower() in own, (chat["conversation_id"], item["keyword"])
            allowed += 1
        for item in chat["labels"]["forbidden"]:
            assert item["reason"] in REASONS, chat["conversation_id"]
            assert item["text"].lower() in everything, (chat["conversation_id"], item["text"])
            forbidden += 1
    assert allowed >= 60 and forbidden >= 60


def test_the_blind_search_set_has_short_long_and_unanswerable_questions() -> None:
    folder = DATA / "search_blind"
    customers = {c["id"] for c in lines(folder / "customers.jsonl")}
    assert len(customers) >= 40
    talked = {chat["customer_id"] for chat in lines(folder / "transcripts.jsonl")}
    assert talked <= customers
    queries = json.loads((folder / "queries.json").read_text(encoding="utf-8"))
    assert len(queries) >= 20
    assert sum(1 for q in queries if not q["expected"]) >= 2
    assert any(len(q["query"].split()) <= 3 for q in queries)
    assert any(len(q["query"].split()) >= 6 for q in queries)
    for query in queries:
        assert set(query["expected"]) <= talked, query["query"]
        assert query["note"].strip(), query["query"]
