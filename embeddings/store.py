"""The vector store: one Protocol, with Qdrant Edge (in-process) and a Qdrant server behind it."""

import fcntl
import json
import os
import shutil
import threading
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO, Any, Protocol

import numpy as np
import numpy.typing as npt
import qdrant_edge as edge
from qdrant_client import QdrantClient
from qdrant_client import models as qm

DENSE = "dense"
SPARSE = "bm25"
COLLECTION = "messages"
# The constant of the original RRF paper; Qdrant's default (2) lets the top rank of one leg
# outweigh agreement between both legs.
RRF_K = 60
# Each leg of a hybrid search hands this many times the limit to the fusion, so a point that is
# only fair in both legs can still win.
PREFETCH_FACTOR = 4
# Points per write: keeps one request to a server well under its 32 MB body limit.
UPSERT_BATCH = 256
# Points per page when a purge copies the live points into a fresh shard.
PURGE_BATCH = 1024

DenseVector = Sequence[float] | npt.NDArray[np.floating[Any]]


@dataclass(frozen=True)
class SparseVector:
    """Non-zero term ids and their weights."""

    indices: list[int]
    values: list[float]


@dataclass(frozen=True)
class VectorPoint:
    """One embedded sentence: a UUID id, its dense (and optional sparse) vector, its payload."""

    id: str
    vector: DenseVector
    payload: dict[str, Any]
    sparse: SparseVector | None = None


@dataclass(frozen=True)
class VectorHit:
    """A point found by a search (or listed by scroll, with score 0.0)."""

    id: str
    score: float
    payload: dict[str, Any]
    vector: list[float] | None = None


