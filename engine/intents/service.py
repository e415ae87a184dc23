"""Intents: the built-in taxonomy's classifier, custom trackers, and per-customer summaries."""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, case, func, literal, select
from sqlalchemy.orm import Session

from embeddings.encoder import Encoder
from embeddings.store import VectorStore
from engine.db import in_chunks, insert_ignoring_conflicts
from engine.errors import ConflictError, EngineError, InvalidInput, NotFoundError
from engine.intents.classifier import IntentClassifier
from engine.intents.model import IntentModel, TrackerModel
from engine.intents.taxonomy import BUILTIN_INTENTS, SMALL_TALK
from engine.models import Customer, Message, MessageIntent, Tracker, utcnow

TRACKER_NAME = re.compile(r"^[a-z][a-z0-9_]{1,63}$")
# Cosine similarity to a tracker example that counts as a match: paraphrases of an example
# score 0.6-0.8 with MiniLM, unrelated sentences below 0.3.
DEFAULT_TRACKER_THRESHOLD = 0.6
# How many stored sentences one example may match when a new tracker scans the index.
TRACKER_SCAN_LIMIT = 10_000


class InvalidTracker(EngineError):
    """A tracker definition we cannot accept."""

    code = "invalid"

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


def build_intent_model(encoder: Encoder, *, seed: int = 0) -> IntentModel:
    """Fit the built-in taxonomy's classifier and calibrate its "none of these" on small talk."""
    texts = [example for intent in BUILTIN_INTENTS for example in intent.examples]
    labels = [intent.name for intent in BUILTIN_INTENTS for _ in intent.examples]
    vectors = encoder.encode(texts)
    classifier = IntentClassifier.fit(texts=texts, vectors=vectors, labels=labels, seed=seed)
    classifier.calibrate(
        in_scope_texts=texts,
        in_scope_vectors=vectors,
        out_of_scope_texts=list(SMALL_TALK),
        out_of_scope_vectors=encoder.encode(list(SMALL_TALK)),
    )
    return IntentModel(classifier=classifier)


@dataclass(frozen=True)
class IntentCount:
    """An intent with how many messages and customers carry it."""

    name: str
    kind: str
    description: str
    messages: int
    customers: int


@dataclass(frozen=True)
class CustomerIntent:
    """One customer's history with one intent: how often, and when last."""

    customer_id: str
    first_name: str | None
    intent: str
    count: int
    last_asked: datetime
    best_score: float


def _intent_counts(session: Session, *, trackers_only: bool = False) -> dict[str, tuple[int, int]]:
    """Per intent, how many messages and how many customers were found saying it."""
    query = select(
        MessageIntent.intent,
        func.count(MessageIntent.id),
        func.count(func.distinct(MessageIntent.customer_id)),
    ).group_by(MessageIntent.intent)
    if trackers_only:
        query = query.where(MessageIntent.intent.in_(select(Tracker.name)))
    return {
        name: (int(messages), int(customers))
        for name, messages, customers in session.execute(query)
    }


def list_intents(session: Session) -> list[IntentCount]:
    """Built-in and custom intents, with message and customer counts."""
    counts = _intent_counts(session)
    rows = [
        IntentCount(i.name, "builtin", i.description, *counts.get(i.name, (0, 0)))
        for i in BUILTIN_INTENTS
    ]
    for tracker in session.scalars(select(Tracker).order_by(Tracker.id)):
        rows.append(
            IntentCount(
                tracker.name, "tracker", tracker.description, *counts.get(tracker.name, (0, 0))
            )
        )
    return rows


def intent_names(session: Session) -> set[str]:
    """Every intent name known: built-in and trackers."""
    return {i.name for i in BUILTIN_INTENTS} | set(session.scalars(select(Tracker.name)))


def intent_customers(session: Session, *, name: str, limit: int = 100) -> list[CustomerIntent]:
    """Customers who expressed an intent, most recent first."""
    if name not in intent_names(session):
        raise NotFoundError(f"no intent named {name!r}")
    last = func.max(MessageIntent.sent_at)
    rows = session.execute(
        select(
            MessageIntent.customer_id,
            Customer.first_name,
            func.count(MessageIntent.id),
            last,
            func.max(MessageIntent.score),
        )
        .join(Customer, Customer.id == MessageIntent.customer_id)
        .where(MessageIntent.intent == name)
        .group_by(MessageIntent.customer_id, Customer.first_name)
        .order_by(last.desc())
        .limit(limit)
    ).all()
    return [
        CustomerIntent(cid, first, name, count, when, float(score))
        for cid, first, count, when, score in rows
    ]


