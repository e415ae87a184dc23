"""The pipeline: customer turns only, PII redacted first, idempotent, intents recorded."""

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select, update

from chat_ingest.schemas import TranscriptCreate
from chat_ingest.service import store_transcript
from engine.db import Database
from engine.models import Message, MessageIntent, utcnow
from engine.pipeline import point_id
from engine.runtime import Services
from engine.text.sentences import split_sentences

PII = ("ana@example.com", "555-201-8834", "4242 4242 4242 4242", "42 Elm Street")
# What a point's payload holds: what filters and grouping need, and no text.
PAYLOAD_FIELDS = {"customer_id", "conversation_id", "message_id", "sent_at", "intents", "sentence"}


def transcript(conversation: str, customer: str, *turns: tuple[str, str]) -> TranscriptCreate:
    return TranscriptCreate.model_validate(
        {
            "conversation_id": conversation,
            "customer_id": customer,
            "messages": [
                {
                    "id": f"{conversation}-{i}",
                    "role": role,
                    "text": text,
                    "sent_at": f"2026-11-0{1 + i % 9}T10:00:00Z",
                }
                for i, (role, text) in enumerate(turns)
            ],
        }
    )


def load(db: Database, *transcripts: TranscriptCreate) -> None:
    with db.write() as session:
        for t in transcripts:
            store_transcript(session, transcript=t)


def all_payloads(services: Services) -> list[dict[str, Any]]:
    return [hit.payload for hit in services.store.scroll()]


def test_only_customer_turns_are_embedded_with_pii_redacted(services: Services) -> None:
    load(
        services.db,
        transcript(
            "c1",
            "u1",
            ("bot", "Hi! I'm Kettle. How can I help? I see you're a pro photographer."),
            ("customer", "my card 4242 4242 4242 4242 got declined, call me on 555-201-8834"),
            ("agent", "Sorry about that! Sounds like you run a cafe."),
            (
                "customer",
                "email ana@example.com or ship to 42 Elm Street. How much is the Studio plan?",
            ),
        ),
    )
    done = services.pipeline().run_until_idle()
    assert done == 2
    payloads = all_payloads(services)
    assert {p["message_id"] for p in payloads} == {"c1-1", "c1-3"}
    # The store keeps no words at all: search reads them from the redacted messages.
    assert all(set(p) == PAYLOAD_FIELDS for p in payloads)
    with services.db.read() as session:
        stored = dict(session.execute(select(Message.message_id, Message.redacted_text)).all())
        states = set(session.scalars(select(Message.state)))
    assert stored["c1-0"] is None and not any(s in (stored["c1-3"] or "") for s in PII)
    text = f"{stored['c1-1']} {stored['c1-3']}"
    assert "[card]" in text and "[phone]" in text and "[email]" in text and "[address]" in text
    assert states == {"processed", "skipped"}


def test_long_messages_are_split_into_sentences(services: Services) -> None:
    load(
        services.db,
        transcript(
            "c1", "u1", ("customer", "Hi there. I run a bakery. The grinder keeps jamming!")
        ),
    )
    services.pipeline().run_until_idle()
    payloads = sorted(all_payloads(services), key=lambda p: p["sentence"])
    assert [p["sentence"] for p in payloads] == [0, 1, 2]
    with services.db.read() as session:
        text = session.scalar(select(Message.redacted_text).where(Message.message_id == "c1-0"))
    # The payload's sentence index picks the sentence out of the stored message.
    assert [split_sentences(text or "")[p["sentence"]].text for p in payloads] == [
        "Hi there.",
        "I run a bakery.",
        "The grinder keeps jamming!",
    ]


