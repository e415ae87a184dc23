"""Few-shot contrastive fine-tuning: pairing, what is trained, and that it pulls labels apart."""

import numpy as np
import pytest
import torch

from embeddings.encoder import EmbeddingError, Encoder, SentenceTransformerEncoder
from embeddings.finetune import FinetuneSettings, contrastive_finetune, pair_batches

PHRASES = {
    "card_arrival": [
        "my card still hasn't arrived",
        "when will I receive my new card",
        "I ordered a card two weeks ago and nothing came",
        "is my card in the post yet",
    ],
    "exchange_rate": [
        "what exchange rate do you use",
        "how much is a euro in pounds today",
        "is the currency conversion rate fair",
        "do you use the interbank rate",
    ],
    "lost_card": [
        "I lost my card",
        "my wallet was stolen with the card in it",
        "please block my card, it's gone",
        "someone took my card",
    ],
}
TEXTS = [text for texts in PHRASES.values() for text in texts]
LABELS = [label for label, texts in PHRASES.items() for _ in texts]
QUICK = FinetuneSettings(rounds=4, batch_size=3, learning_rate=1e-4)


def separation(vectors: np.ndarray, labels: list[str]) -> float:
    """Mean cosine similarity within labels minus that across labels."""
    similarity = vectors @ vectors.T
    same = np.equal.outer(labels, labels)
    np.fill_diagonal(same, False)
    different = ~np.equal.outer(labels, labels)
    return float(similarity[same].mean() - similarity[different].mean())


def test_pairs_share_a_label_and_batches_never_repeat_one() -> None:
    labels = ["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["lonely"]
    batches = pair_batches(labels, rounds=2, batch_size=2, seed=3)
    pairs = [pair for batch in batches for pair in batch]
    assert len(pairs) == 2 * 10  # every phrase with a partner is an anchor once per round
    assert all(labels[a] == labels[p] and a != p for a, p in pairs)
    assert all(len(batch) <= 2 for batch in batches)
    assert all(len({labels[a] for a, _ in batch}) == len(batch) for batch in batches)
    assert batches == pair_batches(labels, rounds=2, batch_size=2, seed=3)


def test_pairing_needs_a_label_with_two_phrases() -> None:
    with pytest.raises(EmbeddingError, match="two or more"):
        pair_batches(["a", "b", "c"], rounds=1, batch_size=4, seed=0)


def test_finetuning_trains_a_copy_of_the_top_layers_only(encoder: Encoder) -> None:
    assert isinstance(encoder, SentenceTransformerEncoder)
    before = encoder.encode(TEXTS)
    original = {name: p.detach().clone() for name, p in encoder.model.named_parameters()}
    tuned = contrastive_finetune(encoder, texts=TEXTS, labels=LABELS, seed=0, settings=QUICK)
    # The encoder the product embeds with is untouched.
    assert np.array_equal(encoder.encode(TEXTS), before)
    changed = {
        name
        for name, p in tuned.model.named_parameters()
        if not torch.equal(p.detach(), original[name])
    }
    assert changed and all(".layer.4." in n or ".layer.5." in n for n in changed)
    assert tuned.model_id.endswith("+finetuned") and tuned.dimension == encoder.dimension
    after = tuned.encode(TEXTS)
    assert np.allclose(np.linalg.norm(after, axis=1), 1.0, atol=1e-5)
    assert separation(after, LABELS) > separation(before, LABELS) + 0.05


def test_finetuning_refuses_mismatched_input(encoder: Encoder) -> None:
    assert isinstance(encoder, SentenceTransformerEncoder)
    with pytest.raises(EmbeddingError, match="3 texts but 2 labels"):
        contrastive_finetune(encoder, texts=TEXTS[:3], labels=LABELS[:2], seed=0)
    with pytest.raises(EmbeddingError, match="frozen_layers"):
        contrastive_finetune(
            encoder, texts=TEXTS, labels=LABELS, seed=0, settings=FinetuneSettings(frozen_layers=6)
        )