def create_tracker(
    session: Session,
    *,
    name: str,
    description: str,
    examples: list[str],
    threshold: float = DEFAULT_TRACKER_THRESHOLD,
) -> Tracker:
    """Define a custom intent; it is scored over new messages by the pipeline from now on."""
    if not TRACKER_NAME.match(name):
        raise InvalidTracker(
            "a tracker name is 2-64 lowercase letters, digits or underscores", field="name"
        )
    if name in intent_names(session):
        raise ConflictError(f"an intent named {name!r} already exists", field="name")
    cleaned = [e.strip() for e in examples if e.strip()]
    if not cleaned:
        raise InvalidTracker("give at least one example phrase", field="examples")
    tracker = Tracker(
        name=name,
        description=description.strip(),
        examples=cleaned,
        threshold=threshold,
        created_at=utcnow(),
    )
    session.add(tracker)
    session.flush()
    return tracker


def score_tracker_over_stored(
    session: Session, *, tracker: Tracker, encoder: Encoder, store: VectorStore
) -> int:
    """Score a tracker over every message already indexed, through the vector index (no
    re-embedding of messages); returns how many messages matched."""
    model = TrackerModel(
        name=tracker.name, vectors=encoder.encode(tracker.examples), threshold=tracker.threshold
    )
    best: dict[str, float] = {}
    for vector in model.vectors:
        for hit in store.search(vector, limit=TRACKER_SCAN_LIMIT, score_threshold=model.threshold):
            message_id = str(hit.payload["message_id"])
            best[message_id] = max(best.get(message_id, 0.0), hit.score)
    if not best:
        return 0
    ids = list(best)
    rows = [
        row
        for chunk in in_chunks(ids)
        for row in session.execute(
            select(Message.id, Message.message_id, Message.customer_id, Message.sent_at).where(
                Message.message_id.in_(chunk)
            )
        )
    ]
    now = utcnow()
    for row in rows:
        insert_ignoring_conflicts(
            session,
            MessageIntent,
            {
                "message_id": row.id,
                "customer_id": row.customer_id,
                "intent": tracker.name,
                "score": round(best[row.message_id], 4),
                "sent_at": row.sent_at,
                "source": "tracker",
                "created_at": now,
            },
            key=["message_id", "intent"],
        )
    return len(rows)


@dataclass(frozen=True)
class IntentWeek:
    """How many customers, and how many of their messages, carried one intent in one week."""

    intent: str
    week_start: date
    customers: int
    messages: int


@dataclass(frozen=True)
class TrackerSummary:
    """A tracker as defined, with how many messages and customers carry it so far."""

    name: str
    description: str
    examples: list[str]
    created_at: datetime
    messages: int
    customers: int


def week_starts(*, as_of: date, weeks: int = 12) -> list[date]:
    """The first days of the `weeks` seven-day weeks that end on `as_of`, oldest first."""
    if weeks < 1:
        raise InvalidInput("must be at least 1", field="weeks")
    last = as_of - timedelta(days=6)
    return [last - timedelta(weeks=weeks - 1 - n) for n in range(weeks)]


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def intent_weeks(session: Session, *, as_of: date, weeks: int = 12) -> list[IntentWeek]:
    """Customers and messages per intent per week over the `weeks` seven-day weeks ending on
    `as_of` (the whole day, in UTC), from customer turns only; a week in which an intent was
    not expressed has no row. Ordered by intent, then week."""
    starts = week_starts(as_of=as_of, weeks=weeks)
    bounds = [_midnight(day) for day in starts[1:]]
    # The week number is computed in SQL and grouped on in an outer query: PostgreSQL cannot
    # match a CASE with bound parameters in the select list to the same CASE in GROUP BY.
    week: ColumnElement[int] = (
        case(
            *[(MessageIntent.sent_at < bound, n) for n, bound in enumerate(bounds)],
            else_=len(bounds),
        )
        if bounds
        else literal(0)  # one week: a CASE needs at least one WHEN
    )
    tagged = (
        select(
            MessageIntent.intent.label("intent"),
            MessageIntent.customer_id.label("customer_id"),
            week.label("week"),
        )
        .join(Message, Message.id == MessageIntent.message_id)
        # Agent and bot turns never carry intents about the customer; the filter keeps it so.
        .where(
            Message.role == "customer",
            MessageIntent.sent_at >= _midnight(starts[0]),
            MessageIntent.sent_at < _midnight(as_of + timedelta(days=1)),
        )
        .subquery()
    )
    rows = session.execute(
        select(
            tagged.c.intent,
            tagged.c.week,
            func.count(func.distinct(tagged.c.customer_id)),
            func.count(),
        )
        .group_by(tagged.c.intent, tagged.c.week)
        .order_by(tagged.c.intent, tagged.c.week)
    ).all()
    return [
        IntentWeek(intent, starts[int(n)], int(customers), int(messages))
        for intent, n, customers, messages in rows
    ]


def list_trackers(session: Session) -> list[TrackerSummary]:
    """Every tracker, oldest first, with its message and customer counts so far."""
    counts = _intent_counts(session, trackers_only=True)
    return [
        TrackerSummary(
            name=t.name,
            description=t.description,
            examples=list(t.examples),
            created_at=t.created_at,
            messages=counts.get(t.name, (0, 0))[0],
            customers=counts.get(t.name, (0, 0))[1],
        )
        for t in session.scalars(select(Tracker).order_by(Tracker.id))
    ]
