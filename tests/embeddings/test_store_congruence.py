"""EdgeStore and ServerStore give the same answers to the same questions."""

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from qdrant_client import QdrantClient

from embeddings.sparse import bm25_document, bm25_query
from embeddings.store import (
    EdgeStore,
    ServerStore,
    StoreInUse,
    VectorHit,
    VectorPoint,
    VectorStore,
)
from tests.vector_points import (
    ANCHOR,
    CUSTOMERS,
    DIMENSION,
    NAMESPACE,
    POINTS,
    START,
    query_vector,
    unit,
)


@pytest.fixture
def edge(tmp_path: Path) -> Iterator[EdgeStore]:
    store = EdgeStore(tmp_path / "vectors", dimension=DIMENSION)
    store.upsert(POINTS)
    yield store
    store.close()


@pytest.fixture
def server() -> Iterator[ServerStore]:
    store = ServerStore(QdrantClient(":memory:"), dimension=DIMENSION)
    store.upsert(POINTS)
    yield store
    store.close()


def tie_groups(hits: Sequence[VectorHit]) -> list[set[str]]:
    """Ids grouped by equal score, in rank order (equal scores may come in any order)."""
    groups: list[tuple[float, set[str]]] = []
    for hit in hits:
        if groups and abs(groups[-1][0] - hit.score) < 1e-6:
            groups[-1][1].add(hit.id)
        else:
            groups.append((hit.score, {hit.id}))
    return [ids for _, ids in groups]


def assert_same(left: Sequence[VectorHit], right: Sequence[VectorHit]) -> None:
    """Same scores to 1e-4, same ids in the same order up to ties, same payloads."""
    assert len(left) == len(right)
    assert [h.score for h in left] == pytest.approx([h.score for h in right], abs=1e-4)
    left_groups, right_groups = tie_groups(left), tie_groups(right)
    # The last tie group may be cut by the limit at a different member.
    assert left_groups[:-1] == right_groups[:-1]
    by_id = {h.id: h.payload for h in right}
    for hit in left:
        if hit.id in by_id:
            assert hit.payload == by_id[hit.id]


def both(edge: EdgeStore, server: ServerStore) -> list[VectorStore]:
    return [edge, server]


def test_plain_search_agrees(edge: EdgeStore, server: ServerStore) -> None:
    for seed in range(5):
        left, right = (s.search(query_vector(seed), limit=15) for s in both(edge, server))
        assert len(left) == 15
        assert left[0].score >= left[-1].score
        assert_same(left, right)


def test_search_finds_the_exact_vector_first(edge: EdgeStore, server: ServerStore) -> None:
    for store in both(edge, server):
        hits = store.search(ANCHOR, limit=5)
        assert hits[0].payload["message_id"] == "hand-0"
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert [h.payload["message_id"] for h in hits] == [f"hand-{j}" for j in range(5)]


def test_customer_filter_agrees(edge: EdgeStore, server: ServerStore) -> None:
    customers = ["cus_003", "cus_017"]
    left, right = (
        s.search(query_vector(7), limit=50, customer_ids=customers) for s in both(edge, server)
    )
    # 10 or 11 points each: all of them, none of anyone else.
    assert len(left) == sum(p.payload["customer_id"] in customers for p in POINTS)
    assert {h.payload["customer_id"] for h in left} == set(customers)
    assert_same(left, right)
    assert edge.search(query_vector(7), limit=5, customer_ids=[]) == []
    assert server.search(query_vector(7), limit=5, customer_ids=[]) == []


def test_time_window_agrees(edge: EdgeStore, server: ServerStore) -> None:
    since = datetime.fromtimestamp(POINTS[40].payload["sent_at"], tz=UTC)
    until = datetime.fromtimestamp(POINTS[90].payload["sent_at"], tz=UTC)
    left, right = (
        s.search(query_vector(8), limit=100, since=since, until=until) for s in both(edge, server)
    )
    # since is inclusive and until exclusive: exactly msg-40 .. msg-89.
    assert sorted(h.payload["message_id"] for h in left) == sorted(
        f"msg-{i}" for i in range(40, 90)
    )
    assert_same(left, right)
    only_since = [s.search(query_vector(8), limit=300, since=since) for s in both(edge, server)]
    assert len(only_since[0]) == len(POINTS) - 40
    assert_same(*only_since)


def test_combined_filters_agree(edge: EdgeStore, server: ServerStore) -> None:
    until = START + timedelta(days=30)
    left, right = (
        s.search(query_vector(9), limit=20, customer_ids=CUSTOMERS[:5], until=until)
        for s in both(edge, server)
    )
    assert left
    assert all(h.payload["customer_id"] in CUSTOMERS[:5] for h in left)
    assert all(h.payload["sent_at"] < until.timestamp() for h in left)
    assert_same(left, right)


