"""The pipeline's speed on the cucom e-commerce chats, against the bare encoder.

Loads the 6,000 conversations of ../shared/data/cucom-ecommerce into a fresh embedded home
(ingest), runs the worker until the backlog is empty, and, in the same run, times the bare
encoder on the same sentences. Prints customer messages/s end to end, the ratio of the
pipeline's sentence rate to the bare encoder's (goal: 0.75 or more), and the share of the
pipeline's time spent finding stated facts (spaCy parse, rules, gate).

    .venv/bin/python bench/pipeline.py [--conversations 6000]
"""

import argparse
import gzip
import json
import tempfile
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from chat_ingest.jsonl import import_file
from engine.facts.extract import Extraction, may_hold_a_fact
from engine.models import BlockedCandidate, Fact
from engine.runtime import build_services
from engine.settings import Settings
from engine.text.redact import redact
from engine.text.sentences import split_sentences

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "cucom-ecommerce"
ROLES = {"user": "customer", "agent": "agent"}


def to_transcripts(source: Path, target: Path, *, limit: int) -> list[str]:
    """Write cucom conversations as our transcripts; return the customer texts."""
    texts: list[str] = []
    start = datetime(2026, 1, 1, tzinfo=UTC)
    with gzip.open(source, "rt") as lines, target.open("w") as out:
        for number, line in enumerate(lines):
            if number >= limit:
                break
            chat = json.loads(line)
            messages = []
            for turn_number, turn in enumerate(chat["turns"]):
                role = ROLES[turn["role"].lower()]  # about 4% spell it User/Agent
                sent_at = start + timedelta(minutes=number, seconds=turn_number * 20)
                messages.append(
                    {
                        "id": f"{chat['id']}-{turn_number}",
                        "role": role,
                        "text": turn["content"],
                        "sent_at": sent_at.isoformat(),
                    }
                )
                if role == "customer":
                    texts.append(turn["content"])
            transcript = {
                "conversation_id": chat["id"],
                "customer_id": chat["id"],
                "source": "cucom",
                "messages": messages,
            }
            out.write(json.dumps(transcript) + "\n")
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=6000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-pipeline-") as tmp:
        home = Path(tmp)
        settings = Settings(personalize_home=home / "home", database_url=None, qdrant_url=None)
        texts = to_transcripts(
            DATA / "conversations.jsonl.gz", home / "t.jsonl", limit=args.conversations
        )
        services = build_services(settings)
        try:
            started = time.perf_counter()
            summary = import_file(services.db, path=home / "t.jsonl", kind="transcripts")
            ingest_seconds = time.perf_counter() - started
            pipeline = services.pipeline()
            facts_seconds = 0.0
            extract = services.facts.extract

            def timed_extract(batch: Sequence[str]) -> list[Extraction]:
                nonlocal facts_seconds
                began = time.perf_counter()
                try:
                    return extract(batch)
                finally:
                    facts_seconds += time.perf_counter() - began

            services.facts.extract = timed_extract  # type: ignore[method-assign,assignment]
            started = time.perf_counter()
            processed = pipeline.run_until_idle()
            pipeline_seconds = time.perf_counter() - started
            with services.db.read() as session:
                kept = session.scalar(select(func.count(Fact.id)))
                blocked = session.scalar(select(func.sum(BlockedCandidate.count)))
            points = services.store.count()
            sentences = [s.text for t in texts for s in split_sentences(redact(t).text)]
            parsed = sum(1 for sentence in sentences if may_hold_a_fact(sentence))
            started = time.perf_counter()
            services.encoder.encode(sentences)
            encoder_seconds = time.perf_counter() - started
        finally:
            services.close()
    print(f"conversations: {summary.imported} imported, {summary.rejected} rejected")
    print(
        f"ingest: {summary.imported / ingest_seconds:,.0f} conversations/s ({ingest_seconds:.1f} s)"
    )
    print(f"pipeline: {processed} customer messages, {points} sentences, {pipeline_seconds:.1f} s")
    print(
        f"pipeline rate: {processed / pipeline_seconds:,.1f} messages/s, "
        f"{points / pipeline_seconds:,.1f} sentences/s"
    )
    print(
        f"bare encoder: {len(sentences)} sentences in {encoder_seconds:.1f} s: "
        f"{len(sentences) / encoder_seconds:,.1f} sentences/s"
    )
    print(
        f"facts: {facts_seconds:.1f} s, {facts_seconds / pipeline_seconds:.0%} of the pipeline; "
        f"{parsed} of {len(sentences)} sentences parsed ({parsed / len(sentences):.0%}); "
        f"{kept} facts kept, {blocked} candidates blocked"
    )
    ratio = (points / pipeline_seconds) / (len(sentences) / encoder_seconds)
    print(f"pipeline / bare encoder: {ratio:.2f} (goal: 0.75 or more)")


if __name__ == "__main__":
    main()
