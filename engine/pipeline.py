"""The processing pipeline: claim unprocessed customer messages, redact, split, embed,
index, classify intents, find stated facts through the surveillance gate, and mark them
processed with their intents and facts in one transaction."""

import logging
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from embeddings.encoder import Encoder, Vectors
from embeddings.sparse import bm25_document
from embeddings.store import VectorPoint, VectorStore
from engine.customers.consent import withdraw_drafts
from engine.db import Database, insert_ignoring
from engine.facts.extract import Extraction, FactExtractor
from engine.facts.optouts import ALL_MARKETING
from engine.intents.model import IntentModel, TrackerModel, tracker_scores
from engine.models import BlockedCandidate, Fact, Message, MessageIntent, Tracker, utcnow
from engine.search.evidence import withheld_from_index
from engine.text.redact import redact
from engine.text.sentences import split_sentences

log = logging.getLogger(__name__)
# Deterministic point ids: the same sentence of the same message is always the same point,
# so a batch that runs again after a crash overwrites instead of duplicating.
POINT_NAMESPACE = uuid.UUID("5b0f9a52-52a4-4a5e-9f0c-6a1d7b1f3c11")
MAX_ATTEMPTS = 5


def point_id(message_id: str, sentence: int) -> str:
    """The vector point id of one sentence of one message."""
    return str(uuid.uuid5(POINT_NAMESPACE, f"{message_id}#{sentence}"))


@dataclass(frozen=True)
class ClaimedMessage:
    """A customer message a worker holds (by lease) for processing."""

    id: int
    message_id: str
    conversation_id: str
    customer_id: str
    text: str
    sent_at: datetime


@dataclass(frozen=True)
class BatchResult:
    """What one batch did."""

    messages: int
    sentences: int
    intents: int  # intents found (each stored once per message)
    facts: int = 0  # kept facts found (each stored once, however often the batch runs)


