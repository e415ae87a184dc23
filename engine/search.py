""" "Which customers are asking about X?": message vectors grouped by customer, with quotes."""

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt
from sqlalchemy import select
from sqlalchemy.orm import Session

from embeddings.encoder import Encoder
from embeddings.sparse import bm25_query
from embeddings.store import VectorHit, VectorStore
from engine.models import Customer

Mode = Literal["dense", "hybrid"]
Vector = npt.NDArray[np.float64]
# A sentence's relevance is half its own cosine similarity to the query and half the mean
# similarity of its conversation's customer sentences: on the labelled set in
# tests/data/search_eval (bench/search_quality.py) that found more of the expected customers
# than the sentence alone with fewer unrelated ones (recall@10 0.41 against 0.33).
CONTEXT_WEIGHT = 0.5
# The relevance below which a sentence is not evidence at all: on that set, the lowest that
# keeps unrelated customers under one per query.
RELEVANCE_THRESHOLD = 0.29
EVIDENCE_PER_CUSTOMER = 3
# Sentences fetched per customer asked for: customers with many matching sentences
# would otherwise crowd others out of the candidate pool.
CANDIDATES_PER_CUSTOMER = 20


@dataclass(frozen=True)
class Evidence:
    """One sentence a customer wrote that matches the query."""

    text: str
    score: float
    message_id: str
    conversation_id: str
    sent_at: datetime


@dataclass(frozen=True)
class CustomerMatch:
    """A customer asking about the query, how strongly, and in their own words."""

    customer_id: str
    first_name: str | None
    score: float
    matches: int
    evidence: list[Evidence] = field(default_factory=list)


def search_customers(
    session: Session,
    *,
    query: str,
    encoder: Encoder,
    store: VectorStore,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 20,
    threshold: float = RELEVANCE_THRESHOLD,
    mode: Mode = "dense",
) -> list[CustomerMatch]:
    """Customers whose own messages match the query, best first, with up to 3 quotes each."""
    vector = np.asarray(encoder.encode([focus_query(query)])[0], dtype=np.float64)
    pool = max(200, limit * CANDIDATES_PER_CUSTOMER)
    dense = store.search(vector, limit=pool, since=since, until=until)
    if mode == "hybrid":
        # Keyword matches join the candidates; fusion ranks by rank, not similarity, so
        # relevance still comes from the dense score (a fused hit outside the dense pool is
        # scored like one at its bottom).
        similarity = {h.id: h.score for h in dense}
        floor = min(similarity.values(), default=0.0)
        fused = store.search_hybrid(vector, bm25_query(query), limit=pool, since=since, until=until)
        extra = [
            VectorHit(id=h.id, score=floor, payload=h.payload)
            for h in fused
            if h.id not in similarity
        ]
        dense = dense + extra
    # A conversation's mean never exceeds its best sentence, so a conversation whose best
    # sentence is below the threshold cannot contribute: no need to fetch its context.
    best: dict[str, float] = {}
    for hit in dense:
        key = str(hit.payload["conversation_id"])
        best[key] = max(best.get(key, hit.score), hit.score)
    candidates = [h for h in dense if best[str(h.payload["conversation_id"])] >= threshold]
    hits = [
        h
        for h in in_context(store, vector=vector, hits=candidates, since=since, until=until)
        if h.score >= threshold
    ]
    # A customer ranks where their best sentence does.
    hits.sort(key=lambda h: -h.score)
    grouped: dict[str, list[VectorHit]] = {}
    for hit in hits:
        grouped.setdefault(str(hit.payload["customer_id"]), []).append(hit)
    ranked = list(grouped.items())[:limit]
    names = dict(
        session.execute(
            select(Customer.id, Customer.first_name).where(Customer.id.in_([c for c, _ in ranked]))
        ).all()
    )
    return [
        CustomerMatch(
            customer_id=customer_id,
            first_name=names.get(customer_id),
            score=round(max(h.score for h in customer_hits), 4),
            matches=len({h.payload["message_id"] for h in customer_hits}),
            evidence=_evidence(customer_hits),
        )
        for customer_id, customer_hits in ranked
    ]


def in_context(
    store: VectorStore,
    *,
    vector: Vector,
    hits: list[VectorHit],
    since: datetime | None = None,
    until: datetime | None = None,
) -> list[VectorHit]:
    """Each hit rescored with the conversation it was said in: a blend of the sentence's
    similarity and the mean similarity of its conversation's sentences. "the Encore I got in
    the spring" is about a noisy grinder only next to "it got really loud and clunky"."""
    conversations = sorted({str(h.payload["conversation_id"]) for h in hits})
    # One filtered search scores every sentence of those conversations; no vectors leave the
    # store (fetching and converting them cost several times as much). The same time window
    # as the hits, or a sentence outside it could lift them.
    scores = store.conversation_scores(
        vector, conversation_ids=conversations, since=since, until=until
    )
    rescored = []
    for hit in hits:
        context = scores.get(str(hit.payload["conversation_id"]))
        mean = sum(context) / len(context) if context else hit.score
        score = (1 - CONTEXT_WEIGHT) * hit.score + CONTEXT_WEIGHT * mean
        rescored.append(VectorHit(id=hit.id, score=score, payload=hit.payload))
    return rescored


_MARKETER_PREFIX = re.compile(
    r"^\s*(?:(?:which|what|any|all|the)\s+)?"
    r"(?:customers?|people|subscribers?|users?|buyers?|clients?|shoppers?|folks|who)\b"
    r"(?:\s+(?:whose|who(?:'s|\s+is|\s+are)?|that|are|is)\b)?"
    r"(?:\s+(?:asking|talking|complaining|writing|chatting)(?:\s+(?:about|for))?)?\s*",
    re.IGNORECASE,
)


# A marketer writes about customers in the third person; customers write about themselves.
_FIRST_PERSON = {
    "they": "I",
    "they're": "I'm",
    "theyre": "I'm",
    "their": "my",
    "theirs": "mine",
    "them": "me",
    "themselves": "myself",
}
_THIRD_PERSON = re.compile(
    r"\b(?:they're|theyre|they|their|theirs|themselves|them)\b", re.IGNORECASE
)


def focus_query(query: str) -> str:
    """Word the query as a customer would: drop the marketer's framing ("customers who are
    asking about ...") and speak in the first person ("their order" -> "my order"). Both
    pull the query's vector toward what customers wrote (bench/search_quality.py)."""
    focused = _MARKETER_PREFIX.sub("", query, count=1).strip(" ?.")
    focused = _THIRD_PERSON.sub(lambda m: _FIRST_PERSON[m.group(0).lower()], focused)
    return focused or query


def _evidence(hits: list[VectorHit]) -> list[Evidence]:
    """The best few sentences, one per message."""
    quotes: list[Evidence] = []
    seen: set[str] = set()
    for hit in sorted(hits, key=lambda h: -h.score):
        message_id = str(hit.payload["message_id"])
        if message_id in seen:
            continue
        seen.add(message_id)
        quotes.append(
            Evidence(
                text=str(hit.payload["text"]),
                score=round(hit.score, 4),
                message_id=message_id,
                conversation_id=str(hit.payload["conversation_id"]),
                sent_at=datetime.fromtimestamp(float(hit.payload["sent_at"]), tz=UTC),
            )
        )
        if len(quotes) == EVIDENCE_PER_CUSTOMER:
            break
    return quotes