def test_sensitive_sentences_are_never_indexed_and_keep_their_places(services: Services) -> None:
    """A sentence the gate would block as sensitive gets no vector and no intent; the
    sentences after it keep their places (point id and payload index), so quotes still match."""
    load(
        services.db,
        transcript(
            "c1",
            "u1",
            (
                "customer",
                "I run a bakery. Money is tight since I lost my job, can I get a refund? "
                "The grinder keeps jamming!",
            ),
        ),
        transcript("c2", "u2", ("customer", "I've been depressed and need a refund please.")),
    )
    result = services.pipeline().run_until_idle()
    assert result == 2
    points = {hit.id: hit.payload for hit in services.store.scroll()}
    assert sorted(p["sentence"] for p in points.values()) == [0, 2]
    assert set(points) == {point_id("c1-0", 0), point_id("c1-0", 2)}
    with services.db.read() as session:
        intents = {
            (m, i)
            for m, i in session.execute(
                select(Message.message_id, MessageIntent.intent).join(
                    Message, Message.id == MessageIntent.message_id
                )
            )
        }
    # The refund asked for inside the sensitive sentences gives no intent either.
    assert not any(intent == "returns_refunds" for _, intent in intents)
    assert not any(m == "c2-0" for m, _ in intents)


def test_intents_are_recorded_and_small_talk_gets_none(services: Services) -> None:
    load(
        services.db,
        transcript("c1", "u1", ("customer", "how much does the Studio plan cost per month?")),
        transcript("c2", "u2", ("customer", "thanks, bye!")),
        transcript(
            "c3", "u3", ("customer", "I want to cancel my subscription, it's too much coffee")
        ),
    )
    services.pipeline().run_until_idle()
    with services.db.read() as session:
        found = {
            (cid, intent)
            for cid, intent in session.execute(
                select(MessageIntent.customer_id, MessageIntent.intent)
            )
        }
    assert ("u1", "pricing_interest") in found
    assert ("u3", "cancellation_risk") in found
    assert not any(cid == "u2" for cid, _ in found)


def test_rerunning_a_batch_after_a_crash_duplicates_nothing(services: Services) -> None:
    load(
        services.db,
        transcript(
            "c1",
            "u1",
            ("customer", "how much is shipping to Canada?"),
            ("customer", "and can I get a discount code?"),
        ),
    )
    pipeline = services.pipeline()
    pipeline.run_until_idle()
    points_before = services.store.count()
    with services.db.read() as session:
        intents_before = session.scalar(select(func.count()).select_from(MessageIntent))
    # Simulate a worker that died after indexing but before its commit: the lease ran out,
    # so the messages are claimable again and get processed a second time.
    with services.db.write() as session:
        session.execute(
            update(Message)
            .where(Message.role == "customer")
            .values(state="claimed", claimed_at=utcnow() - timedelta(hours=1))
        )
    assert pipeline.run_until_idle() == 2
    assert services.store.count() == points_before
    with services.db.read() as session:
        assert session.scalar(select(func.count()).select_from(MessageIntent)) == intents_before
        assert set(session.scalars(select(Message.attempts))) == {2}


def test_a_message_that_keeps_failing_is_given_up_alone(services: Services) -> None:
    load(services.db, transcript("c1", "u1", ("customer", "first"), ("customer", "second")))
    pipeline = services.pipeline()
    real_encode = services.encoder.encode

    class Exploding:
        dimension = services.encoder.dimension
        model_id = "exploding"

        def encode(self, texts: Any, *, batch_size: int = 64) -> Any:
            if any("second" in t for t in texts):
                raise RuntimeError("boom")
            return real_encode(texts)

    pipeline.encoder = Exploding()
    for _ in range(6):
        pipeline.run_batch()
    with services.db.read() as session:
        states = dict(session.execute(select(Message.message_id, Message.state)).all())
    assert states == {"c1-0": "processed", "c1-1": "failed"}


def test_trackers_score_new_messages(services: Services) -> None:
    from engine.intents.service import create_tracker

    with services.db.write() as session:
        create_tracker(
            session,
            name="oat_milk",
            description="asks about blends that go well with oat milk",
            examples=[
                "which coffee goes best with oat milk?",
                "do you have an oat-milk friendly blend",
            ],
        )
    load(
        services.db,
        transcript(
            "c1",
            "u1",
            ("customer", "what beans would you pick for oat milk lattes?"),
            ("customer", "my parcel is late again"),
        ),
    )
    services.pipeline().run_until_idle()
    with services.db.read() as session:
        rows = session.execute(
            select(Message.message_id, MessageIntent.intent, MessageIntent.source).join(
                Message, Message.id == MessageIntent.message_id
            )
        ).all()
    assert ("c1-0", "oat_milk", "tracker") in rows
    assert not any(m == "c1-1" and i == "oat_milk" for m, i, _ in rows)
