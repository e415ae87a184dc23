"""Search on the development split of the training pairs, end to end: where search's
settings are chosen (never on tests/data/search_eval or search_blind).

Each customer message of the six development businesses of `training/search/pairs.jsonl`
(every positive and customer-said hard negative) becomes a customer with one chat (a greeting,
the message, an agent's answer, thanks); each question expects the customers who wrote its
positives. The real pipeline indexes them, and the real search answers, with the base encoder
on the question and with a query side trained without these businesses, over a sweep of the
weight of the conversation, relevance thresholds and margins under the best customer:
recall@10 and unrelated customers per question, short and long.

    .venv/bin/python bench/search_dev.py
"""

import json
import tempfile
from pathlib import Path

from chat_ingest.jsonl import import_file
from embeddings.encoder import Encoder, SentenceTransformerEncoder
from embeddings.query_model import (
    SEED,
    QuerySettings,
    SearchPair,
    dev_split,
    document_vectors,
    load_pairs,
    train_query_model,
)
from engine.evals.search import LabelledQuery
from engine.runtime import Services, build_services
from engine.search import service
from engine.search.service import RELEVANCE_THRESHOLD, search_customers
from engine.settings import Settings

THRESHOLDS = tuple(round(0.20 + 0.02 * step, 2) for step in range(21))  # 0.20 .. 0.60
MARGINS = (None, 0.04, 0.06, 0.08, 0.10, 0.12, 0.15)  # None: the threshold alone
GOAL_UNRELATED = 0.5
K = 10
Ranked = list[tuple[str, float]]  # (customer, score), best first
GREETINGS = ("hi", "hello!", "hey there", "hiya, quick one")
THANKS = ("thanks!", "ok great, thank you", "cheers", "perfect, thanks so much")
CONTEXT_WEIGHTS = (0.0, 0.25, 0.5)


def write_home_files(pairs: list[SearchPair], folder: Path) -> dict[str, list[LabelledQuery]]:
    """Customers and one-message chats for every customer sentence; the questions, short and
    long, with the customers each expects."""
    customer_of: dict[str, str] = {}
    for pair in pairs:
        for text in (*pair.positives, *pair.hard_negatives):
            customer_of.setdefault(text, f"d{len(customer_of) + 1:04d}")
    with (folder / "customers.jsonl").open("w", encoding="utf-8") as customers:
        for customer in customer_of.values():
            record = {"id": customer, "email": f"{customer}@example.com", "first_name": "Dev"}
            customers.write(json.dumps(record) + "\n")
    with (folder / "transcripts.jsonl").open("w", encoding="utf-8") as transcripts:
        for number, (text, customer) in enumerate(customer_of.items()):
            # A chat as chats go: a greeting, the message, an agent's answer, thanks; the
            # greeting and the thanks weigh in the conversation's mean, as in real chats.
            turns = [
                ("customer", GREETINGS[number % len(GREETINGS)]),
                ("customer", text),
                ("agent", "Thanks for getting in touch! Let me check that for you."),
                ("customer", THANKS[number % len(THANKS)]),
            ]
            messages = [
                {
                    "id": f"{customer}-m{turn}",
                    "role": role,
                    "text": words,
                    "sent_at": f"2026-11-02T10:0{turn}:00+00:00",
                }
                for turn, (role, words) in enumerate(turns)
            ]
            chat = {"conversation_id": f"c-{customer}", "customer_id": customer}
            transcripts.write(json.dumps({**chat, "messages": messages}) + "\n")
    queries: dict[str, list[LabelledQuery]] = {"short": [], "long": []}
    for pair in pairs:
        expected = frozenset(customer_of[text] for text in pair.positives)
        queries["short" if pair.short else "long"].append(LabelledQuery(pair.question, expected))
    return queries


def rank_all(services: Services, encoder: Encoder, queries: list[LabelledQuery]) -> list[Ranked]:
    """Every customer the real search finds for each question at any relevance, best first:
    a threshold (or a margin under the best) then only cuts the list, so one search per
    question serves the whole sweep."""
    ranked = []
    with services.db.read() as session:
        for labelled in queries:
            matches = search_customers(
                session,
                query=labelled.query,
                encoder=encoder,
                store=services.store,
                limit=50,
                threshold=0.0,
            )
            ranked.append([(m.customer_id, m.score) for m in matches])
    return ranked


