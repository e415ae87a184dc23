"""The few-shot intent classifier on small hand-made intents, with the real bundled encoder."""

import numpy as np
import pytest

from embeddings.encoder import Encoder
from engine.intents.classifier import (
    DEFAULT_THRESHOLD,
    IntentClassifier,
    IntentError,
    choose_threshold,
)

INTENTS = {
    "order_status": [
        "where is my order?",
        "my package hasn't arrived yet",
        "can you track my parcel",
        "when will my order be delivered",
        "it's been a week and nothing came",
        "has my order shipped",
    ],
    "return_item": [
        "I want to return these shoes",
        "how do I send this back",
        "the jacket doesn't fit, can I return it",
        "I'd like a refund for my purchase",
        "what is your return policy",
        "can I exchange this for another item",
    ],
    "discount_code": [
        "my promo code doesn't work",
        "do you have any coupons",
        "the discount wasn't applied at checkout",
        "is there a sale coming up",
        "I forgot to use my voucher",
        "can I get a student discount",
    ],
    "change_address": [
        "I need to change my delivery address",
        "I moved, please update my address",
        "can you ship it to my office instead",
        "wrong address on my order",
        "update the shipping address please",
        "send it to a different address",
    ],
}
HELD_OUT = {
    "when is my parcel going to get here": "order_status",
    "I would like to send the dress back for my money": "return_item",
    "the coupon code gives an error": "discount_code",
    "please deliver to my new flat instead": "change_address",
}
# Small talk used to calibrate, and different small talk to check the calibration on.
CALIBRATION_CHATTER = ["thanks, bye!", "ok", "hello?", "lol", "good morning", "you're great"]
CHATTER = ["thank you so much!", "hi there", "cool", "have a nice day"]


@pytest.fixture(scope="module")
def training(encoder: Encoder) -> tuple[list[str], np.ndarray, list[str]]:
    """The hand-made phrases, their vectors and labels."""
    texts = [text for phrases in INTENTS.values() for text in phrases]
    labels = [label for label, phrases in INTENTS.items() for _ in phrases]
    return texts, encoder.encode(texts), labels


@pytest.fixture(scope="module")
def classifier(training: tuple[list[str], np.ndarray, list[str]]) -> IntentClassifier:
    """A classifier fitted on the hand-made phrases (not calibrated)."""
    texts, vectors, labels = training
    return IntentClassifier.fit(texts=texts, vectors=vectors, labels=labels, seed=0)


def test_held_out_paraphrases_get_their_intent(
    classifier: IntentClassifier, encoder: Encoder
) -> None:
    texts = list(HELD_OUT)
    predictions = classifier.predict(texts=texts, vectors=encoder.encode(texts))
    assert [p.best for p in predictions] == list(HELD_OUT.values())
    assert all(p.label == p.best for p in predictions)  # confident enough at the default


def test_scores_are_probabilities_in_label_order(
    classifier: IntentClassifier, encoder: Encoder
) -> None:
    texts = list(HELD_OUT)
    scores = classifier.scores(texts=texts, vectors=encoder.encode(texts))
    assert classifier.labels == sorted(INTENTS)
    assert scores.shape == (len(texts), len(INTENTS))
    np.testing.assert_allclose(scores.sum(axis=1), 1.0)
    assert [classifier.labels[c] for c in scores.argmax(axis=1)] == list(HELD_OUT.values())


def test_small_talk_is_none_after_calibration(
    training: tuple[list[str], np.ndarray, list[str]], encoder: Encoder
) -> None:
    texts, vectors, labels = training
    model = IntentClassifier.fit(texts=texts, vectors=vectors, labels=labels)
    threshold = model.calibrate(
        out_of_scope_texts=CALIBRATION_CHATTER,
        out_of_scope_vectors=encoder.encode(CALIBRATION_CHATTER),
    )
    assert 0.0 < threshold < 1.0
    assert model.threshold == threshold
    chatter = model.predict(texts=CHATTER, vectors=encoder.encode(CHATTER))
    assert [p.label for p in chatter] == [None] * len(CHATTER)
    assert all(0.0 <= p.score < threshold and p.best in INTENTS for p in chatter)
    held_out = model.predict(texts=list(HELD_OUT), vectors=encoder.encode(list(HELD_OUT)))
    assert [p.label for p in held_out] == list(HELD_OUT.values())


