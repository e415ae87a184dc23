"""What classifies a message's intents: the built-in classifier plus the custom trackers."""

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from embeddings.encoder import Vectors
from engine.intents.classifier import IntentClassifier


@dataclass
class TrackerModel:
    """A custom intent: its example vectors and the similarity that counts as a match."""

    name: str
    vectors: Vectors
    threshold: float


@dataclass
class IntentModel:
    """What classifies intents: the built-in classifier plus the current trackers."""

    classifier: IntentClassifier
    trackers: list[TrackerModel] = field(default_factory=list)


def tracker_scores(
    trackers: Sequence[TrackerModel], vectors: Vectors
) -> list[tuple[TrackerModel, np.ndarray]]:
    """Per tracker, each vector's best cosine similarity to the tracker's examples."""
    return [(t, (vectors @ t.vectors.T).max(axis=1)) for t in trackers if len(vectors)]
