"""How a marketer's question is reworded, and how a sentence's conversation weighs in."""

import uuid
from pathlib import Path

import numpy as np
import pytest

from embeddings.store import EdgeStore, VectorPoint
from engine.search import focus_query, in_context


@pytest.mark.parametrize(
    ("query", "focused"),
    [
        ("which customers are asking about refunds?", "refunds"),
        ("customers whose orders haven't shown up", "orders haven't shown up"),
        ("people who want their money back", "want my money back"),
        ("who says they're moving abroad", "says I'm moving abroad"),
        ("customers buying presents for themselves", "buying presents for myself"),
        ("grinder noise", "grinder noise"),  # nothing to reword
        ("customers", "customers"),  # framing alone is kept rather than left empty
    ],
)
def test_focus_query_speaks_as_the_customer(query: str, focused: str) -> None:
    assert focus_query(query) == focused


def point(message_id: str, conversation_id: str, vector: list[float]) -> VectorPoint:
    unit = np.asarray(vector, dtype=np.float32) / np.linalg.norm(vector)
    return VectorPoint(
        id=str(uuid.uuid5(uuid.NAMESPACE_URL, message_id)),
        vector=unit,
        payload={
            "customer_id": "cus_" + conversation_id,
            "conversation_id": conversation_id,
            "message_id": message_id,
            "sent_at": 0.0,
            "text": message_id,
        },
    )


def test_a_sentence_counts_more_in_a_conversation_about_the_query(tmp_path: Path) -> None:
    store = EdgeStore(tmp_path / "vectors", dimension=3)
    try:
        store.upsert(
            [
                point("on-1", "on", [0.4, 0.9, 0.0]),  # same similarity as off-1 ...
                point("on-2", "on", [0.9, 0.0, 0.4]),  # ... but the conversation is on topic
                point("off-1", "off", [0.4, 0.9, 0.0]),
                point("off-2", "off", [0.0, 0.0, 1.0]),
                point("alone", "single", [0.4, 0.9, 0.0]),
            ]
        )
        query = np.array([1.0, 0.0, 0.0])
        hits = store.search(query, limit=10)
        scores = {
            h.payload["message_id"]: h.score for h in in_context(store, vector=query, hits=hits)
        }
        raw = {h.payload["message_id"]: h.score for h in hits}
        assert scores["on-1"] > raw["on-1"] > scores["off-1"]
        # A conversation of one sentence is its own context.
        assert scores["alone"] == pytest.approx(raw["alone"], abs=1e-5)
    finally:
        store.close()