def test_naive_datetime_is_refused(edge: EdgeStore, server: ServerStore) -> None:
    for store in both(edge, server):
        with pytest.raises(ValueError, match="timezone"):
            store.search(query_vector(1), limit=3, since=datetime(2026, 1, 1))


def test_score_threshold_agrees(edge: EdgeStore, server: ServerStore) -> None:
    query = unit(ANCHOR + 0.05 * query_vector(11))
    left, right = (s.search(query, limit=50, score_threshold=0.5) for s in both(edge, server))
    assert 1 <= len(left) < 50
    assert all(h.score >= 0.5 for h in left)
    assert {h.payload["message_id"] for h in left} <= {f"hand-{j}" for j in range(5)}
    assert_same(left, right)


def test_hybrid_search_agrees(edge: EdgeStore, server: ServerStore) -> None:
    # Questions whose keyword hits have distinct BM25 scores (see OPENERS in vector_points.py).
    questions = [
        "grinder burrs worn",
        "oat milk for the office",
        "moka pot gas stove",
        "pour over carafe cracked",
    ]
    for seed, question in enumerate(questions):
        sparse = bm25_query(question)
        left, right = (
            s.search_hybrid(query_vector(seed), sparse, limit=10) for s in both(edge, server)
        )
        assert len(left) == 10
        assert_same(left, right)


def test_hybrid_search_lifts_keyword_matches(edge: EdgeStore, server: ServerStore) -> None:
    # A random dense query knows nothing; the keywords alone must pull the kettle messages up,
    # interleaved with the dense leg's best by rank fusion.
    for store in both(edge, server):
        dense = store.search(query_vector(3), limit=10)
        hybrid = store.search_hybrid(query_vector(3), bm25_query("kettle heating"), limit=10)
        assert sum("kettle" in h.payload["text"] for h in dense) <= 1
        assert sum("kettle" in h.payload["text"] for h in hybrid) >= 4
        assert dense[0].id in {h.id for h in hybrid}


def test_hybrid_search_with_filters_agrees(edge: EdgeStore, server: ServerStore) -> None:
    since = START + timedelta(days=10)
    sparse = bm25_query("delivery day saturday")
    left, right = (
        s.search_hybrid(query_vector(5), sparse, limit=8, customer_ids=CUSTOMERS[:6], since=since)
        for s in both(edge, server)
    )
    assert left
    assert all(h.payload["customer_id"] in CUSTOMERS[:6] for h in left)
    assert all(h.payload["sent_at"] >= since.timestamp() for h in left)
    assert_same(left, right)


def test_count_per_customer_agrees(edge: EdgeStore, server: ServerStore) -> None:
    assert edge.count() == server.count() == len(POINTS)
    for customer in CUSTOMERS:
        expected = sum(p.payload["customer_id"] == customer for p in POINTS)
        assert edge.count(customer_id=customer) == server.count(customer_id=customer) == expected
    assert edge.count(customer_id="nobody") == server.count(customer_id="nobody") == 0


def test_delete_customer(edge: EdgeStore, server: ServerStore) -> None:
    gone = "cus_004"
    before = edge.count(customer_id=gone)
    assert before > 0
    for store in both(edge, server):
        store.delete_customer(gone)
        assert store.count(customer_id=gone) == 0
        assert store.count() == len(POINTS) - before
        assert store.search(query_vector(2), limit=10, customer_ids=[gone]) == []
        assert all(h.payload["customer_id"] != gone for h in store.search(ANCHOR, limit=300))
    assert_same(edge.search(query_vector(2), limit=20), server.search(query_vector(2), limit=20))


def test_reassign_customer(edge: EdgeStore, server: ServerStore) -> None:
    """Two profiles merged: every point of one carries the other's id, nothing else changes."""
    old, new = "cus_004", "cus_005"
    moving = {p.id for p in POINTS if p.payload["customer_id"] == old}
    staying = edge.count(customer_id=new)
    assert moving and staying
    for store in both(edge, server):
        assert store.reassign_customer(old, new) == len(moving)
        assert store.count(customer_id=old) == 0
        assert store.count(customer_id=new) == staying + len(moving)
        assert store.count() == len(POINTS)
        hits = store.search(query_vector(3), limit=300, customer_ids=[new])
        assert moving <= {h.id for h in hits}
        # The rest of each payload is as it was.
        expected = {p.id: p.payload for p in POINTS if p.id in moving}
        for hit in hits:
            if hit.id in moving:
                assert hit.payload == {**expected[hit.id], "customer_id": new}
        # Again: nothing left to move.
        assert store.reassign_customer(old, new) == 0
        assert store.reassign_customer("nobody", new) == 0
    assert_same(edge.search(query_vector(3), limit=20), server.search(query_vector(3), limit=20))


