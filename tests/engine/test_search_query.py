"""How a marketer's question is reworded, how a sentence's conversation weighs in, what may
be evidence, which questions are refused, and how a store from an earlier version is upgraded."""

import uuid
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient

from embeddings.store import EdgeStore, ServerStore, VectorPoint, VectorStore
from engine.runtime import open_vector_store, vector_dir
from engine.search.evidence import not_evidence
from engine.search.service import focus_query, in_context, refusal, upgrade_store
from engine.settings import Settings


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
            "sentence": 0,
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


@pytest.mark.parametrize(
    ("sentence", "reason"),
    [
        ("my grinder is broken, it just hums", None),
        ("I can't get it to grind, the burrs just spin.", None),  # unable to: trouble
        ("my grinder doesn't work", None),  # a thing that fails, not a denial
        ("the card reader won't pair with my phone", None),
        ("I don't know why it's so loud", None),  # a word of trouble
        ("do you sell kilns?", None),  # asking is interest
        ("we don't have a grinder", "negated"),
        ("I'm not interested in kilns", "negated"),
        ("I no longer use the V60", "negated"),
        ("im not a barista", "negated"),
        ("we've never had a problem with it", "negated"),  # denies trouble
        ("please don't email me about grinders", "opt_out"),
        ("stop sending me the decaf promos", "opt_out"),
        ("call me on [phone] about the grinder", "pii"),
        ("my postcode is the one on file", "pii"),
        ("Money is tight since I lost my job", "sensitive"),
        ("I'm Kenyan and love your beans", "sensitive"),
        ("I love the Ethiopian", None),  # an origin, not a person
    ],
)
def test_what_may_be_evidence(sentence: str, reason: str | None) -> None:
    assert not_evidence(sentence) == reason


def test_a_sentence_on_a_topic_the_customer_opted_out_of_is_not_evidence() -> None:
    assert not_evidence("my kiln is broken again", opted_out=["kilns"]) == "opted_out_topic"
    assert not_evidence("my kiln is broken again", opted_out=["grinders"]) is None


@pytest.mark.parametrize(
    ("query", "category"),
    [
        ("customers who lost their job", "money trouble"),  # only as "lost my job"
        ("customers going through chemo", "health"),
        ("pregnant customers", "pregnancy"),
        ("customers who observe Ramadan", "religion"),
        ("customers who voted for the greens", "politics"),
        ("gay customers", "sexuality"),
        ("Kenyan customers", "ethnicity"),
        ("customers in a trade union", "union"),
        ("divorced customers", "bereavement divorce"),
        ("customers with a criminal record", "criminal record"),
    ],
)
def test_a_question_about_a_sensitive_category_is_refused(query: str, category: str) -> None:
    reason = refusal(query)
    assert reason is not None and f"({category})" in reason


@pytest.mark.parametrize(
    "query",
    ["customers who like Ethiopian coffee", "customers whose grinder is broken", "decaf"],
)
def test_an_ordinary_question_is_not_refused(query: str) -> None:
    assert refusal(query) is None


LEGACY = [
    ("m-1", "cus-a", "I run Quetzalcoatl Pottery and love the house blend."),
    ("m-2", "cus-a", "Money is tight since I lost my job at Zanzibarista."),
    ("m-3", "cus-b", "The grinder rattles like a kilnwright."),
]


def legacy_points() -> list[VectorPoint]:
    """Points as earlier versions wrote them: the sentence's text in the payload, and the
    sentences the gate blocks as sensitive indexed like any other."""
    rng = np.random.default_rng(11)
    return [
        VectorPoint(
            id=str(uuid.uuid5(uuid.NAMESPACE_URL, message_id)),
            vector=rng.standard_normal(3).astype(np.float32),
            payload={
                "customer_id": customer_id,
                "conversation_id": f"conv-{customer_id}",
                "message_id": message_id,
                "sent_at": 0.0,
                "intents": [],
                "text": text,
                "sentence": 0,
            },
        )
        for message_id, customer_id, text in LEGACY
    ]


def test_an_embedded_store_from_an_earlier_version_is_upgraded_when_opened(
    tmp_path: Path,
) -> None:
    settings = Settings(personalize_home=tmp_path / "home", database_url=None, qdrant_url=None)
    old = EdgeStore(vector_dir(settings), dimension=3)
    old.upsert(legacy_points())
    old.close()
    words = [b"quetzalcoatl", b"zanzibarista", b"kilnwright", b"money is tight"]

    def left() -> list[bytes]:
        files = [
            p.read_bytes().lower() for p in settings.personalize_home.rglob("*") if p.is_file()
        ]
        return [w for w in words if any(w in data for data in files)]

    assert left() == words  # the test can fail: the words are in the old store's files
    store = open_vector_store(settings, dimension=3)
    try:
        assert_upgraded(store)
        assert upgrade_store(store) == 0  # once: a current store is left as it is
    finally:
        store.close()
    assert left() == []


def test_a_server_collection_from_an_earlier_version_is_upgraded() -> None:
    store = ServerStore(QdrantClient(":memory:"), dimension=3)
    try:
        store.upsert(legacy_points())
        assert upgrade_store(store) == 1
        assert_upgraded(store)
        assert upgrade_store(store) == 0
    finally:
        store.close()


def assert_upgraded(store: VectorStore) -> None:
    """The sensitive sentence's point is gone and no payload holds text."""
    payloads = {hit.payload["message_id"]: hit.payload for hit in store.scroll()}
    assert sorted(payloads) == ["m-1", "m-3"]
    assert all("text" not in payload for payload in payloads.values())
    assert list(store.scroll(has_field="text")) == []
