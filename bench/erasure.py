"""What an erasure costs in the embedded vector store: deleting one customer's points and
purging the store (copying the live points into a fresh shard, rebuilding its index, swapping
it in), at 10,000 and 100,000 points of 384 dimensions; then a byte scan of the store's files
for the erased customer's id.

    .venv/bin/python bench/erasure.py [--points 10000 100000]
"""

import argparse
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np

from embeddings.sparse import bm25_document
from embeddings.store import EdgeStore, VectorPoint

DIMENSION = 384
TOPICS = 1000
SENTENCES_PER_CUSTOMER = 20
GONE = "cus-erased-000042"


def points(count: int, rng: np.random.Generator) -> list[VectorPoint]:
    """Clustered unit vectors (sentences fall into topics), 20 per customer, with the payload
    the pipeline writes."""
    centers = rng.standard_normal((TOPICS, DIMENSION)).astype(np.float32)
    made = []
    for start in range(0, count, 10_000):
        n = min(10_000, count - start)
        vectors = centers[rng.integers(0, TOPICS, n)]
        vectors += 0.35 * rng.standard_normal((n, DIMENSION)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        for offset in range(n):
            i = start + offset
            customer = GONE if i < SENTENCES_PER_CUSTOMER else f"cus-{i // SENTENCES_PER_CUSTOMER}"
            message = f"{customer}-m{i % SENTENCES_PER_CUSTOMER // 2}"
            made.append(
                VectorPoint(
                    id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"{message}#{i % 2}")),
                    vector=vectors[offset],
                    sparse=bm25_document(f"grinder beans order {i % 97} kettle {i % 31}"),
                    payload={
                        "customer_id": customer,
                        "conversation_id": f"{customer}-conv",
                        "message_id": message,
                        "sent_at": 1_790_000_000.0 + i,
                        "intents": ["setup_trouble"] if i % 5 == 0 else [],
                        "sentence": i % 2,
                    },
                )
            )
    return made


def holding(root: Path, needle: bytes) -> int:
    """How many files under root hold the needle."""
    return sum(1 for p in root.rglob("*") if p.is_file() and needle in p.read_bytes())


def measure(count: int) -> None:
    rng = np.random.default_rng(count)
    with tempfile.TemporaryDirectory(prefix="bench-erasure-") as home:
        path = Path(home) / "vectors"
        store = EdgeStore(path, dimension=DIMENSION)
        try:
            made = points(count, rng)
            started = time.perf_counter()
            store.upsert(made)
            upserted = time.perf_counter() - started
            started = time.perf_counter()
            store.optimize()
            indexed = time.perf_counter() - started
            before = holding(Path(home), GONE.encode())
            started = time.perf_counter()
            store.delete_customer(GONE)
            deleted = time.perf_counter() - started
            started = time.perf_counter()
            store.purge()
            purged = time.perf_counter() - started
            after = holding(Path(home), GONE.encode())
            left = store.count()
            query = made[-1].vector
            started = time.perf_counter()
            for _ in range(20):
                store.search(query, limit=20)
            search_ms = (time.perf_counter() - started) / 20 * 1000
        finally:
            store.close()
    print(
        f"{count:>8,} points: upsert {upserted:6.1f} s, index {indexed:6.1f} s | erasure: "
        f"delete {deleted * 1000:6.1f} ms, purge {purged:6.1f} s "
        f"(total {deleted + purged:6.1f} s) | files holding the id: {before} before, {after} "
        f"after | {left:,} points left, search after purge {search_ms:.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--points", type=int, nargs="+", default=[10_000, 100_000])
    for count in parser.parse_args().points:
        measure(count)


if __name__ == "__main__":
    main()
