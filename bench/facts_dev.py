"""Fact extraction on the development split of the training corpus (the seven businesses
engine.facts.train_scorer holds out), the rules alone against the rules with a learned scorer
fitted, with the shipped settings, on the other 29 businesses only: where the scorer's settings
are chosen, never on tests/data.

A kept item counts as found when an extracted fact of its message holds its value or overlaps
its quote; a blocked span leaks when it shows whole in an extracted fact's quote or value.

    .venv/bin/python bench/facts_dev.py [--all]   (--all: every business, not just the dev)
"""

import argparse
import json
from collections import Counter
from dataclasses import replace

import numpy as np

from embeddings.encoder import SentenceTransformerEncoder
from engine.facts.extract import Extraction
from engine.facts.learned import SCORER_PATH
from engine.facts.train_scorer import (
    build_rows,
    dev_businesses,
    fit,
    fit_sensitive,
    training_files,
)
from engine.runtime import load_fact_extractor
from engine.settings import Settings
from engine.text.redact import redact
from engine.text.sentences import split_sentences


def found(item: dict[str, str], extraction: Extraction) -> bool:
    """Whether an extracted fact holds the kept item's value or overlaps its quote."""
    quote, value = item["quote"].lower(), item["value"].lower()
    for fact in extraction.facts:
        said = f"{fact.value} | {fact.quote.lower()}"
        if value in said or fact.quote.lower() in quote or quote in fact.quote.lower():
            return True
    return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--all", action="store_true", help="every business, not just the dev")
    args = parser.parse_args()
    rows = [
        json.loads(line)
        for path in training_files()
        for line in path.read_text(encoding="utf-8").splitlines()
    ]
    dev = dev_businesses([row["business"] for row in rows])
    rows = [r for r in rows if r["role"] == "customer" and (args.all or r["business"] in dev)]
    texts = [redact(row["text"]).text for row in rows]
    extractor = load_fact_extractor(Settings())
    encoder = SentenceTransformerEncoder()
    if not args.all:
        # The shipped scorer saw the dev businesses; this one, with its settings, did not.
        with np.load(SCORER_PATH, allow_pickle=False) as shipped:
            decay, threshold = float(shipped["weight_decay"]), float(shipped["threshold"])
            sensitive_threshold = float(shipped["sensitive_threshold"])
        training = build_rows(extractor, encoder, training_files())
        kept = np.asarray([b not in dev for b in training.businesses])
        kept_sentences = np.asarray([b not in dev for b in training.sentence_businesses])
        weights, bias = fit_sensitive(
            training.sentence_vectors[kept_sentences],
            training.sentence_sensitive[kept_sentences],
        )
        extractor.scorer = replace(
            fit(
                training.features[kept],
                training.labels[kept],
                weight_decay=decay,
                threshold=threshold,
            ),
            sensitive_weights=weights,
            sensitive_bias=bias,
            sensitive_threshold=sensitive_threshold,
        )
    vectors = []
    for text in texts:
        sentences = [s.text for s in split_sentences(text)]
        vectors.append(dict(enumerate(encoder.encode(sentences))))
    print(f"{len(rows)} customer messages of {'all' if args.all else ', '.join(sorted(dev))}")
    for name, extractions in (
        ("rules alone", extractor.extract(texts)),
        ("rules and the learned scorer", extractor.extract(texts, vectors)),
    ):
        allowed: Counter[str] = Counter()
        hit: Counter[str] = Counter()
        leaks = []
        for row, extraction in zip(rows, extractions, strict=True):
            for item in row["kept"]:
                allowed[item["category"]] += 1
                hit[item["category"]] += found(item, extraction)
            for blocked in row["blocked"]:
                span = blocked["text"].lower()
                for fact in extraction.facts:
                    if span in fact.quote.lower() or span in fact.value:
                        leaks.append((blocked["reason"], blocked["text"], fact.quote))
        total, got = sum(allowed.values()), sum(hit.values())
        per = ", ".join(f"{c} {hit[c]}/{allowed[c]}" for c in sorted(allowed))
        print(f"{name}: recall {got / total:.3f} ({got}/{total}); {len(leaks)} leaks; {per}")
        for reason, text, quote in leaks:
            print(f"  leak ({reason}): {text!r} in {quote!r}")


if __name__ == "__main__":
    main()