def test_training_phrases_given_as_in_scope_are_cross_validated(
    classifier: IntentClassifier,
    training: tuple[list[str], np.ndarray, list[str]],
    encoder: Encoder,
) -> None:
    texts, vectors, _ = training
    chatter = encoder.encode(CALIBRATION_CHATTER)
    cross_validated = classifier.calibrate(
        out_of_scope_texts=CALIBRATION_CHATTER, out_of_scope_vectors=chatter
    )
    given = classifier.calibrate(
        in_scope_texts=texts,
        in_scope_vectors=vectors,
        out_of_scope_texts=CALIBRATION_CHATTER,
        out_of_scope_vectors=chatter,
    )
    # Scored by the full model each phrase would be its own nearest neighbour (confidence ~1).
    assert given == cross_validated


def test_same_seed_same_model(
    training: tuple[list[str], np.ndarray, list[str]], encoder: Encoder
) -> None:
    texts, vectors, labels = training
    chatter = encoder.encode(CALIBRATION_CHATTER)
    runs = []
    for _ in range(2):
        model = IntentClassifier.fit(texts=texts, vectors=vectors, labels=labels, seed=3)
        model.calibrate(out_of_scope_texts=CALIBRATION_CHATTER, out_of_scope_vectors=chatter)
        runs.append((model.threshold, model.scores(texts=CHATTER, vectors=encoder.encode(CHATTER))))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])


def test_unlabeled_pool_keeps_small_talk_out(
    training: tuple[list[str], np.ndarray, list[str]], encoder: Encoder
) -> None:
    texts, vectors, labels = training
    pool = [*CALIBRATION_CHATTER, "is my order on its way", "the voucher code is invalid"]
    model = IntentClassifier.fit(
        texts=texts,
        vectors=vectors,
        labels=labels,
        unlabeled_texts=pool,
        unlabeled_vectors=encoder.encode(pool),
    )
    held_out = model.predict(texts=list(HELD_OUT), vectors=encoder.encode(list(HELD_OUT)))
    assert [p.best for p in held_out] == list(HELD_OUT.values())
    assert model.threshold == DEFAULT_THRESHOLD
    assert all(
        p.label is None for p in model.predict(texts=CHATTER, vectors=encoder.encode(CHATTER))
    )


def test_choose_threshold_separates_and_takes_the_middle() -> None:
    assert choose_threshold([0.8, 0.9, 0.7], [0.1, 0.3, 0.2]) == pytest.approx(0.5)
    # One in-scope example below an out-of-scope one: the cut still keeps the best balance.
    cut = choose_threshold([0.9, 0.8, 0.25], [0.1, 0.3])
    assert 0.3 < cut < 0.8


def test_bad_input_is_refused(training: tuple[list[str], np.ndarray, list[str]]) -> None:
    texts, vectors, labels = training
    with pytest.raises(IntentError, match="two intents"):
        IntentClassifier.fit(texts=texts[:3], vectors=vectors[:3], labels=["a"] * 3)
    with pytest.raises(IntentError, match="one vector per text"):
        IntentClassifier.fit(texts=texts, vectors=vectors[:-1], labels=labels)
    with pytest.raises(IntentError, match="labels"):
        IntentClassifier.fit(texts=texts, vectors=vectors, labels=labels[:-1])
    model = IntentClassifier.fit(texts=texts[:7], vectors=vectors[:7], labels=labels[:7])
    with pytest.raises(IntentError, match="two phrases"):
        model.calibrate(out_of_scope_texts=["ok"], out_of_scope_vectors=vectors[:1])
    with pytest.raises(IntentError, match="out-of-scope"):
        choose_threshold([0.5], [])