class VectorStore(Protocol):
    """Dense and hybrid search over message sentences, filtered by customer and time."""

    # The size of the dense vectors it holds.
    dimension: int
    # Whether this process holds the store alone (embedded in it): no other process can be
    # writing to it at the same time.
    exclusive: bool

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        """Insert or replace points by id."""
        ...

    def search(
        self,
        vector: DenseVector,
        *,
        limit: int,
        customer_ids: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        score_threshold: float | None = None,
    ) -> list[VectorHit]:
        """Nearest points by cosine similarity, best first."""
        ...

    def search_hybrid(
        self,
        vector: DenseVector,
        sparse: SparseVector,
        *,
        limit: int,
        customer_ids: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[VectorHit]:
        """Dense and BM25 results fused by reciprocal rank, best first."""
        ...

    def conversation_scores(
        self,
        vector: DenseVector,
        *,
        conversation_ids: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, list[float]]:
        """The cosine similarity of every point of some conversations, per conversation."""
        ...

    def scroll(
        self, *, batch_size: int = 1000, with_vectors: bool = False, has_field: str | None = None
    ) -> Iterator[VectorHit]:
        """Every point (or every point whose payload has the field), in pages of batch_size."""
        ...

    def delete_customer(self, customer_id: str) -> None:
        """Remove every point of one customer."""
        ...

    def reassign_customer(self, old: str, new: str) -> int:
        """Give every point of customer `old` the customer id `new` (two profiles merged);
        returns how many points moved."""
        ...

    def delete_points(self, ids: Sequence[str]) -> None:
        """Remove points by id."""
        ...

    def remove_payload_field(self, name: str) -> None:
        """Remove one payload field from every point that has it."""
        ...

    def purge(self) -> None:
        """Drop deleted points and removed payload from the store's files, not only from its
        answers; a no-op when nothing was removed since the last purge, or the store cannot."""
        ...

    def count(self, *, customer_id: str | None = None) -> int:
        """Exact number of points, of one customer or of all."""
        ...

    def optimize(self) -> None:
        """Build the search indexes for what was added, where the store does that only when
        asked; a no-op where it does it by itself."""
        ...

    def close(self) -> None:
        """Release the store."""
        ...


def _dense(vector: DenseVector, dimension: int) -> list[float]:
    """The vector as plain floats, after checking its dimension."""
    values = np.asarray(vector, dtype=np.float32).reshape(-1)
    if values.shape[0] != dimension:
        raise ValueError(f"vector has dimension {values.shape[0]}, the store has {dimension}")
    return values.tolist()


def _seconds(moment: datetime | None) -> float | None:
    """Unix seconds of an aware datetime (naive ones would silently mean local time)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise ValueError(f"datetime {moment.isoformat()} has no timezone")
    return moment.timestamp()


def _scores_by_conversation(points: Iterable[Any]) -> dict[str, list[float]]:
    """Scored points of either client, their scores grouped by their conversation_id."""
    scores: dict[str, list[float]] = {}
    for point in points:
        key = str((point.payload or {})["conversation_id"])
        scores.setdefault(key, []).append(float(point.score))
    return scores


def _batches(points: Sequence[VectorPoint]) -> Iterator[Sequence[VectorPoint]]:
    for start in range(0, len(points), UPSERT_BATCH):
        yield points[start : start + UPSERT_BATCH]


class StoreInUse(Exception):
    """The embedded store's directory is held by another open store (Edge locks its WAL)."""


class _SwapLock:
    """Shared by every use of the shard, exclusive for the moment a purge swaps it: a search
    never runs on a shard being closed. A waiting swap holds new users back, so a steady
    stream of searches cannot starve it."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._users = 0
        self._swapping = False

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Use the shard, alongside other users."""
        with self._changed:
            while self._swapping:
                self._changed.wait()
            self._users += 1
        try:
            yield
        finally:
            with self._changed:
                self._users -= 1
                self._changed.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        """Swap the shard, once its current users are done."""
        with self._changed:
            while self._swapping:
                self._changed.wait()
            self._swapping = True
            while self._users:
                self._changed.wait()
        try:
            yield
        finally:
            with self._changed:
                self._swapping = False
                self._changed.notify_all()


def _sync_directory(path: Path) -> None:
    """Make renames and removals in a directory durable."""
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sibling(path: Path, suffix: str) -> Path:
    """A path beside the store's directory: `vectors` -> `vectors.purge`."""
    return path.with_name(path.name + suffix)


def _hold(path: Path) -> IO[str]:
    """An exclusive lock on a file, held until the returned file is closed (or the process
    ends); StoreInUse when another open store holds it."""
    handle = path.open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise StoreInUse(f"{path.with_suffix('')} is open in another process") from None
    return handle


class EdgeStore:
    """Qdrant Edge: the Qdrant engine in-process, stored in one directory."""

    def __init__(
        self,
        path: str | Path,
        *,
        dimension: int,
        hnsw_m: int = 16,
        hnsw_ef_construct: int = 100,
        hnsw_ef: int | None = None,
        quantize: bool = True,
    ) -> None:
        self.dimension = dimension
        self.exclusive = True
        self.path = Path(path)
        # int8 copies of the vectors: the HNSW build takes a third of the time and searches are
        # faster; hits are rescored with the original vectors, so scores stay exact.
        quantization = edge.ScalarQuantizationConfig(edge.ScalarType.Int8, quantile=0.99)
        config = edge.EdgeConfig(
            vectors={DENSE: edge.EdgeVectorParams(size=dimension, distance=edge.Distance.Cosine)},
            sparse_vectors={SPARSE: edge.EdgeSparseVectorParams(modifier=edge.Modifier.Idf)},
            # 10,000 KB is Qdrant's default: below it (per segment, or per filtered subset)
            # a search scans exactly instead of walking the graph.
            hnsw_config=edge.HnswIndexConfig(
                m=hnsw_m, ef_construct=hnsw_ef_construct, full_scan_threshold=10_000
            ),
            quantization_config=quantization if quantize else None,
        )
        # Edge does not rescore by default: without this, scores were off by up to 0.003.
        rescore = edge.QuantizationSearchParams(rescore=True)
        self._params = edge.SearchParams(hnsw_ef=hnsw_ef, quantization=rescore)
        self._config = config
        self._swap = _SwapLock()
        # One change at a time, and none while a purge copies the shard: a point written to
        # the old shard after its copy began would be lost in the swap.
        self._writes = threading.RLock()
        # Says that deleted points may still be in the files: a purge is due. Beside the
        # directory, so that it outlives the swap; it names nothing and no one.
        self._pending = _sibling(self.path, ".purge")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # Held for the store's life: Edge's own WAL lock lapses while a purge swaps shards.
        self._lock = _hold(_sibling(self.path, ".lock"))
        try:
            self._recover()
            self._shard = self._open(self.path)
        except BaseException:
            self._lock.close()
            raise
        try:
            # A purge an earlier process left unfinished (killed mid-erasure) is finished now.
            self.purge()
        except BaseException:
            self.close()
            raise

    @staticmethod
    def stored_dimension(path: str | Path) -> int | None:
        """The dense size of the store in a directory, read from its configuration without
        opening it (also mid-purge, from the complete copy); None when there is no store."""
        path = Path(path)
        for directory in (path, _sibling(path, ".ready")):
            config = directory / "edge_config.json"
            if config.exists():
                return int(json.loads(config.read_text())["vectors"][DENSE]["size"])
        return None

    def _open(self, path: Path) -> edge.EdgeShard:
        """Load the shard in a directory, or create it; with the payload indexes filters use."""
        if (path / "edge_config.json").exists():
            # Passing the config makes load refuse a directory built for another dimension.
            try:
                shard = edge.EdgeShard.load(str(path), self._config)
            except Exception as error:  # Edge raises a bare Exception with the OS error's kind
                if "WouldBlock" in str(error):
                    raise StoreInUse(f"{path} is open in another process") from error
                raise
        else:
            shard = edge.EdgeShard.create(str(path), self._config)
        # On load too: a store made by an earlier version gets the indexes added since.
        indexed = set(shard.info().payload_schema)
        for name, schema in _edge_payload_indexes():
            if name not in indexed:
                shard.update(edge.UpdateOperation.create_field_index(name, schema))
        return shard

    def _recover(self) -> None:
        """Finish or undo a purge that stopped half way, from the directories it left: a
        complete copy (`.ready`) replaces the old shard; a partial one (`.rebuild`) is dropped
        (the old shard and the pending mark stay, so the purge runs again); the old shard
        (`.old`) goes once its copy is in place."""
        fresh, ready, old = (_sibling(self.path, s) for s in (".rebuild", ".ready", ".old"))
        shutil.rmtree(fresh, ignore_errors=True)
        if ready.exists():
            if self.path.exists():
                shutil.rmtree(old, ignore_errors=True)
                os.rename(self.path, old)
            os.rename(ready, self.path)
            _sync_directory(self.path.parent)
            self._pending.unlink(missing_ok=True)
        if old.exists() and self.path.exists():
            shutil.rmtree(old)
        _sync_directory(self.path.parent)

    @contextmanager
    def _reading(self) -> Iterator[edge.EdgeShard]:
        """The shard, kept from being swapped while in use."""
        with self._swap.shared():
            yield self._shard

    @contextmanager
    def _writing(self) -> Iterator[edge.EdgeShard]:
        """The shard, for a change: one at a time, and never while a purge copies it."""
        with self._writes, self._swap.shared():
            yield self._shard

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        """Insert or replace points by id."""
        for batch in _batches(points):
            records = []
            for point in batch:
                vectors: dict[str, edge.NamedVector] = {DENSE: _dense(point.vector, self.dimension)}
                if point.sparse is not None and point.sparse.indices:
                    vectors[SPARSE] = edge.SparseVector(point.sparse.indices, point.sparse.values)
                records.append(edge.Point(point.id, vectors, point.payload))
            with self._writing() as shard:
                shard.update(edge.UpdateOperation.upsert_points(records))

    def search(
        self,
        vector: DenseVector,
        *,
        limit: int,
        customer_ids: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        score_threshold: float | None = None,
    ) -> list[VectorHit]:
        """Nearest points by cosine similarity, best first."""
        if customer_ids is not None and not customer_ids:
            return []
        request = edge.QueryRequest(
            limit=limit,
            query=edge.Query.Nearest(_dense(vector, self.dimension), using=DENSE),
            filter=_edge_filter(customer_ids, since, until),
            score_threshold=score_threshold,
            params=self._params,
            with_payload=True,
        )
        with self._reading() as shard:
            return [_edge_hit(point) for point in shard.query(request)]

    def search_hybrid(
        self,
        vector: DenseVector,
        sparse: SparseVector,
        *,
        limit: int,
        customer_ids: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[VectorHit]:
        """Dense and BM25 results fused by reciprocal rank, best first."""
        if customer_ids is not None and not customer_ids:
            return []
        where = _edge_filter(customer_ids, since, until)
        dense = edge.Query.Nearest(_dense(vector, self.dimension), using=DENSE)
        keywords = edge.Query.Nearest(
            edge.SparseVector(sparse.indices, sparse.values), using=SPARSE
        )
        prefetch_limit = limit * PREFETCH_FACTOR
        request = edge.QueryRequest(
            limit=limit,
            prefetches=[
                edge.Prefetch(limit=prefetch_limit, query=dense, filter=where, params=self._params),
                edge.Prefetch(limit=prefetch_limit, query=keywords, filter=where),
            ],
            # The stub types Fusion.Rrf as not a Fusion, but the engine takes it.
            query=edge.Fusion.Rrf(k=RRF_K),  # type: ignore[arg-type]
            with_payload=True,
        )
        with self._reading() as shard:
            return [_edge_hit(point) for point in shard.query(request)]

    def conversation_scores(
        self,
        vector: DenseVector,
        *,
        conversation_ids: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, list[float]]:
        """The cosine similarity of every point of some conversations, per conversation."""
        if not conversation_ids:
            return {}
        where = _edge_filter(None, since, until, conversation_ids)
        with self._reading() as shard:
            total = shard.count(edge.CountRequest(exact=True, filter=where))
            if not total:
                return {}
            request = edge.QueryRequest(
                limit=total,
                query=edge.Query.Nearest(_dense(vector, self.dimension), using=DENSE),
                filter=where,
                params=self._params,
                # Only the field we group by: building whole payloads cost more than the search.
                with_payload=["conversation_id"],
            )
            return _scores_by_conversation(shard.query(request))

    def scroll(
        self, *, batch_size: int = 1000, with_vectors: bool = False, has_field: str | None = None
    ) -> Iterator[VectorHit]:
        """Every point (or every point whose payload has the field), in pages of batch_size."""
        where = _edge_has_field(has_field) if has_field is not None else None
        offset: edge.PointId | None = None
        while True:
            # Held page by page, not across the yields: a slow reader must not stall a purge.
            with self._reading() as shard:
                records, offset = shard.scroll(
                    edge.ScrollRequest(
                        offset=offset,
                        limit=batch_size,
                        filter=where,
                        with_payload=True,
                        with_vector=[DENSE] if with_vectors else False,
                    )
                )
            for record in records:
                yield VectorHit(
                    id=str(record.id),
                    score=0.0,
                    payload=dict(record.payload or {}),
                    vector=_named_dense(record.vector) if with_vectors else None,
                )
            if offset is None:
                return

    def delete_customer(self, customer_id: str) -> None:
        """Remove every point of one customer."""
        condition = edge.FieldCondition("customer_id", match=edge.MatchValue(customer_id))
        with self._writing() as shard:
            self._mark_pending()
            shard.update(
                edge.UpdateOperation.delete_points_by_filter(edge.Filter(must=[condition]))
            )

    def reassign_customer(self, old: str, new: str) -> int:
        """Give every point of customer `old` the customer id `new`; how many points moved."""
        where = edge.Filter(must=[edge.FieldCondition("customer_id", match=edge.MatchValue(old))])
        # Under the write lock: a change made while a purge copies the store would be lost.
        with self._writing() as shard:
            moved = shard.count(edge.CountRequest(exact=True, filter=where))
            if moved:
                shard.update(
                    edge.UpdateOperation.set_payload_by_filter(where, {"customer_id": new})
                )
        return moved

    def delete_points(self, ids: Sequence[str]) -> None:
        """Remove points by id."""
        if ids:
            with self._writing() as shard:
                self._mark_pending()
                shard.update(edge.UpdateOperation.delete_points(list(ids)))

    def remove_payload_field(self, name: str) -> None:
        """Remove one payload field from every point that has it."""
        with self._writing() as shard:
            self._mark_pending()
            removal = edge.UpdateOperation.delete_payload_by_filter(_edge_has_field(name), [name])
            shard.update(removal)

    def count(self, *, customer_id: str | None = None) -> int:
        """Exact number of points, of one customer or of all."""
        where = None
        if customer_id is not None:
            condition = edge.FieldCondition("customer_id", match=edge.MatchValue(customer_id))
            where = edge.Filter(must=[condition])
        with self._reading() as shard:
            return shard.count(edge.CountRequest(exact=True, filter=where))

    def optimize(self) -> None:
        """Build HNSW indexes and merge segments; Edge runs no optimizer in the background."""
        with self._writing() as shard:
            shard.optimize()

    def _mark_pending(self) -> None:
        """Note, durably and before the removal it announces, that a purge is due: a process
        killed between the two leaves the mark, and the next open purges."""
        if not self._pending.exists():
            with self._pending.open("w") as mark:
                os.fsync(mark.fileno())
            _sync_directory(self.path.parent)

    def purge(self) -> None:
        """Drop deleted points and removed payload from the files: Qdrant Edge only marks a
        deleted point as deleted (its bytes stay in the segment until a vacuum rewrites it) and
        keeps every write in its write-ahead log until the log rolls over, with no way to cut
        either short. So the live points are copied into a fresh shard beside this one, which
        replaces it, and the old directory is deleted. Crash-safe: a copy is complete before it
        is renamed into place, and an interrupted purge is finished or redone when the store
        is next opened. Searches go on during the copy; writes wait for it."""
        with self._writes:
            if not self._pending.exists():
                return
            fresh, ready, old = (_sibling(self.path, s) for s in (".rebuild", ".ready", ".old"))
            shutil.rmtree(fresh, ignore_errors=True)
            with self._reading() as shard:
                indexed = shard.info().indexed_vectors_count > 0
            copy = edge.EdgeShard.create(str(fresh), self._config)
            try:
                for name, schema in _edge_payload_indexes():
                    copy.update(edge.UpdateOperation.create_field_index(name, schema))
                offset: edge.PointId | None = None
                while True:
                    with self._reading() as shard:
                        records, offset = shard.scroll(
                            edge.ScrollRequest(
                                offset=offset,
                                limit=PURGE_BATCH,
                                with_payload=True,
                                with_vector=True,
                            )
                        )
                    if records:
                        points = [edge.Point(r.id, r.vector or {}, r.payload) for r in records]
                        copy.update(edge.UpdateOperation.upsert_points(points))
                    if offset is None:
                        break
                if indexed:
                    # Searches stay as fast as before the purge (a fresh shard scans exactly).
                    copy.optimize()
                copy.flush()
            finally:
                copy.close()
            os.rename(fresh, ready)  # complete: from here on it replaces the old shard
            _sync_directory(self.path.parent)
            with self._swap.exclusive():
                self._shard.close()
                os.rename(self.path, old)
                os.rename(ready, self.path)
                _sync_directory(self.path.parent)
                self._shard = self._open(self.path)
            self._pending.unlink()
            shutil.rmtree(old)
            _sync_directory(self.path.parent)

    def close(self) -> None:
        """Flush to disk and release the directory; closing twice is harmless."""
        if self._lock.closed:
            return
        with self._swap.exclusive():
            self._shard.close()
        self._lock.close()


def _edge_payload_indexes() -> (
    "list[tuple[str, edge.PayloadSchemaType | edge.PayloadSchemaParams]]"
):
    """The payload fields that filters use; the stub names a type the module lacks at run time."""
    return [
        ("customer_id", edge.PayloadSchemaType.Keyword),
        ("conversation_id", edge.PayloadSchemaType.Keyword),
        ("message_id", edge.PayloadSchemaType.Keyword),
        # No extra HNSW graphs per time range: they tripled the index build, and a time
        # window is seldom narrow enough to need them (a narrow one is scanned exactly).
        ("sent_at", edge.FloatIndexParams(enable_hnsw=False)),
    ]


def _edge_filter(
    customer_ids: Sequence[str] | None,
    since: datetime | None,
    until: datetime | None,
    conversation_ids: Sequence[str] | None = None,
) -> edge.Filter | None:
    conditions: list[edge.ConditionType] = []
    if customer_ids is not None:
        conditions.append(
            edge.FieldCondition("customer_id", match=edge.MatchAny(list(customer_ids)))
        )
    if conversation_ids is not None:
        conditions.append(
            edge.FieldCondition("conversation_id", match=edge.MatchAny(list(conversation_ids)))
        )
    if since is not None or until is not None:
        bounds = edge.RangeFloat(gte=_seconds(since), lt=_seconds(until))
        conditions.append(edge.FieldCondition("sent_at", range=bounds))
    return edge.Filter(must=conditions) if conditions else None


def _edge_has_field(name: str) -> edge.Filter:
    """Points whose payload has the field."""
    return edge.Filter(must_not=[edge.IsEmptyCondition(name)])


def _named_dense(vector: object) -> list[float] | None:
    """The dense vector out of a name -> vector mapping."""
    if isinstance(vector, dict) and isinstance(vector.get(DENSE), list):
        return [float(x) for x in vector[DENSE]]
    return None


def _edge_hit(point: edge.ScoredPoint) -> VectorHit:
    # Edge hands back UUID objects for UUID ids; the protocol speaks strings.
    return VectorHit(id=str(point.id), score=point.score, payload=dict(point.payload or {}))


class ServerStore:
    """A Qdrant server or cluster (or qdrant-client's in-memory mode) through qdrant-client."""

    def __init__(
        self,
        client: QdrantClient,
        *,
        dimension: int,
        collection: str = COLLECTION,
        hnsw_ef: int | None = None,
    ) -> None:
        self.dimension = dimension
        self.exclusive = False
        self.collection = collection
        self._client = client
        self._params = qm.SearchParams(hnsw_ef=hnsw_ef) if hnsw_ef is not None else None
        if client.collection_exists(collection):
            self._check_dimension()
            return
        client.create_collection(
            collection,
            vectors_config={DENSE: qm.VectorParams(size=dimension, distance=qm.Distance.COSINE)},
            sparse_vectors_config={SPARSE: qm.SparseVectorParams(modifier=qm.Modifier.IDF)},
        )
        with warnings.catch_warnings():
            # The in-memory mode warns that it ignores payload indexes; a server uses them.
            warnings.filterwarnings("ignore", message="Payload indexes have no effect")
            for name, schema in (
                ("customer_id", qm.PayloadSchemaType.KEYWORD),
                ("conversation_id", qm.PayloadSchemaType.KEYWORD),
                ("message_id", qm.PayloadSchemaType.KEYWORD),
                ("sent_at", qm.PayloadSchemaType.FLOAT),
            ):
                client.create_payload_index(collection, name, field_schema=schema)

    @staticmethod
    def stored_dimension(client: QdrantClient, collection: str = COLLECTION) -> int | None:
        """The dense size of an existing collection; None when there is no collection."""
        if not client.collection_exists(collection):
            return None
        size = collection_dimension(client, collection)
        if size is None:
            raise ValueError(f"collection {collection!r} has no {DENSE!r} vectors")
        return size

    def _check_dimension(self) -> None:
        size = collection_dimension(self._client, self.collection)
        if size != self.dimension:
            raise ValueError(
                f"collection {self.collection!r} has dense size {size}, the store {self.dimension}"
            )

    def upsert(self, points: Sequence[VectorPoint]) -> None:
        """Insert or replace points by id."""
        for batch in _batches(points):
            records = []
            for point in batch:
                vectors: dict[str, Any] = {DENSE: _dense(point.vector, self.dimension)}
                if point.sparse is not None and point.sparse.indices:
                    vectors[SPARSE] = qm.SparseVector(
                        indices=point.sparse.indices, values=point.sparse.values
                    )
                records.append(qm.PointStruct(id=point.id, vector=vectors, payload=point.payload))
            self._client.upsert(self.collection, points=records, wait=True)

    def search(
        self,
        vector: DenseVector,
        *,
        limit: int,
        customer_ids: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        score_threshold: float | None = None,
    ) -> list[VectorHit]:
        """Nearest points by cosine similarity, best first."""
        if customer_ids is not None and not customer_ids:
            return []
        response = self._client.query_points(
            self.collection,
            query=_dense(vector, self.dimension),
            using=DENSE,
            query_filter=_server_filter(customer_ids, since, until),
            search_params=self._params,
            limit=limit,
            score_threshold=score_threshold,
            with_payload=True,
        )
        return [_server_hit(point) for point in response.points]

    def search_hybrid(
        self,
        vector: DenseVector,
        sparse: SparseVector,
        *,
        limit: int,
        customer_ids: Sequence[str] | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[VectorHit]:
        """Dense and BM25 results fused by reciprocal rank, best first."""
        if customer_ids is not None and not customer_ids:
            return []
        where = _server_filter(customer_ids, since, until)
        prefetch_limit = limit * PREFETCH_FACTOR
        response = self._client.query_points(
            self.collection,
            prefetch=[
                qm.Prefetch(
                    query=_dense(vector, self.dimension),
                    using=DENSE,
                    filter=where,
                    params=self._params,
                    limit=prefetch_limit,
                ),
                qm.Prefetch(
                    query=qm.SparseVector(indices=sparse.indices, values=sparse.values),
                    using=SPARSE,
                    filter=where,
                    limit=prefetch_limit,
                ),
            ],
            query=qm.RrfQuery(rrf=qm.Rrf(k=RRF_K)),
            limit=limit,
            with_payload=True,
        )
        return [_server_hit(point) for point in response.points]

    def conversation_scores(
        self,
        vector: DenseVector,
        *,
        conversation_ids: Sequence[str],
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> dict[str, list[float]]:
        """The cosine similarity of every point of some conversations, per conversation."""
        if not conversation_ids:
            return {}
        where = _server_filter(None, since, until, conversation_ids)
        total = self._client.count(self.collection, count_filter=where, exact=True).count
        if not total:
            return {}
        response = self._client.query_points(
            self.collection,
            query=_dense(vector, self.dimension),
            using=DENSE,
            query_filter=where,
            search_params=self._params,
            limit=total,
            with_payload=["conversation_id"],
        )
        return _scores_by_conversation(response.points)

    def scroll(
        self, *, batch_size: int = 1000, with_vectors: bool = False, has_field: str | None = None
    ) -> Iterator[VectorHit]:
        """Every point (or every point whose payload has the field), in pages of batch_size."""
        where = _server_has_field(has_field) if has_field is not None else None
        offset: Any = None
        while True:
            records, offset = self._client.scroll(
                self.collection,
                scroll_filter=where,
                limit=batch_size,
                offset=offset,
                with_payload=True,
                with_vectors=[DENSE] if with_vectors else False,
            )
            for record in records:
                yield VectorHit(
                    id=str(record.id),
                    score=0.0,
                    payload=dict(record.payload or {}),
                    vector=_named_dense(record.vector) if with_vectors else None,
                )
            if offset is None:
                return

    def delete_customer(self, customer_id: str) -> None:
        """Remove every point of one customer."""
        self._client.delete(
            self.collection,
            points_selector=qm.FilterSelector(filter=_customer_filter(customer_id)),
            wait=True,
        )

    def reassign_customer(self, old: str, new: str) -> int:
        """Give every point of customer `old` the customer id `new`; how many points moved."""
        where = _customer_filter(old)
        moved = self._client.count(self.collection, count_filter=where, exact=True).count
        if moved:
            self._client.set_payload(
                self.collection,
                payload={"customer_id": new},
                points=qm.FilterSelector(filter=where),
                wait=True,
            )
        return moved

    def delete_points(self, ids: Sequence[str]) -> None:
        """Remove points by id."""
        if ids:
            selector = qm.PointIdsList(points=list(ids))
            self._client.delete(self.collection, points_selector=selector, wait=True)

    def remove_payload_field(self, name: str) -> None:
        """Remove one payload field from every point that has it."""
        self._client.delete_payload(
            self.collection,
            keys=[name],
            points=qm.FilterSelector(filter=_server_has_field(name)),
            wait=True,
        )

    def count(self, *, customer_id: str | None = None) -> int:
        """Exact number of points, of one customer or of all."""
        where = _customer_filter(customer_id) if customer_id is not None else None
        return self._client.count(self.collection, count_filter=where, exact=True).count

    def purge(self) -> None:
        """Nothing a client can do: a server keeps deleted points in its segment files until
        its vacuum optimizer rewrites them and every write in its write-ahead log until the log
        rolls over (what remains, and how to force it, is in the README's Erasure section)."""

    def optimize(self) -> None:
        """Nothing to do: a server's optimizer indexes new points by itself."""

    def close(self) -> None:
        """Close the client this store was given."""
        self._client.close()


def collection_dimension(client: QdrantClient, collection: str = COLLECTION) -> int | None:
    """The dense vector size of an existing collection (None: it has no dense vectors)."""
    vectors = client.get_collection(collection).config.params.vectors
    return vectors[DENSE].size if isinstance(vectors, dict) and DENSE in vectors else None


def _server_has_field(name: str) -> qm.Filter:
    """Points whose payload has the field."""
    return qm.Filter(must_not=[qm.IsEmptyCondition(is_empty=qm.PayloadField(key=name))])


def _customer_filter(customer_id: str) -> qm.Filter:
    return qm.Filter(
        must=[qm.FieldCondition(key="customer_id", match=qm.MatchValue(value=customer_id))]
    )


def _server_filter(
    customer_ids: Sequence[str] | None,
    since: datetime | None,
    until: datetime | None,
    conversation_ids: Sequence[str] | None = None,
) -> qm.Filter | None:
    conditions: list[qm.Condition] = []
    if customer_ids is not None:
        conditions.append(
            qm.FieldCondition(key="customer_id", match=qm.MatchAny(any=list(customer_ids)))
        )
    if conversation_ids is not None:
        conditions.append(
            qm.FieldCondition(key="conversation_id", match=qm.MatchAny(any=list(conversation_ids)))
        )
    if since is not None or until is not None:
        bounds = qm.Range(gte=_seconds(since), lt=_seconds(until))
        conditions.append(qm.FieldCondition(key="sent_at", range=bounds))
    return qm.Filter(must=conditions) if conditions else None


def _server_hit(point: qm.ScoredPoint) -> VectorHit:
    return VectorHit(id=str(point.id), score=point.score, payload=dict(point.payload or {}))