class Pipeline:
    """Processes customer messages in batches; safe to run in several processes at once."""

    def __init__(
        self,
        db: Database,
        *,
        encoder: Encoder,
        store: VectorStore,
        intents: IntentModel,
        facts: FactExtractor,
        batch_size: int = 64,
        lease: timedelta = timedelta(minutes=5),
    ) -> None:
        self.db = db
        self.encoder = encoder
        self.store = store
        self.intents = intents
        self.facts = facts
        self.batch_size = batch_size
        self.lease = lease
        self._tracker_cache: dict[tuple[str, tuple[str, ...], float], TrackerModel] = {}

    def claim(self, *, limit: int) -> list[ClaimedMessage]:
        """Take up to `limit` pending messages (or ones whose lease ran out) for this worker."""
        now = utcnow()
        with self.db.write() as session:
            ready = or_(
                Message.state == "pending",
                and_(Message.state == "claimed", Message.claimed_at < now - self.lease),
            )
            # SKIP LOCKED lets workers on PostgreSQL claim disjoint batches; SQLite has a
            # single writer and ignores it.
            rows = session.execute(
                select(Message.id, Message.attempts)
                .where(ready)
                .order_by(Message.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            exhausted = [r.id for r in rows if r.attempts >= MAX_ATTEMPTS]
            ids = [r.id for r in rows if r.attempts < MAX_ATTEMPTS]
            if exhausted:
                session.execute(
                    update(Message).where(Message.id.in_(exhausted)).values(state="failed")
                )
                log.error("gave up on %d messages after %d attempts", len(exhausted), MAX_ATTEMPTS)
            if not ids:
                return []
            session.execute(
                update(Message)
                .where(Message.id.in_(ids))
                .values(state="claimed", claimed_at=now, attempts=Message.attempts + 1)
            )
            claimed = session.execute(
                select(
                    Message.id,
                    Message.message_id,
                    Message.conversation_id,
                    Message.customer_id,
                    Message.text,
                    Message.sent_at,
                )
                .where(Message.id.in_(ids))
                .order_by(Message.id)
            ).all()
        return [ClaimedMessage(**row._asdict()) for row in claimed]

    def run_batch(self) -> BatchResult:
        """Claim and process one batch; an empty result means nothing was waiting."""
        self.refresh_trackers()
        messages = self.claim(limit=self.batch_size)
        if not messages:
            return BatchResult(0, 0, 0)
        try:
            return self.process(messages)
        except Exception:
            log.exception("batch of %d failed; processing its messages one by one", len(messages))
        # One bad message must not hold back the others: retry each alone; one that fails
        # alone goes back to the queue, and is given up after MAX_ATTEMPTS.
        sentences = intents = facts = 0
        for message in messages:
            try:
                result = self.process([message])
            except Exception:
                log.exception("message %s failed", message.message_id)
                self._release([message])
                continue
            sentences += result.sentences
            intents += result.intents
            facts += result.facts
        return BatchResult(len(messages), sentences, intents, facts)

    def run_until_idle(
        self, *, on_progress: Callable[[int], None] | None = None, timeout: float | None = None
    ) -> int:
        """Process batches until nothing is waiting; returns how many messages were done."""
        done = 0
        deadline = None if timeout is None else time.monotonic() + timeout
        while deadline is None or time.monotonic() < deadline:
            result = self.run_batch()
            if not result.messages:
                break
            done += result.messages
            if on_progress:
                on_progress(done)
        return done

    def process(self, messages: Sequence[ClaimedMessage]) -> BatchResult:
        """Redact, split, embed, index and classify messages, then record them as processed."""
        redacted = [redact(m.text).text for m in messages]
        owners: list[int] = []
        # Each sentence's place in its message: its point id and the payload's "sentence", by
        # which search finds its words again in the message (the store keeps no text).
        places: list[int] = []
        sentences: list[str] = []
        for index, text in enumerate(redacted):
            for place, sentence in enumerate(split_sentences(text)):
                if withheld_from_index(sentence.text) is not None:
                    # Never embedded, indexed or classified: nothing sensitive is searchable,
                    # quoted, or gives an intent. Its place stays taken, so later sentences keep
                    # theirs.
                    continue
                owners.append(index)
                places.append(place)
                sentences.append(sentence.text)
        vectors = self.encoder.encode(sentences)
        predictions = self.intents.classifier.predict(texts=sentences, vectors=vectors)
        per_tracker = tracker_scores(self.intents.trackers, vectors)
        # Per message, each intent's best score over its sentences.
        found: list[dict[tuple[str, str], float]] = [{} for _ in messages]
        labels: list[list[str]] = [[] for _ in sentences]
        for row, (owner, prediction) in enumerate(zip(owners, predictions, strict=True)):
            hits = [(prediction.label, prediction.score, "builtin")] if prediction.label else []
            hits += [
                (tracker.name, float(scores[row]), "tracker")
                for tracker, scores in per_tracker
                if scores[row] >= tracker.threshold
            ]
            for label, score, source in hits:
                assert label is not None
                key = (label, source)
                found[owner][key] = max(found[owner].get(key, 0.0), score)
                labels[row].append(label)
        points = []
        for row, (owner, place, text) in enumerate(zip(owners, places, sentences, strict=True)):
            message = messages[owner]
            points.append(
                VectorPoint(
                    id=point_id(message.message_id, place),
                    vector=vectors[row],
                    sparse=bm25_document(text),
                    # What filters and grouping need, and no words: an erased customer's words
                    # must not linger in the store's files (their message in SQL has them).
                    payload={
                        "customer_id": message.customer_id,
                        "conversation_id": message.conversation_id,
                        "message_id": message.message_id,
                        "sent_at": message.sent_at.timestamp(),
                        "intents": labels[row],
                        "sentence": place,
                    },
                )
            )
        if points:
            self.store.upsert(points)
        extractions = self.facts.extract(
            redacted, vectors_by_place(len(messages), owners, places, vectors)
        )
        with self.db.write() as session:
            live = _lock_stored(session, messages)
            if len(live) < len(messages):
                # A customer was erased while this batch was in flight: record nothing of
                # theirs, and take back the vectors just written for them (below).
                keep = [i for i, m in enumerate(messages) if m.id in live]
                messages = [messages[i] for i in keep]
                redacted = [redacted[i] for i in keep]
                found = [found[i] for i in keep]
                extractions = [extractions[i] for i in keep]
            if any(live[m.id] != m.customer_id for m in messages):
                # Profiles were merged while this batch was in flight: its facts, intents and
                # points go under the customer each message belongs to now.
                messages = [replace(m, customer_id=live[m.id]) for m in messages]
                owner_of = {m.message_id: m.customer_id for m in messages}
                self.store.upsert(
                    [
                        replace(p, payload={**p.payload, "customer_id": owner_of[mid]})
                        for p in points
                        if (mid := p.payload["message_id"]) in owner_of
                        and p.payload["customer_id"] != owner_of[mid]
                    ]
                )
            intents = self._record(session, messages, redacted, found) if messages else 0
            facts = self._record_facts(session, messages, extractions)
            unsubscribed = {
                m.customer_id
                for m, extraction in zip(messages, extractions, strict=True)
                if any(
                    f.category == "opt_out" and f.value == ALL_MARKETING for f in extraction.facts
                )
            }
            # "Unsubscribe me" in a chat takes the customer's drafts out of the review queue.
            withdraw_drafts(
                session, customer_ids=unsubscribed, actor="chat", reason="asked in a chat"
            )
            recorded = {m.message_id for m in messages}
            erased = [p.id for p in points if p.payload["message_id"] not in recorded]
            # Before the commit: a crash in between leaves the batch to run again (and find
            # the messages gone again), never vectors of an erased customer.
            if erased:
                self.store.delete_points(erased)
        if erased:
            # Their words must not stay in the store's files either (as forget_customer does).
            self.store.purge()
        return BatchResult(len(messages), len(sentences), intents, facts)

    def _record(
        self,
        session: Session,
        messages: Sequence[ClaimedMessage],
        redacted: Sequence[str],
        found: Sequence[dict[tuple[str, str], float]],
    ) -> int:
        """Store intents and mark the messages processed, in the caller's transaction, with one
        statement for all the batch's intents and one for all its messages."""
        now = utcnow()
        intents = [
            {
                "message_id": message.id,
                "customer_id": message.customer_id,
                "intent": intent,
                "score": round(score, 4),
                "sent_at": message.sent_at,
                "source": source,
                "created_at": now,
            }
            for message, per_message in zip(messages, found, strict=True)
            for (intent, source), score in per_message.items()
        ]
        if intents:
            session.execute(
                insert_ignoring(session, MessageIntent, key=["message_id", "intent"]), intents
            )
        # An UPDATE per primary key, sent as one executemany.
        session.execute(
            update(Message),
            [
                {
                    "id": message.id,
                    "state": "processed",
                    "processed_at": now,
                    "redacted_text": text,
                    "claimed_at": None,
                }
                for message, text in zip(messages, redacted, strict=True)
            ],
        )
        return len(intents)

    def _record_facts(
        self,
        session: Session,
        messages: Sequence[ClaimedMessage],
        extractions: Sequence[Extraction],
    ) -> int:
        """Store kept facts and blocked counts, in the caller's transaction, one statement each
        for the batch; a batch that runs again adds nothing (both are keyed on the message)."""
        now = utcnow()
        facts = [
            {
                "customer_id": message.customer_id,
                "message_id": message.id,
                "category": fact.category,
                "value": fact.value[:300],
                "quote": fact.quote,
                "span_start": fact.start,
                "span_end": fact.end,
                "said_at": message.sent_at,
                "extractor": fact.rule[:200],
                "created_at": now,
            }
            for message, extraction in zip(messages, extractions, strict=True)
            for fact in extraction.facts
        ]
        blocked = [
            {
                "customer_id": message.customer_id,
                "message_id": message.id,
                "reason": reason,
                "count": count,
            }
            for message, extraction in zip(messages, extractions, strict=True)
            for reason, count in extraction.blocked.items()
        ]
        if facts:
            session.execute(
                insert_ignoring(session, Fact, key=["message_id", "category", "value"]), facts
            )
        if blocked:
            session.execute(
                insert_ignoring(session, BlockedCandidate, key=["message_id", "reason"]), blocked
            )
        return len(facts)

    def release_claims(self) -> int:
        """Hand every claimed message back to the queue; for a worker that knows it is the only
        one (the embedded vector store admits one process), so claims left are a crashed run's
        and need not wait out their lease. Returns how many."""
        with self.db.write() as session:
            released = session.execute(
                update(Message).where(Message.state == "claimed").values(state="pending")
            )
        count = int(getattr(released, "rowcount", 0) or 0)
        if count:
            log.info("took back %d messages a stopped worker had claimed", count)
        return count

    def _release(self, messages: Sequence[ClaimedMessage]) -> None:
        """Hand messages back to the queue after a failure (their attempts stay counted)."""
        with self.db.write() as session:
            session.execute(
                update(Message)
                .where(Message.id.in_([m.id for m in messages]), Message.state == "claimed")
                .values(state="pending", claimed_at=None)
            )

    def refresh_trackers(self) -> None:
        """Load the trackers from SQL, embedding the examples of new or changed ones only."""
        with self.db.read() as session:
            rows = session.execute(
                select(Tracker.name, Tracker.examples, Tracker.threshold).order_by(Tracker.id)
            ).all()
        models = []
        for name, examples, threshold in rows:
            key = (name, tuple(examples), float(threshold))
            if key not in self._tracker_cache:
                self._tracker_cache[key] = TrackerModel(
                    name=name, vectors=self.encoder.encode(list(examples)), threshold=threshold
                )
            models.append(self._tracker_cache[key])
        self.intents.trackers = models


def vectors_by_place(
    messages: int, owners: Sequence[int], places: Sequence[int], vectors: Vectors
) -> list[dict[int, Vectors]]:
    """Each message's sentence vectors by the sentence's place in it, as the fact scorer reads
    them (a sentence withheld from the index has none)."""
    by_place: list[dict[int, Vectors]] = [{} for _ in range(messages)]
    for row, (owner, place) in enumerate(zip(owners, places, strict=True)):
        by_place[owner][place] = vectors[row]
    return by_place


def _lock_stored(session: Session, messages: Sequence[ClaimedMessage]) -> dict[int, str]:
    """The batch's messages still stored, with the customer each belongs to now (a merge may
    have moved it), locked until the caller commits, so an erasure or a merge running alongside
    either waits for this batch or is already done. In id order, as a merge locks them."""
    rows = session.execute(
        select(Message.id, Message.customer_id)
        .where(Message.id.in_([m.id for m in messages]))
        .order_by(Message.id)
        .with_for_update()
    )
    return {row.id: row.customer_id for row in rows}