def cut(ranked: Ranked, threshold: float, margin: float | None) -> list[str]:
    """The customers search returns: at or over the threshold (and within the margin of the
    best, when one is set), the first K."""
    if not ranked:
        return []
    floor = threshold if margin is None else max(threshold, ranked[0][1] - margin)
    return [customer for customer, score in ranked if score >= floor][:K]


def figures(
    queries: list[LabelledQuery], ranked: list[Ranked], threshold: float, margin: float | None
) -> tuple[float, float]:
    """Recall@K over all expected customers, and unrelated customers per question."""
    expected = found = unrelated = 0
    for labelled, hits in zip(queries, ranked, strict=True):
        returned = set(cut(hits, threshold, margin))
        expected += len(labelled.expected)
        found += len(labelled.expected & returned)
        unrelated += len(returned - labelled.expected)
    return found / max(expected, 1), unrelated / max(len(queries), 1)


def sweep(services: Services, encoder: Encoder, queries: dict[str, list[LabelledQuery]]) -> None:
    """Recall@10 and unrelated per question over thresholds and margins; the best rule that
    keeps unrelated customers within the goal."""
    every = queries["short"] + queries["long"]
    ranked = rank_all(services, encoder, every)
    short = [q in queries["short"] for q in every]
    best = None
    for margin in MARGINS:
        print(f"margin under the best: {margin or 'none'}")
        print(f"{'threshold':>9}{'recall':>8}{'unrelated':>10}{'short':>8}{'long':>8}")
        for threshold in THRESHOLDS:
            recall, unrelated = figures(every, ranked, threshold, margin)
            parts = [
                figures(
                    [q for q, s in zip(every, short, strict=True) if s == want],
                    [r for r, s in zip(ranked, short, strict=True) if s == want],
                    threshold,
                    margin,
                )[0]
                for want in (True, False)
            ]
            print(
                f"{threshold:>9.2f}{recall:>8.3f}{unrelated:>10.2f}{parts[0]:>8.3f}{parts[1]:>8.3f}"
            )
            if unrelated <= GOAL_UNRELATED and (best is None or recall > best[2]):
                best = (threshold, margin, recall, unrelated)
    if best is None:
        print(f"no rule keeps unrelated customers at or under {GOAL_UNRELATED}")
    else:
        print(
            f"best with at most {GOAL_UNRELATED} unrelated per question: threshold {best[0]:.2f},"
            f" margin {best[1]} (recall {best[2]:.3f}, unrelated {best[3]:.2f})"
        )


def main() -> None:
    pairs = load_pairs()
    train, dev = dev_split(pairs)
    businesses = sorted({pair.business for pair in dev})
    print(f"{len(dev)} development questions over {', '.join(businesses)}")
    with tempfile.TemporaryDirectory(prefix="bench-search-dev-") as home:
        folder = Path(home)
        queries = write_home_files(dev, folder)
        settings = Settings(personalize_home=folder / "home", database_url=None, qdrant_url=None)
        services = build_services(settings)
        try:
            import_file(services.db, path=folder / "customers.jsonl", kind="customers")
            import_file(services.db, path=folder / "transcripts.jsonl", kind="transcripts")
            services.pipeline().run_until_idle()
            base = services.encoder
            assert isinstance(base, SentenceTransformerEncoder)
            # The shipped query side saw these businesses; this one, with its settings, did not.
            held_out = train_query_model(
                base,
                train,
                documents=document_vectors(base, pairs),
                seed=SEED,
                settings=QuerySettings(),
            )
            for weight in CONTEXT_WEIGHTS:
                service.CONTEXT_WEIGHT = weight
                print(f"\n== the conversation's weight: {weight} ==")
                print(f"the base encoder on the question (shipped threshold {RELEVANCE_THRESHOLD})")
                sweep(services, base, queries)
                print("\nthe query side trained without the development businesses")
                sweep(services, held_out, queries)
        finally:
            services.close()


if __name__ == "__main__":
    main()
