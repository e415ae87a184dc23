"""The learned fact scorer: it reads chat grammar the rules miss, the gate still vetoes every
blocked reason, the shipped weights match the training data, and training is seeded."""

from pathlib import Path

import numpy as np
import pytest

from embeddings.encoder import Encoder
from engine.facts.extract import Extraction, FactExtractor
from engine.facts.learned import LABELS, SCORER_PATH, FactScorer, ScorerError
from engine.facts.train_scorer import _label, fit, training_digest, training_files
from engine.text.sentences import split_sentences

# The rules read none of these; each is a customer saying something about themselves.
READ_BY_THE_SCORER = [
    ("I mostly do v60 pour over", "v60"),
    ("I buy the house espresso for my taco truck", "house espresso"),
    ("I've been doing cold brew", "cold brew"),
    ("I mostly do v60 pour over, call me on [phone]", "v60"),
]
# What the gate blocks, whatever the scorer reads: someone else, a denial, a maybe, a question,
# something sensitive.
VETOED = [
    "our chairman wants navy",
    "my wife mostly does v60 pour over",
    "I don't do pour over",
    "if I did pour over I'd need a kettle",
    "do you do pour over kits?",
    "my son has asthma so we need a dust-free bag",
]


def _extract(extractor: FactExtractor, encoder: Encoder, text: str) -> Extraction:
    """Extract as the pipeline does: each sentence with its vector."""
    sentences = [s.text for s in split_sentences(text)]
    vectors = encoder.encode(sentences)
    return extractor.extract([text], [dict(enumerate(vectors))])[0]


@pytest.mark.parametrize(("text", "word"), READ_BY_THE_SCORER)
def test_the_scorer_keeps_facts_the_rules_miss(
    fact_extractor: FactExtractor, encoder: Encoder, text: str, word: str
) -> None:
    assert fact_extractor.extract([text])[0].facts == []  # the rules alone: nothing
    facts = _extract(fact_extractor, encoder, text).facts
    assert any(word in f.quote.lower() and ":learned-" in f.rule for f in facts), facts
    assert all("[phone]" not in f.quote for f in facts)


@pytest.mark.parametrize("text", VETOED)
def test_the_gate_vetoes_what_the_scorer_reads(
    fact_extractor: FactExtractor, encoder: Encoder, text: str
) -> None:
    assert _extract(fact_extractor, encoder, text).facts == []


def test_the_shipped_weights_were_trained_on_todays_training_data() -> None:
    with np.load(SCORER_PATH, allow_pickle=False) as data:
        trained_on = str(data["training_sha256"])
    assert trained_on == training_digest(training_files()), (
        "training/facts changed: rebuild the scorer with `make models`"
    )


def test_a_damaged_or_foreign_weights_file_is_refused(tmp_path: Path) -> None:
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ScorerError, match="cannot be read"):
        FactScorer.load(broken)
    other = tmp_path / "other.npz"
    with np.load(SCORER_PATH, allow_pickle=False) as data:
        arrays = {name: data[name] for name in data.files}
    np.savez(other, **{**arrays, "features": np.asarray("clause-features-0")})
    with pytest.raises(ScorerError, match="other features"):
        FactScorer.load(other)


def test_a_clause_is_labelled_with_the_quote_it_holds() -> None:
    kept = [(10, 30, "business")]
    assert _label(8, 32, kept) == "business"  # the clause holds the whole quote
    assert _label(12, 20, kept) == "business"  # the clause is half the quote or more
    assert _label(0, 11, kept) == "none"  # a word of overlap is not the quote
    assert _label(40, 50, kept) == "none"


def test_training_is_seeded() -> None:
    rng = np.random.default_rng(7)
    features = rng.normal(size=(60, 12)).astype(np.float32)
    labels = rng.integers(0, len(LABELS), size=60).astype(np.int64)
    first = fit(features, labels, weight_decay=0.01, threshold=0.3)
    second = fit(features, labels, weight_decay=0.01, threshold=0.3)
    assert np.array_equal(first.weights, second.weights)
    assert first.probabilities(features).shape == (60, len(LABELS))