def test_delete_points(edge: EdgeStore, server: ServerStore) -> None:
    doomed = [POINTS[200].id, POINTS[10].id]
    for store in both(edge, server):
        store.delete_points(doomed)
        store.delete_points([])
        assert store.count() == len(POINTS) - 2
        assert store.search(ANCHOR, limit=1)[0].payload["message_id"] == "hand-1"
    assert_same(edge.search(ANCHOR, limit=10), server.search(ANCHOR, limit=10))


def test_upsert_same_id_replaces(edge: EdgeStore, server: ServerStore) -> None:
    old = POINTS[200]
    new = VectorPoint(
        id=old.id,
        vector=old.vector,
        payload={**old.payload, "text": "edited", "intents": ["refund"]},
        sparse=bm25_document("edited"),
    )
    for store in both(edge, server):
        store.upsert([new])
        store.upsert([new])
        assert store.count() == len(POINTS)
        hit = store.search(ANCHOR, limit=1)[0]
        assert hit.id == old.id
        assert hit.payload["text"] == "edited"
        assert hit.payload["intents"] == ["refund"]
    assert_same(edge.search(ANCHOR, limit=10), server.search(ANCHOR, limit=10))


def test_upsert_checks_the_dimension(edge: EdgeStore, server: ServerStore) -> None:
    wrong = VectorPoint(id=str(uuid.uuid4()), vector=[1.0, 0.0], payload={})
    for store in both(edge, server):
        with pytest.raises(ValueError, match="dimension"):
            store.upsert([wrong])


def test_scroll_returns_every_point(edge: EdgeStore, server: ServerStore) -> None:
    ids = {p.id for p in POINTS}
    for store in both(edge, server):
        hits = list(store.scroll(batch_size=64))
        assert len(hits) == len(POINTS)
        assert {h.id for h in hits} == ids
        assert all(h.score == 0.0 and h.vector is None for h in hits)
        with_vectors = {h.id: h.vector for h in store.scroll(batch_size=50, with_vectors=True)}
        assert with_vectors.keys() == ids
        for point in POINTS:
            stored = with_vectors[point.id]
            assert stored is not None
            assert np.allclose(stored, point.vector, atol=1e-5)


def expected_scores(
    query: np.ndarray[Any, Any], wanted: list[str], since: datetime, until: datetime
) -> dict[str, list[float]]:
    """Per conversation, the sorted similarities of its points sent in [since, until)."""
    scores: dict[str, list[float]] = {}
    for p in POINTS:
        if (
            p.payload["conversation_id"] in wanted
            and since.timestamp() <= p.payload["sent_at"] < until.timestamp()
        ):
            scores.setdefault(p.payload["conversation_id"], []).append(
                float(np.dot(p.vector, query))
            )
    return {c: sorted(v) for c, v in scores.items()}


def test_conversation_scores_agree(edge: EdgeStore, server: ServerStore) -> None:
    wanted = ["conv-3", "conv-17", "conv-nobody"]
    query = query_vector(12)
    everything = expected_scores(query, wanted, START, START + timedelta(days=3650))
    window = {"since": START + timedelta(days=10), "until": START + timedelta(days=40)}
    in_window = expected_scores(query, wanted, **window)
    assert everything.keys() == {"conv-3", "conv-17"} and in_window != everything
    for store in both(edge, server):
        for expected, found in (
            (everything, store.conversation_scores(query, conversation_ids=wanted)),
            (in_window, store.conversation_scores(query, conversation_ids=wanted, **window)),
        ):
            assert found.keys() == expected.keys()  # conversations with no points are left out
            for conversation, values in expected.items():
                assert sorted(found[conversation]) == pytest.approx(values, abs=1e-4)
        assert store.conversation_scores(query, conversation_ids=[]) == {}


