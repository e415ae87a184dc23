"""Vector-store test points: 205 seeded points with sentences of text, customers and sending
times (200 random, 5 built around a known direction, ANCHOR), and seeded query vectors."""

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from embeddings.sparse import bm25_document
from embeddings.store import VectorPoint

DIMENSION = 384
CUSTOMERS = [f"cus_{n:03d}" for n in range(20)]
START = datetime(2026, 1, 1, tzinfo=UTC)
NAMESPACE = uuid.UUID("7f1c2a44-0b1e-4f5e-9d7a-3c2b1a0f9e8d")

SENTENCES = [
    "Can I pause my Studio plan for about a month?",
    "We run a small salon and the team drinks a lot of espresso.",
    "The grinder burrs seem worn, the coffee tastes bitter now.",
    "I need something small to make coffee when I travel for work.",
    "Is the AeroPress Go good for camping trips?",
    "My kettle stopped heating this morning, can you replace it?",
    "We switched to oat milk for the whole office.",
    "Do you ship decaf beans to Canada?",
    "The pour over kit arrived with a cracked carafe.",
    "I roast at home, so I only buy green beans from you.",
    "Our cafe opens a second location in March.",
    "The subscription is too much coffee for one person.",
    "Please send the invoice to my accounting email.",
    "I prefer light roasts from Ethiopia and Kenya.",
    "The milk frother is too loud for our small flat.",
    "Could you recommend a grinder for cold brew?",
    "I want to gift a coffee subscription to my brother.",
    "The espresso machine leaks water from the group head.",
    "We host tasting evenings for twenty guests every Friday.",
    "My order number is missing from the confirmation email.",
    "I brew with a moka pot on a gas stove every morning.",
    "Can I change the delivery day to Saturday?",
    "The descaler tablets are not in stock anymore.",
    "Our bakery sells your beans next to the sourdough.",
]
# 0 to 8 words that count: messages sharing a sentence differ in length, so their BM25 scores
# differ, and no two stores can order tied keyword hits differently.
OPENERS = [
    "",
    "Morning.",
    "Quick question.",
    "Quick question from Leeds.",
    "Sorry, quick question from Leeds.",
    "Sorry, another quick question from Leeds.",
    "Sorry, another quick question from Leeds today.",
    "Sorry, another quick question from sunny Leeds today.",
    "Sorry, another quick question from sunny Leeds today, Priya.",
]


def unit(vector: np.ndarray[Any, Any]) -> np.ndarray[Any, Any]:
    return np.asarray(vector / np.linalg.norm(vector), dtype=np.float32)


def make_points() -> list[VectorPoint]:
    """200 seeded random points plus a handful built around known directions."""
    rng = np.random.default_rng(20260101)
    vectors = rng.standard_normal((200, DIMENSION)).astype(np.float32)
    points = []
    for i, vector in enumerate(vectors):
        text = f"{OPENERS[i // len(SENTENCES)]} {SENTENCES[i % len(SENTENCES)]}".strip()
        points.append(make_point(f"msg-{i}", unit(vector), CUSTOMERS[i % 20], i, text))
    anchor = unit(np.arange(1, DIMENSION + 1, dtype=np.float32) % 7 - 3)
    for j in range(5):
        # Ever further from the anchor: scores against it fall 1.0, then steadily lower.
        vector = unit(anchor + 0.15 * j * unit(rng.standard_normal(DIMENSION).astype(np.float32)))
        text = "Note: the burr grinder for espresso is great" + " really" * j
        points.append(make_point(f"hand-{j}", vector, CUSTOMERS[j], 200 + j, text))
    return points


def make_point(
    message_id: str, vector: np.ndarray[Any, Any], customer_id: str, n: int, text: str
) -> VectorPoint:
    sent_at = START + timedelta(hours=7.3 * n)
    return VectorPoint(
        id=str(uuid.uuid5(NAMESPACE, message_id)),
        vector=vector.astype(np.float32),
        payload={
            "customer_id": customer_id,
            "conversation_id": f"conv-{n % 50}",
            "message_id": message_id,
            "sent_at": sent_at.timestamp(),
            "intents": ["support"] if n % 3 else ["purchase", "question"],
            "text": text,
            "sentence": n % 4,
        },
        sparse=bm25_document(text),
    )


POINTS = make_points()
ANCHOR = np.asarray(POINTS[200].vector)


def query_vector(seed: int) -> np.ndarray[Any, Any]:
    return unit(np.random.default_rng(seed).standard_normal(DIMENSION).astype(np.float32))
