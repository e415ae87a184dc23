"""Purging the embedded store: deleted points and removed payload leave its files (segments,
payload indexes, write-ahead log), not only its answers; a purge interrupted at any step is
finished when the store is next opened; a failed purge leaves a working store."""

import os
import shutil
import threading
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embeddings.store import EdgeStore, VectorPoint
from tests.vector_points import DIMENSION, POINTS, make_point, query_vector

GONE = "zq-purge-4471"
# Their id, their message ids and a word only their payload holds.
NEEDLES = [GONE.encode(), b"zq-msg-", b"kilnwright"]


def gone_points() -> list[VectorPoint]:
    """Points of the customer to be deleted, with a word of theirs in the payload."""
    rng = np.random.default_rng(7)
    return [
        make_point(
            f"zq-msg-{n}",
            rng.standard_normal(DIMENSION).astype(np.float32),
            GONE,
            n,
            f"the kilnwright app crashed {n} times",
        )
        for n in range(12)
    ]


def found(root: Path) -> list[str]:
    """Files under root holding any needle, as stored or lower-cased."""
    return sorted(
        str(path.relative_to(root))
        for path in root.rglob("*")
        if path.is_file()
        and any(needle in data for data in _forms(path.read_bytes()) for needle in NEEDLES)
    )


def _forms(data: bytes) -> tuple[bytes, bytes]:
    return data, data.lower()


def built(path: Path) -> EdgeStore:
    """A store with everyone's points and the customer to be deleted."""
    store = EdgeStore(path, dimension=DIMENSION)
    store.upsert([*POINTS, *gone_points()])
    return store


def test_purge_drops_deleted_points_and_removed_payload_from_every_file(tmp_path: Path) -> None:
    store = built(tmp_path / "vectors")
    try:
        before = [h.id for h in store.search(query_vector(1), limit=20, customer_ids=["cus_001"])]
        assert found(tmp_path)  # the test can fail: their bytes are in the files
        store.delete_customer(GONE)
        store.remove_payload_field("text")
        # Deleting only unlists: Edge keeps the bytes in its segments and write-ahead log.
        assert store.count(customer_id=GONE) == 0 and found(tmp_path)
        store.purge()
        assert found(tmp_path) == []
        assert sorted(p.name for p in tmp_path.iterdir()) == ["vectors", "vectors.lock"]
        # Everyone else is as they were, without the removed field.
        assert store.count() == len(POINTS)
        after = store.search(query_vector(1), limit=20, customer_ids=["cus_001"])
        assert [h.id for h in after] == before
        assert all("text" not in h.payload for h in store.scroll())
    finally:
        store.close()
    reopened = EdgeStore(tmp_path / "vectors", dimension=DIMENSION)
    try:
        assert reopened.count() == len(POINTS) and reopened.count(customer_id=GONE) == 0
    finally:
        reopened.close()


def test_purge_keeps_the_index_and_does_nothing_when_nothing_was_deleted(
    tmp_path: Path,
) -> None:
    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((8_000, DIMENSION)).astype(np.float32)
    store = EdgeStore(tmp_path / "vectors", dimension=DIMENSION)
    try:
        store.upsert(
            [
                VectorPoint(id=str(uuid.uuid4()), vector=v, payload={"customer_id": f"c{i % 9}"})
                for i, v in enumerate(vectors)
            ]
        )
        store.optimize()
        segments = sorted(p.name for p in (tmp_path / "vectors" / "segments").iterdir())
        store.purge()  # nothing deleted: nothing rewritten
        assert sorted(p.name for p in (tmp_path / "vectors" / "segments").iterdir()) == segments
        store.delete_customer("c0")
        store.purge()
        assert store.count() == 8_000 - len(range(0, 8_000, 9))
        # Searches stay on the graph, as fast as before the purge.
        assert store._shard.info().indexed_vectors_count >= store.count()
    finally:
        store.close()


def copy_store(source: Path, target: Path) -> None:
    """A store's directory copied elsewhere, as a crash would have left it."""
    shutil.copytree(source, target)


@pytest.mark.parametrize("step", ["copying", "copied", "swapping", "swapped"])
def test_an_interrupted_purge_is_finished_when_the_store_is_next_opened(
    tmp_path: Path, step: str
) -> None:
    # The old shard, with the customer deleted but their bytes still in its files.
    old = tmp_path / "old" / "vectors"
    store = built(old)
    store.delete_customer(GONE)
    store.close()
    assert (tmp_path / "old" / "vectors.purge").exists()
    # Its purged copy: opening a copy of the old store finishes its purge.
    copy_store(old, tmp_path / "new" / "vectors")
    shutil.copy(tmp_path / "old" / "vectors.purge", tmp_path / "new" / "vectors.purge")
    EdgeStore(tmp_path / "new" / "vectors", dimension=DIMENSION).close()
    assert found(tmp_path / "new") == []

    home = tmp_path / "home"
    home.mkdir()
    (home / "vectors.purge").touch()
    if step == "copying":  # killed while copying: the partial copy is dropped, the purge redone
        copy_store(old, home / "vectors")
        (home / "vectors.rebuild" / "segments").mkdir(parents=True)
    elif step == "copied":  # killed after the copy was complete, before the swap
        copy_store(old, home / "vectors")
        copy_store(tmp_path / "new" / "vectors", home / "vectors.ready")
    elif step == "swapping":  # killed between the two renames
        copy_store(old, home / "vectors.old")
        copy_store(tmp_path / "new" / "vectors", home / "vectors.ready")
    else:  # killed after the swap, before the old shard was deleted
        copy_store(tmp_path / "new" / "vectors", home / "vectors")
        copy_store(old, home / "vectors.old")
    assert found(home)

    reopened = EdgeStore(home / "vectors", dimension=DIMENSION)
    try:
        assert reopened.count() == len(POINTS) and reopened.count(customer_id=GONE) == 0
        assert reopened.search(query_vector(2), limit=5)
    finally:
        reopened.close()
    assert found(home) == []
    assert sorted(p.name for p in home.iterdir()) == ["vectors", "vectors.lock"]


def test_a_failed_purge_leaves_a_working_store_and_runs_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = built(tmp_path / "vectors")
    try:
        store.delete_customer(GONE)
        real_rename = os.rename

        def full_disk(source: Any, target: Any) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "rename", full_disk)
        with pytest.raises(OSError):
            store.purge()
        monkeypatch.setattr(os, "rename", real_rename)
        # Nothing swapped: the store answers as before, and the purge is still due.
        assert store.count() == len(POINTS) and store.search(query_vector(3), limit=3)
        assert (tmp_path / "vectors.purge").exists() and found(tmp_path)
        store.purge()
        assert found(tmp_path) == []
    finally:
        store.close()


def test_searches_go_on_while_a_purge_copies_and_swaps(tmp_path: Path) -> None:
    store = built(tmp_path / "vectors")
    try:
        store.delete_customer(GONE)
        errors: list[BaseException] = []

        def purge() -> None:
            try:
                store.purge()
            except BaseException as error:  # reported to the test thread
                errors.append(error)

        worker = threading.Thread(target=purge)
        worker.start()
        answers = 0
        while worker.is_alive() or answers < 20:
            hits = store.search(query_vector(answers), limit=5)
            assert len(hits) == 5 and GONE not in {h.payload["customer_id"] for h in hits}
            answers += 1
        worker.join()
        assert errors == [] and found(tmp_path) == []
    finally:
        store.close()