def test_reopened_edge_store_answers_the_same(tmp_path: Path, server: ServerStore) -> None:
    path = tmp_path / "vectors"
    first = EdgeStore(path, dimension=DIMENSION)
    first.upsert(POINTS)
    first.delete_customer("cus_009")
    server.delete_customer("cus_009")
    first.close()
    reopened = EdgeStore(path, dimension=DIMENSION)
    try:
        assert reopened.count() == server.count() == len(POINTS) - 10
        assert_same(
            reopened.search(query_vector(4), limit=20), server.search(query_vector(4), limit=20)
        )
        assert_same(
            reopened.search(query_vector(4), limit=20, customer_ids=CUSTOMERS[:3]),
            server.search(query_vector(4), limit=20, customer_ids=CUSTOMERS[:3]),
        )
        sparse = bm25_query("grinder burrs worn")
        assert_same(
            reopened.search_hybrid(query_vector(4), sparse, limit=10),
            server.search_hybrid(query_vector(4), sparse, limit=10),
        )
    finally:
        reopened.close()


def test_reopening_with_another_dimension_fails(tmp_path: Path) -> None:
    EdgeStore(tmp_path / "vectors", dimension=DIMENSION).close()
    with pytest.raises(Exception, match="size"):
        EdgeStore(tmp_path / "vectors", dimension=DIMENSION // 2)


def test_server_store_reuses_an_existing_collection() -> None:
    client = QdrantClient(":memory:")
    ServerStore(client, dimension=DIMENSION).upsert(POINTS[:3])
    again = ServerStore(client, dimension=DIMENSION)
    assert again.count() == 3
    with pytest.raises(ValueError, match="size"):
        ServerStore(client, dimension=DIMENSION // 2)
    again.close()


def test_hybrid_search_without_keywords_ranks_by_dense(
    edge: EdgeStore, server: ServerStore
) -> None:
    # A question of stopwords only has an empty sparse vector: the fusion is the dense leg alone.
    empty = bm25_query("Is it there, then?")
    assert empty.indices == []
    left, right = (s.search_hybrid(query_vector(6), empty, limit=5) for s in both(edge, server))
    dense = edge.search(query_vector(6), limit=5)
    assert [h.id for h in left] == [h.id for h in dense]
    assert [h.score for h in left] == pytest.approx([1 / (60 + rank) for rank in range(5)])
    assert_same(left, right)


def test_indexed_quantized_edge_store_scores_exactly(tmp_path: Path) -> None:
    # Past Qdrant's 10 MB indexing threshold optimize() builds HNSW and int8 copies; hits must
    # still carry exact cosine scores (rescored), as the server and the small store give.
    rng = np.random.default_rng(5)
    vectors = rng.standard_normal((8_000, DIMENSION)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    ids = [str(uuid.uuid5(NAMESPACE, f"bulk-{i}")) for i in range(len(vectors))]
    store = EdgeStore(tmp_path / "vectors", dimension=DIMENSION)
    try:
        store.upsert(
            [
                VectorPoint(
                    id=ids[i], vector=vectors[i], payload={"customer_id": CUSTOMERS[i % 20]}
                )
                for i in range(len(vectors))
            ]
        )
        store.optimize()
        assert store._shard.info().indexed_vectors_count == len(vectors)
        row = {point_id: n for n, point_id in enumerate(ids)}
        for seed in range(3):
            query = query_vector(seed)
            hits = store.search(query, limit=20)
            exact = vectors[[row[h.id] for h in hits]] @ query
            assert [h.score for h in hits] == pytest.approx(exact.tolist(), abs=1e-5)
            assert store.search(vectors[seed * 100], limit=1)[0].id == ids[seed * 100]
            filtered = store.search(query, limit=5, customer_ids=["cus_002"])
            assert {h.payload["customer_id"] for h in filtered} == {"cus_002"}
    finally:
        store.close()


def test_edge_store_refuses_a_second_opener(tmp_path: Path) -> None:
    first = EdgeStore(tmp_path / "vectors", dimension=4)
    try:
        with pytest.raises(StoreInUse):
            EdgeStore(tmp_path / "vectors", dimension=4)
    finally:
        first.close()
    EdgeStore(tmp_path / "vectors", dimension=4).close()  # free again once closed


def test_both_stores_find_and_remove_a_payload_field_alike(
    edge: EdgeStore, server: ServerStore
) -> None:
    for store in both(edge, server):
        store.upsert([replace(POINTS[0], payload={**POINTS[0].payload, "legacy": "old words"})])
    for store in both(edge, server):
        assert [h.id for h in store.scroll(has_field="legacy")] == [POINTS[0].id]
        store.remove_payload_field("legacy")
        assert list(store.scroll(has_field="legacy")) == []
        assert store.count() == len(POINTS)
        store.purge()  # Edge rewrites its files; a server leaves it to its own vacuum
        assert_same(
            store.search(query_vector(8), limit=10), server.search(query_vector(8), limit=10)
        )
